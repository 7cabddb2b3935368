"""The exceptions Headwater raises. Every error from the core is a ``HeadwaterError`` whose
message is the core's: which object, file, column or value is wrong."""

from __future__ import annotations

__all__ = ["HeadwaterError", "InvalidInputError", "NotFoundError", "StoreError"]


class HeadwaterError(Exception):
    """Base class of every error the Headwater core reports."""


class InvalidInputError(HeadwaterError, ValueError):
    """Definitions, data or arguments that are wrong: a bad type, a missing column, an
    unknown field, a malformed value. The message names what and where."""


class NotFoundError(HeadwaterError, LookupError):
    """A feature view, feature, feature service or push source that does not exist."""


class StoreError(HeadwaterError, OSError):
    """A file, the registry or an online or offline store could not be read or written."""

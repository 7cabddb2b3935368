"""Feast's module path feast.field, for imports written against Feast."""

from .definitions import Field  # noqa: F401

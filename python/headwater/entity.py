"""Feast's module path feast.entity, for imports written against Feast."""

from .definitions import Entity  # noqa: F401

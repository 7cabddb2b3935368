"""Feast's module path feast.aggregation, for imports written against Feast."""

from .definitions import Aggregation  # noqa: F401

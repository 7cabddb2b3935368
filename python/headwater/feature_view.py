"""Feast's module path feast.feature_view, for imports written against Feast."""

from .definitions import FeatureView  # noqa: F401

"""Feast's module path feast.feature_service, for imports written against Feast."""

from .definitions import FeatureService  # noqa: F401

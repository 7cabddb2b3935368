"""Feast's module path feast.on_demand_feature_view, for imports written against Feast."""

from .definitions import OnDemandFeatureView, on_demand_feature_view  # noqa: F401

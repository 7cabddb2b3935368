"""Headwater: a feature store with its own stream and batch engine, with Feast's Python API.

    from headwater import Entity, FeatureStore, FeatureView, Field, FileSource
    from headwater.types import Float32, Int64
"""

from . import types
from .definitions import (
    Aggregation,
    BatchFeatureView,
    ConflictPolicy,
    DataSource,
    Entity,
    FeatureService,
    FeatureView,
    FeatureViewProjection,
    Field,
    FileSource,
    KafkaSource,
    LabelView,
    OnDemandFeatureView,
    PushMode,
    PushSource,
    RequestSource,
    StreamFeatureView,
    batch_feature_view,
    on_demand_feature_view,
    stream_feature_view,
)
from .errors import HeadwaterError, InvalidInputError, NotFoundError, StoreError
from .feature_store import FeatureStore, OnlineResponse, RetrievalJob
from .value_type import ValueType

__version__ = "0.1.0"

__all__ = [
    "Aggregation",
    "BatchFeatureView",
    "ConflictPolicy",
    "DataSource",
    "Entity",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "FeatureViewProjection",
    "Field",
    "FileSource",
    "HeadwaterError",
    "InvalidInputError",
    "KafkaSource",
    "LabelView",
    "NotFoundError",
    "OnDemandFeatureView",
    "OnlineResponse",
    "PushMode",
    "PushSource",
    "RequestSource",
    "RetrievalJob",
    "StoreError",
    "StreamFeatureView",
    "ValueType",
    "batch_feature_view",
    "on_demand_feature_view",
    "stream_feature_view",
    "types",
]

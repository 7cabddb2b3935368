"""Definition objects with Feast's names and signatures. They hold what a definition file
holds; ``FeatureStore.apply`` and ``headwater apply`` hand them to the core, which validates
them exactly as it validates YAML (docs/definitions.md)."""

from __future__ import annotations

import base64
import enum
import os
import re
import sys
from datetime import timedelta
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .types import FeastType, from_name
from .value_type import ValueType

__all__ = [
    "Entity",
    "Field",
    "FileSource",
    "PushSource",
    "KafkaSource",
    "Aggregation",
    "FeatureView",
    "FeatureViewProjection",
    "FeatureService",
    "PushMode",
    "StreamFeatureView",
    "BatchFeatureView",
    "LabelView",
    "ConflictPolicy",
    "stream_feature_view",
    "batch_feature_view",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_location() -> Tuple[str, int]:
    """The first frame outside this package: where the user wrote the definition."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "", 0
    return frame.f_code.co_filename, frame.f_lineno


def _duration(value: Optional[timedelta], what: str) -> str:
    """A timedelta as a definition-file duration: ``1d``, ``90m``, ``250ms``, ``0``."""
    if value is None:
        return "0"
    if not isinstance(value, timedelta):
        raise TypeError(f"{what} must be a datetime.timedelta, not {type(value).__name__}")
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if micros < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    if micros == 0:
        return "0"
    for unit, size in (("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000),
                       ("s", 1_000_000), ("ms", 1_000)):
        if micros % size == 0:
            return f"{micros // size}{unit}"
    return f"{micros}us"


_DURATION_UNITS = {"d": 86_400_000_000, "h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000,
                   "ms": 1_000, "us": 1}


def _parse_duration(text: str) -> timedelta:
    """The inverse of _duration, for objects read back from the registry (``1h30m`` too)."""
    micros, number, i = 0, "", 0
    while i < len(text):
        if text[i].isdigit():
            number += text[i]
            i += 1
            continue
        unit = text[i:i + 2] if text[i:i + 2] in ("ms", "us") else text[i]
        micros += int(number) * _DURATION_UNITS[unit]
        number, i = "", i + len(unit)
    return timedelta(microseconds=micros)


def _tags(tags: Optional[Dict[str, str]], what: str) -> Dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise TypeError(f"{what}: tags must be a dict of str to str")
    return dict(tags)


def _name(name: Any, kind: str) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"{kind} needs a non-empty name (str), got {name!r}")
    return name


class _Definition:
    """What every definition has: a name, free-text fields, and where it was written."""

    name: str
    description: str
    tags: Dict[str, str]
    owner: str

    def __init__(self, name: str, description: str, tags: Optional[Dict[str, str]], owner: str) -> None:
        self.name = _name(name, type(self).__name__)
        self.description = description or ""
        self.tags = _tags(tags, f"{type(self).__name__} '{name}'")
        self.owner = owner or ""
        self._location = _caller_location()

    def _common(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        if self.tags:
            out["tags"] = self.tags
        if self.owner:
            out["owner"] = self.owner
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_definition() == self.to_definition()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))


class Entity(_Definition):
    """What features describe, identified by one join key column.

    ``Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)``. The join key
    defaults to the entity's name; without ``value_type`` the key's type is read from the data
    at apply (``ValueType.UNKNOWN`` until then), as Feast infers it.
    """

    join_keys: List[str]
    value_type: ValueType

    def __init__(self, *, name: str, join_keys: Optional[List[str]] = None,
                 value_type: Optional[ValueType] = None, description: str = "",
                 tags: Optional[Dict[str, str]] = None, owner: str = "") -> None:
        super().__init__(name, description, tags, owner)
        if join_keys is None:
            join_keys = [name]
        if isinstance(join_keys, str) or not all(isinstance(k, str) for k in join_keys):
            raise TypeError(f"Entity '{name}': join_keys must be a list of str")
        if value_type is not None and not isinstance(value_type, ValueType):
            raise TypeError(f"Entity '{name}': value_type must be a ValueType, not {value_type!r}")
        self.join_keys = list(join_keys)
        self.value_type = value_type or ValueType.UNKNOWN

    @property
    def join_key(self) -> str:
        return self.join_keys[0] if self.join_keys else ""

    def to_definition(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "join_keys": self.join_keys}
        if self.value_type != ValueType.UNKNOWN:
            out["value_type"] = self.value_type.name
        out.update(self._common())
        return out


class Field:
    """A feature: ``Field(name="conv_rate", dtype=Float32)``."""

    def __init__(self, *, name: str, dtype: FeastType, description: str = "",
                 tags: Optional[Dict[str, str]] = None) -> None:
        if not isinstance(dtype, FeastType):
            raise TypeError(f"Field '{name}': dtype must be a type from headwater.types, not {dtype!r}")
        self.name = _name(name, "Field")
        self.dtype = dtype
        # Kept for Feast compatibility; the registry does not store per-field text.
        self.description = description
        self.tags = _tags(tags, f"Field '{name}'")

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, dtype={self.dtype!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Field) and (other.name, other.dtype) == (self.name, self.dtype)

    def __hash__(self) -> int:
        return hash((self.name, self.dtype))


class DataSource(_Definition):
    """Base class of sources."""

    timestamp_field: str = ""


class FileSource(DataSource):
    """Parquet data: a file, or a directory of ``*.parquet`` files read in name order.

    ``path`` is relative to the repository, absolute, or an S3 URI (``s3://bucket/prefix``, whose
    bucket ``s3_endpoint_override`` may serve); ``timestamp_field`` holds each row's
    event time, ``created_timestamp_column`` breaks ties, ``field_mapping`` renames columns.
    """

    def __init__(self, *, path: str, name: Optional[str] = None, timestamp_field: str = "",
                 created_timestamp_column: str = "", field_mapping: Optional[Dict[str, str]] = None,
                 description: str = "", tags: Optional[Dict[str, str]] = None, owner: str = "",
                 file_format: Any = None, event_timestamp_column: str = "",
                 s3_endpoint_override: Optional[str] = None, connection_ref: Any = None) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"FileSource: path must be a str, not {type(path).__name__}")
        # Feast names an unnamed file source by its path; a name here is an identifier, so the
        # path's other characters become '_' ("data/orders.parquet": "data_orders_parquet").
        default = re.sub(r"[^A-Za-z0-9_-]", "_", os.fspath(path)).lstrip("-_")[-128:] or "file"
        super().__init__(name or default, description, tags, owner)
        if connection_ref is not None:
            raise ValueError(f"FileSource '{self.name}': connection_ref is not supported; give "
                             "the path (local or s3://bucket/...) and s3_endpoint_override")
        self.path = os.fspath(path)
        # The endpoint serving an s3:// path's bucket (else AWS_ENDPOINT_URL, else AWS).
        self.s3_endpoint_override = s3_endpoint_override or ""
        # Feast's older name for timestamp_field.
        self.timestamp_field = timestamp_field or event_timestamp_column
        self.created_timestamp_column = created_timestamp_column or ""
        self.field_mapping = _tags(field_mapping, f"FileSource '{self.name}' field_mapping")
        self.file_format = file_format

    def to_definition(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "type": "file", "path": self.path,
                               "timestamp_field": self.timestamp_field}
        if self.created_timestamp_column:
            out["created_timestamp_column"] = self.created_timestamp_column
        if self.s3_endpoint_override:
            out["s3_endpoint_override"] = self.s3_endpoint_override
        if self.field_mapping:
            out["field_mapping"] = self.field_mapping
        out.update(self._common())
        return out


def _source_name(source: Any, what: str) -> str:
    if isinstance(source, DataSource):
        return source.name
    if isinstance(source, str) and source:
        return source
    raise TypeError(f"{what} must be a source object or its name, not {source!r}")


class PushSource(DataSource):
    """Rows pushed by ``FeatureStore.push`` (or POST /push); their history is appended to
    ``batch_source``, a FileSource whose path is a directory."""

    def __init__(self, *, name: str, batch_source: Union[DataSource, str],
                 description: str = "", tags: Optional[Dict[str, str]] = None, owner: str = "",
                 watermark_delay: Optional[timedelta] = None) -> None:
        super().__init__(name, description, tags, owner)
        self.batch_source = batch_source
        self.watermark_delay = _duration(watermark_delay, f"PushSource '{name}' watermark_delay")

    def to_definition(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "type": "push",
                               "batch_source": _source_name(self.batch_source, f"PushSource '{self.name}' batch_source")}
        if self.watermark_delay != "0":
            out["watermark_delay"] = self.watermark_delay
        out.update(self._common())
        return out


class KafkaSource(DataSource):
    """JSON messages from a Kafka topic, as Feast's KafkaSource; ``batch_source`` holds their
    history, ``watermark_delay_threshold`` is how far the watermark trails the newest event."""

    def __init__(self, *, name: str, kafka_bootstrap_servers: str, topic: str,
                 batch_source: Union[DataSource, str], timestamp_field: str = "",
                 message_format: Any = "json", watermark_delay_threshold: Optional[timedelta] = None,
                 description: str = "", tags: Optional[Dict[str, str]] = None, owner: str = "") -> None:
        super().__init__(name, description, tags, owner)
        self.kafka_bootstrap_servers = kafka_bootstrap_servers
        self.topic = topic
        self.batch_source = batch_source
        self.timestamp_field = timestamp_field
        fmt = message_format if isinstance(message_format, str) else type(message_format).__name__
        if fmt.lower() not in ("json", "jsonformat"):
            raise ValueError(f"KafkaSource '{name}': only JSON messages are supported, not {fmt}")
        self.message_format = "json"
        self.watermark_delay = _duration(watermark_delay_threshold,
                                         f"KafkaSource '{name}' watermark_delay_threshold")

    def to_definition(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "type": "kafka",
                               "bootstrap_servers": self.kafka_bootstrap_servers,
                               "topic": self.topic, "format": self.message_format,
                               "batch_source": _source_name(self.batch_source, f"KafkaSource '{self.name}' batch_source")}
        if self.watermark_delay != "0":
            out["watermark_delay"] = self.watermark_delay
        out.update(self._common())
        return out


class RequestSource(DataSource):
    """Values a caller sends with an online request, as Feast's RequestSource:
    ``RequestSource(name="vals_to_add", schema=[Field(name="val_to_add", dtype=Int64)])``.
    On-demand feature views read them; in training data they are columns of the entity rows."""

    def __init__(self, *, name: str, schema: List[Field], description: str = "",
                 tags: Optional[Dict[str, str]] = None, owner: str = "") -> None:
        super().__init__(name, description, tags, owner)
        if not schema or not all(isinstance(f, Field) for f in schema):
            raise TypeError(f"RequestSource '{name}': schema must be a non-empty list of Field")
        self.schema = list(schema)

    def to_definition(self) -> Dict[str, Any]:
        return {"name": self.name, "type": "request",
                "schema": [{"name": f.name, "dtype": str(f.dtype)} for f in self.schema],
                **self._common()}


class Aggregation:
    """One windowed aggregate of a stream feature view: ``function`` (count, sum, min, max,
    mean, last, stddev) of ``column`` over HOP windows of ``time_window`` sliding by
    ``slide_interval`` (default: the window)."""

    def __init__(self, *, column: str, function: str, time_window: timedelta,
                 slide_interval: Optional[timedelta] = None, name: str = "") -> None:
        self.column = _name(column, "Aggregation column")
        self.function = _name(function, "Aggregation function")
        self.time_window = time_window
        self.slide_interval = slide_interval
        self.name = name or ""
        _duration(time_window, f"Aggregation of '{column}' time_window")
        if slide_interval is not None:
            _duration(slide_interval, f"Aggregation of '{column}' slide_interval")

    def to_definition(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"column": self.column, "function": self.function,
                               "time_window": _duration(self.time_window, "time_window")}
        if self.slide_interval is not None:
            out["slide_interval"] = _duration(self.slide_interval, "slide_interval")
        if self.name:
            out["name"] = self.name
        return out

    def __repr__(self) -> str:
        return f"Aggregation({self.to_definition()})"


class FeatureViewProjection:
    """Some features of a view, for a FeatureService: ``view[["conv_rate", "acc_rate"]]``."""

    def __init__(self, view: "FeatureView", features: List[str]) -> None:
        self.name = view.name
        self.view = view
        self.features = list(features)

    def to_definition(self) -> Union[str, Dict[str, List[str]]]:
        return {self.name: self.features} if self.features else self.name


class FeatureView(_Definition):
    """Features of entities from one source.

    ``FeatureView(name, entities, schema, ttl, source, online, tags, owner, description)``; with
    ``aggregations`` it is a stream feature view whose features are windowed aggregates.
    """

    def __init__(self, *, name: str, source: Union[DataSource, str],
                 schema: Optional[List[Field]] = None, entities: Optional[List[Union[Entity, str]]] = None,
                 ttl: Optional[timedelta] = timedelta(0), online: bool = True,
                 offline: Optional[bool] = None, description: str = "",
                 tags: Optional[Dict[str, str]] = None, owner: str = "",
                 aggregations: Optional[List[Aggregation]] = None,
                 allowed_lateness: Optional[timedelta] = None, org: str = "",
                 enable_validation: bool = False, version: str = "latest",
                 mode: Any = None, sink_source: Any = None, enabled: bool = True) -> None:
        super().__init__(name, description, tags, owner)
        # Feast's org, enable_validation and mode (of a view without a transformation) change
        # nothing in Headwater; versions, sinks and disabled views are not there.
        if version not in ("latest", "", None) or sink_source is not None or enabled is not True:
            raise ValueError(f"FeatureView '{name}': version, sink_source and enabled=False are "
                             "not supported")
        if isinstance(source, FeatureView) or isinstance(source, list):
            raise ValueError(f"FeatureView '{name}': a view over other feature views is not "
                             "supported; use an on-demand feature view")
        self.source = source
        self.entities = list(entities or [])
        for entity in self.entities:
            if not isinstance(entity, (Entity, str)):
                raise TypeError(f"FeatureView '{name}': entities must be Entity objects or names, not {entity!r}")
        self.schema = list(schema or [])
        for field in self.schema:
            if not isinstance(field, Field):
                raise TypeError(f"FeatureView '{name}': schema must be a list of Field, not {field!r}")
        self.ttl = ttl if ttl is not None else timedelta(0)
        _duration(self.ttl, f"FeatureView '{name}' ttl")
        if not isinstance(online, bool):
            raise TypeError(f"FeatureView '{name}': online must be True or False")
        self.online = online
        self.offline = offline
        self.aggregations = list(aggregations or [])
        for aggregation in self.aggregations:
            if not isinstance(aggregation, Aggregation):
                raise TypeError(f"FeatureView '{name}': aggregations must be Aggregation objects")
        self.allowed_lateness = allowed_lateness
        _source_name(source, f"FeatureView '{name}' source")

    def _entity_key_fields(self) -> Dict[str, Field]:
        """Schema fields that are join keys of the view's entities: Feast lists them in
        ``schema`` too. They are not features; their dtype types an entity that omits one."""
        keys = {key for e in self.entities if isinstance(e, Entity) for key in e.join_keys}
        return {f.name: f for f in self.schema if f.name in keys}

    @property
    def features(self) -> List[Field]:
        return self.schema

    @property
    def entity_names(self) -> List[str]:
        return [e.name if isinstance(e, Entity) else e for e in self.entities]

    def __getitem__(self, features: List[str]) -> FeatureViewProjection:
        if isinstance(features, str) or not all(isinstance(f, str) for f in features):
            raise TypeError(f"FeatureView '{self.name}'[...] takes a list of feature names")
        return FeatureViewProjection(self, features)

    def to_definition(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "entities": self.entity_names,
                               "source": _source_name(self.source, "source"),
                               "ttl": _duration(self.ttl, "ttl"), "online": self.online}
        keys = self._entity_key_fields()
        features = [f for f in self.schema if f.name not in keys]
        if features:
            out["schema"] = [{"name": f.name, "dtype": str(f.dtype)} for f in features]
        if self.aggregations:
            out["aggregations"] = [a.to_definition() for a in self.aggregations]
        if self.allowed_lateness is not None:
            out["allowed_lateness"] = _duration(self.allowed_lateness, "allowed_lateness")
        if self.offline is not None:
            out["offline"] = bool(self.offline)
        out.update(self._common())
        return out


def _is_identity(udf: Callable[[Any], Any]) -> bool:
    """Whether ``udf`` only returns its first argument (``def f(df): return df``)."""
    import dis

    code = getattr(udf, "__code__", None)
    if code is None or code.co_argcount < 1:
        return False
    steps = [i for i in dis.get_instructions(udf) if i.opname not in ("RESUME", "NOP", "CACHE")]
    return ([i.opname for i in steps] in (["LOAD_FAST", "RETURN_VALUE"], ["RETURN_LOCAL"])
            and steps[0].argval == code.co_varnames[0])


def _no_transformation(kind: str, name: str, udf: Any, feature_transformation: Any) -> None:
    """Headwater's stream and batch engines read a view's columns as they are; Feast's per-view
    Python, Spark or Ray transformations have no place to run there."""
    if feature_transformation is not None or (udf is not None and not _is_identity(udf)):
        raise ValueError(f"{kind} '{name}': its udf transforms the source's rows, which "
                         "Headwater's engines do not run; write the rows transformed, or compute "
                         "the features in an on-demand feature view (docs/on_demand.md)")


class StreamFeatureView(FeatureView):
    """Feast's StreamFeatureView: a feature view over a KafkaSource or PushSource, with windowed
    ``aggregations`` or the latest row per key. A ``udf`` must return its input unchanged."""

    def __init__(self, *, name: str, source: Union[DataSource, str], udf: Any = None,
                 udf_string: str = "", feature_transformation: Any = None,
                 timestamp_field: str = "", stream_engine: Any = None,
                 enable_tiling: bool = False, tiling_hop_size: Optional[timedelta] = None,
                 **view: Any) -> None:
        _no_transformation("StreamFeatureView", name, udf, feature_transformation)
        super().__init__(name=name, source=source, **view)
        self.udf = udf
        self.timestamp_field = timestamp_field


class BatchFeatureView(FeatureView):
    """Feast's BatchFeatureView: a feature view over a batch source. A ``udf`` must return its
    input unchanged."""

    def __init__(self, *, name: str, source: Union[DataSource, str], udf: Any = None,
                 udf_string: str = "", feature_transformation: Any = None,
                 batch_engine: Any = None, **view: Any) -> None:
        _no_transformation("BatchFeatureView", name, udf, feature_transformation)
        super().__init__(name=name, source=source, **view)
        self.udf = udf


def stream_feature_view(*, source: Any = None, **view: Any) -> Callable[[Callable[[Any], Any]], StreamFeatureView]:
    """Feast's decorator: the function (which must return its input) names a StreamFeatureView."""
    def decorator(udf: Callable[[Any], Any]) -> StreamFeatureView:
        made = StreamFeatureView(name=udf.__name__, source=source, udf=udf, **view)
        made._location = _caller_location()
        return made
    return decorator


def batch_feature_view(*, source: Any = None, name: Optional[str] = None,
                       **view: Any) -> Callable[[Callable[[Any], Any]], BatchFeatureView]:
    """Feast's decorator: the function (which must return its input) names a BatchFeatureView."""
    def decorator(udf: Callable[[Any], Any]) -> BatchFeatureView:
        made = BatchFeatureView(name=name or udf.__name__, source=source, udf=udf, **view)
        made._location = _caller_location()
        return made
    return decorator


class ConflictPolicy(enum.Enum):
    """Feast's label conflict policies; Headwater reads labels last-write-wins."""

    LAST_WRITE_WINS = "last_write_wins"
    LABELER_PRIORITY = "labeler_priority"
    MAJORITY_VOTE = "majority_vote"


class LabelView(FeatureView):
    """Feast's LabelView: labels pushed per entity, read as a feature view whose newest row wins
    (``ConflictPolicy.LAST_WRITE_WINS``); ``labeler_field`` is one of its features."""

    def __init__(self, *, name: str, source: Union[DataSource, str], labeler_field: str = "labeler",
                 conflict_policy: ConflictPolicy = ConflictPolicy.LAST_WRITE_WINS,
                 reference_feature_view: Optional[str] = None, **view: Any) -> None:
        if conflict_policy != ConflictPolicy.LAST_WRITE_WINS:
            raise ValueError(f"LabelView '{name}': Headwater reads labels last-write-wins; "
                             f"{conflict_policy} is not supported")
        super().__init__(name=name, source=source, **view)
        self.labeler_field = labeler_field


class FeatureService(_Definition):
    """A named set of features for one model: ``FeatureService(name, features=[view,
    view[["a", "b"]]])``."""

    def __init__(self, *, name: str,
                 features: List[Union[FeatureView, FeatureViewProjection, "OnDemandFeatureView"]],
                 description: str = "", tags: Optional[Dict[str, str]] = None, owner: str = "",
                 logging_config: Any = None, precompute_online: bool = False) -> None:
        super().__init__(name, description, tags, owner)
        # Feast's feature logging (logging_config) is not in Headwater: accepted, nothing logged.
        self.logging_config = logging_config
        if precompute_online:
            raise ValueError(f"FeatureService '{name}': precompute_online is not supported")
        self.features = list(features)
        for feature in self.features:
            if not isinstance(feature, (FeatureView, FeatureViewProjection, OnDemandFeatureView)):
                raise TypeError(f"FeatureService '{name}': features must be feature views, "
                                f"on-demand views or projections such as view[['a']], not "
                                f"{feature!r}")

    def to_definition(self) -> Dict[str, Any]:
        items: List[Any] = [f.to_definition() if isinstance(f, FeatureViewProjection) else f.name
                            for f in self.features]
        return {"name": self.name, "features": items, **self._common()}


class OnDemandFeatureView(_Definition):
    """Features computed when they are read, from features of other views and request values,
    the same way online and in training data (docs/on_demand.md). Headwater's native
    ``mode="expression"`` runs in C++ everywhere (server, CLI, SDK):
    ``OnDemandFeatureView(name="transformed_conv_rate", sources=[driver_stats, vals_to_add],
    schema=[Field(name="conv_rate_plus_val1", dtype=Float64)],
    expressions={"conv_rate_plus_val1": "conv_rate + val_to_add"})``.
    Feast's ``mode="pandas"`` (a function of a DataFrame) and ``mode="python"`` (a function of a
    dict of lists) take ``udf``, usually through the ``@on_demand_feature_view`` decorator; the
    SDK runs the function in the caller's process. Feast's ``mode="substrait"`` takes
    ``substrait_plan`` (a serialized Substrait plan's bytes), or ``udf``: a function of an Ibis
    table, compiled to a plan here (needs ``ibis-framework`` and ``ibis-substrait``); the plan
    runs in C++ everywhere, like an expression."""

    def __init__(self, *, name: str,
                 sources: List[Union["FeatureView", FeatureViewProjection, RequestSource]],
                 schema: List[Field], expressions: Optional[Dict[str, str]] = None,
                 mode: str = "expression", udf: Optional[Callable[[Any], Any]] = None,
                 udf_string: str = "", substrait_plan: bytes = b"",
                 write_to_online_store: bool = False,
                 description: str = "", tags: Optional[Dict[str, str]] = None,
                 owner: str = "") -> None:
        super().__init__(name, description, tags, owner)
        if mode not in ("expression", "substrait", "pandas", "python"):
            raise ValueError(f"OnDemandFeatureView '{name}': mode '{mode}' is not supported "
                             "(supported: expression, substrait, pandas, python)")
        if mode == "expression" and (udf is not None or expressions is None):
            raise ValueError(f"OnDemandFeatureView '{name}': mode 'expression' takes "
                             "expressions (one per feature) and no udf")
        if mode == "substrait" and (expressions or (udf is None) == (not substrait_plan)):
            raise ValueError(f"OnDemandFeatureView '{name}': mode 'substrait' takes a "
                             "substrait_plan (bytes) or a udf (a function of an Ibis table), "
                             "and no expressions")
        if mode in ("pandas", "python") and (expressions or (udf is None and not udf_string)):
            raise ValueError(f"OnDemandFeatureView '{name}': mode '{mode}' takes a udf (a "
                             "function) and no expressions")
        for source in sources:
            if not isinstance(source, (FeatureView, FeatureViewProjection, RequestSource)):
                raise TypeError(f"OnDemandFeatureView '{name}': sources must be feature views, "
                                f"projections or request sources, not {source!r}")
        self.sources = list(sources)
        self.schema = list(schema)
        if mode == "pandas" and udf is not None and expressions is None:
            # Column arithmetic in pandas is an expression: the server and the CLI compute it.
            expressions = _pandas_udf_as_expressions(_udf_source(udf, name),
                                                     [f.name for f in schema])
            if expressions is not None:
                mode, udf = "expression", None
        self.expressions = dict(expressions or {})
        self.mode = mode
        self.substrait_plan = bytes(substrait_plan)
        if mode == "substrait" and udf is not None:
            self.substrait_plan = _ibis_to_substrait(udf, self.sources, name)
            udf = None
        self.udf_string = udf_string or (_udf_source(udf, name) if udf is not None else "")
        self._udf = udf
        self.write_to_online_store = write_to_online_store

    @property
    def features(self) -> List[Field]:
        return self.schema

    def __getitem__(self, features: List[str]) -> FeatureViewProjection:
        """Some of its features, for a FeatureService: ``view[["conv_rate_plus_val1"]]``."""
        return FeatureViewProjection(self, features)  # type: ignore[arg-type]

    @property
    def udf(self) -> Optional[Callable[[Any], Any]]:
        """The function of a pandas or python view (loaded from its text when first used)."""
        if self._udf is None and self.udf_string:
            self._udf = _load_udf(self.udf_string, self.name)
        return self._udf

    def to_definition(self) -> Dict[str, Any]:
        sources: List[Any] = [s.to_definition() if isinstance(s, FeatureViewProjection) else s.name
                              for s in self.sources]
        out: Dict[str, Any] = {"name": self.name, "sources": sources,
                               "schema": [{"name": f.name, "dtype": str(f.dtype)} for f in self.schema],
                               "mode": self.mode}
        if self.mode == "expression":
            out["expressions"] = self.expressions
        elif self.mode == "substrait":
            out["substrait_plan"] = base64.b64encode(self.substrait_plan).decode("ascii")
        else:
            out["udf"] = self.udf_string
        if self.write_to_online_store:
            out["write_to_online_store"] = True
        out.update(self._common())
        return out


def on_demand_feature_view(*, sources: List[Any], schema: List[Field], mode: str = "pandas",
                           name: str = "", write_to_online_store: bool = False,
                           description: str = "", tags: Optional[Dict[str, str]] = None,
                           owner: str = "", **_feast_only: Any) -> Callable[[Callable[[Any], Any]], OnDemandFeatureView]:
    """Feast's decorator: the function becomes an on-demand view of its name, run by the SDK.
    ``mode="pandas"``: ``f(inputs: pd.DataFrame) -> pd.DataFrame``; ``mode="python"``:
    ``f(inputs: dict of lists) -> dict of lists``. The inputs hold each source feature as
    ``feature`` and ``view__feature``, the request values, and the entity columns.
    ``mode="substrait"``: ``f(inputs: ibis.Table) -> ibis.Table`` over the source features and
    request values by name, compiled once to a Substrait plan that C++ runs everywhere."""
    def decorator(udf: Callable[[Any], Any]) -> OnDemandFeatureView:
        view = OnDemandFeatureView(name=name or udf.__name__, sources=sources, schema=schema,
                                   mode=mode, udf=udf, write_to_online_store=write_to_online_store,
                                   description=description, tags=tags, owner=owner)
        view._location = _caller_location()
        return view
    return decorator


# Feast's input types for an Ibis table of a view's inputs, by Headwater type name.
_IBIS_TYPES = {"Int32": "int32", "Int64": "int64", "Float32": "float32", "Float64": "float64",
               "String": "string", "Bool": "boolean", "UnixTimestamp": "timestamp"}


def _ibis_to_substrait(function: Callable[[Any], Any], sources: List[Any], view: str) -> bytes:
    """Feast's substrait mode: ``function`` of an Ibis table named ``t`` holding the view's
    inputs (each source feature and request value by its name), compiled to a plan."""
    try:
        import ibis
        from ibis_substrait.compiler.core import SubstraitCompiler
    except ImportError as error:
        raise ValueError(f"OnDemandFeatureView '{view}': mode 'substrait' compiles an Ibis "
                         "function, which needs ibis-framework and ibis-substrait "
                         f"(pip install ibis-framework ibis-substrait): {error}") from error
    fields: List[Any] = []
    for source in sources:
        if isinstance(source, RequestSource):
            listed = source.schema
        elif isinstance(source, FeatureViewProjection):
            listed = [f for f in source.view.schema
                      if not source.features or f.name in source.features]
        else:
            listed = source.schema
        fields += [(f.name, _IBIS_TYPES[str(f.dtype)]) for f in listed
                   if str(f.dtype) in _IBIS_TYPES and f.name not in dict(fields)]
    try:
        expression = function(ibis.table(ibis.schema(fields), "t"))
        return bytes(SubstraitCompiler().compile(expression).SerializeToString())
    except Exception as error:  # noqa: BLE001 - the user's function; say which view it is
        raise ValueError(f"OnDemandFeatureView '{view}': its Ibis function does not compile to "
                         f"a Substrait plan: {type(error).__name__}: {error}") from error


# The functions of on-demand views defined in this process, by their source text: a view read
# back from the registry runs the very function (with its module's imports) when it can.
_UDFS: Dict[str, Callable[[Any], Any]] = {}


def _udf_source(udf: Callable[[Any], Any], view: str) -> str:
    """A function's source without its decorators, as kept in the registry."""
    import inspect
    import textwrap
    try:
        source = textwrap.dedent(inspect.getsource(udf))
    except (OSError, TypeError) as error:
        raise ValueError(f"OnDemandFeatureView '{view}': the source of its udf cannot be read "
                         f"({error}); define it in a file") from error
    lines = source.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(("def ", "async def "))), 0)
    text = "\n".join(lines[start:]) + "\n"
    _UDFS[text] = udf
    return text


def _pandas_udf_as_expressions(source: str, features: List[str]) -> Optional[Dict[str, str]]:
    """The expressions a pandas function computes when it is only column arithmetic, as in
    Feast's template::

        def f(inputs):
            df = pd.DataFrame()
            df["a_plus_b"] = inputs["a"] + inputs["b"]
            return df

    Each feature of ``features`` assigned once from ``+``, ``-``, ``*``, unary ``-``, numbers
    and input columns by name; None for anything else (the function then runs in Python)."""
    import ast
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    function = tree.body[0] if tree.body else None
    if not isinstance(function, ast.FunctionDef) or len(function.args.args) != 1 \
            or function.decorator_list:
        return None
    inputs = function.args.args[0].arg
    operators = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}

    def column(node: ast.AST, frame: str) -> Optional[str]:  # frame["name"]
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id == frame and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str) and node.slice.value.isidentifier():
            return node.slice.value
        return None

    def expression(node: ast.AST) -> Optional[str]:
        if isinstance(node, ast.BinOp) and type(node.op) in operators:
            left, right = expression(node.left), expression(node.right)
            if left is None or right is None:
                return None
            return f"({left} {operators[type(node.op)]} {right})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = expression(node.operand)
            return None if operand is None else f"(-{operand})"
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return repr(node.value)
        name = column(node, inputs)
        return name if name is not None and "__" not in name else None

    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    if len(body) < 2 or not isinstance(body[0], ast.Assign) or len(body[0].targets) != 1:
        return None
    frame, made = body[0].targets[0], body[0].value
    if not (isinstance(frame, ast.Name) and isinstance(made, ast.Call) and not made.args
            and not made.keywords and isinstance(made.func, ast.Attribute)
            and made.func.attr == "DataFrame"):
        return None
    if not (isinstance(body[-1], ast.Return) and isinstance(body[-1].value, ast.Name)
            and body[-1].value.id == frame.id):
        return None
    out: Dict[str, str] = {}
    for statement in body[1:-1]:
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            return None
        feature = column(statement.targets[0], frame.id)
        text = expression(statement.value)
        if feature is None or text is None or feature in out:
            return None
        out[feature] = text[1:-1] if text.startswith("(") and text.endswith(")") else text
    return out if sorted(out) == sorted(features) else None


def _load_udf(source: str, view: str) -> Callable[[Any], Any]:
    """The function a registry's udf text defines: the one defined in this process, or the text
    run with pandas (``pd``), numpy (``np``) and math imported."""
    if source in _UDFS:
        return _UDFS[source]
    import math
    import numpy as np
    import pandas as pd
    namespace: Dict[str, Any] = {"pd": pd, "pandas": pd, "np": np, "numpy": np, "math": math,
                                 "Any": Any, "Dict": Dict, "List": List}
    try:
        exec(compile(source, f"<udf of on-demand view '{view}'>", "exec"), namespace)
    except Exception as error:  # noqa: BLE001 - the user's text; say which view it came from
        raise ValueError(f"on-demand feature view '{view}': its udf does not load: "
                         f"{type(error).__name__}: {error}") from error
    functions = [v for k, v in namespace.items() if callable(v) and getattr(v, "__code__", None)
                 and v.__code__.co_filename.startswith("<udf")]
    if len(functions) != 1:
        raise ValueError(f"on-demand feature view '{view}': its udf must define one function")
    _UDFS[source] = functions[0]
    return functions[0]


class PushMode(enum.Enum):
    """Where ``FeatureStore.push`` writes: the online store, the offline store, or both."""

    ONLINE = "online"
    OFFLINE = "offline"
    ONLINE_AND_OFFLINE = "online_and_offline"


_SECTIONS = (("entities", Entity), ("sources", DataSource), ("feature_views", FeatureView),
             ("feature_services", FeatureService), ("on_demand_feature_views", OnDemandFeatureView))


def _referenced(objects: Iterable[Any]) -> List[Any]:
    """The objects plus the entities and sources they reference as objects (Feast registers a
    view's inline source too), each once."""
    out: List[Any] = []
    seen: set = set()

    def add(obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, FeatureView):
            for entity in obj.entities:
                if isinstance(entity, Entity):
                    add(entity)
            if isinstance(obj.source, DataSource):
                add(obj.source)
        if isinstance(obj, (PushSource, KafkaSource)) and isinstance(obj.batch_source, DataSource):
            add(obj.batch_source)
        if isinstance(obj, OnDemandFeatureView):
            for source in obj.sources:
                if isinstance(source, (FeatureView, RequestSource)):
                    add(source)
        out.append(obj)

    for obj in objects:
        add(obj)
    return out


def to_yaml(objects: Sequence[Any], file_name: str = "") -> Tuple[str, List[int]]:
    """Definition YAML for ``objects`` (one object per line, JSON flow style) and, per YAML line,
    the line of ``file_name`` that created the object on it (0 when none)."""
    import json

    for obj in objects:
        if not isinstance(obj, (Entity, DataSource, FeatureView, FeatureService, OnDemandFeatureView)):
            raise TypeError(f"cannot apply {obj!r}: expected Entity, FileSource, PushSource, "
                            "KafkaSource, RequestSource, FeatureView, FeatureService or "
                            "OnDemandFeatureView")
    objects = _referenced(objects)
    lines: List[str] = []
    python_lines: List[int] = []
    for section, kind in _SECTIONS:
        members = [o for o in objects if isinstance(o, kind)]
        if not members:
            continue
        lines.append(f"{section}:")
        python_lines.append(0)
        for obj in members:
            lines.append("  - " + json.dumps(obj.to_definition(), ensure_ascii=False))
            where, line = obj._location
            python_lines.append(line if file_name and os.path.abspath(where) == os.path.abspath(file_name) else 0)
    return "\n".join(lines) + "\n", python_lines


def from_registry(kind: str, data: Dict[str, Any]) -> Any:
    """Rebuilds a definition object from its registry JSON (FeatureStore.list_* and get_*)."""
    common = {"description": data.get("description", ""), "tags": data.get("tags") or {},
              "owner": data.get("owner", "")}
    if kind == "entities":
        return Entity(name=data["name"], join_keys=[data["join_key"]],
                      value_type=ValueType[_VALUE_TYPES.get(data["value_type"], data["value_type"])], **common)
    if kind == "sources":
        if data["type"] == "request":
            return RequestSource(name=data["name"], schema=[Field(name=f["name"], dtype=from_name(f["dtype"]))
                                                            for f in data["schema"]], **common)
        if data["type"] == "push":
            return PushSource(name=data["name"], batch_source=data["batch_source"],
                              watermark_delay=_parse_duration(data.get("watermark_delay", "0")), **common)
        if data["type"] == "kafka":
            return KafkaSource(name=data["name"], kafka_bootstrap_servers=data["bootstrap_servers"],
                               topic=data["topic"], batch_source=data["batch_source"],
                               watermark_delay_threshold=_parse_duration(data.get("watermark_delay", "0")),
                               **common)
        return FileSource(name=data["name"], path=data["path"], timestamp_field=data["timestamp_field"],
                          created_timestamp_column=data.get("created_timestamp_column", ""),
                          field_mapping=data.get("field_mapping") or None,
                          s3_endpoint_override=data.get("s3_endpoint_override") or None, **common)
    if kind == "feature_views":
        aggregations = [Aggregation(column=a["column"], function=a["function"],
                                    time_window=_parse_duration(a["time_window"]),
                                    slide_interval=_parse_duration(a["slide_interval"]), name=a.get("name", ""))
                        for a in data.get("aggregations", [])]
        return FeatureView(name=data["name"], entities=list(data["entities"]), source=data["source"],
                           schema=[Field(name=f["name"], dtype=from_name(f["dtype"])) for f in data["features"]],
                           ttl=_parse_duration(data.get("ttl", "0")), online=data.get("online", True),
                           aggregations=aggregations, **common)
    if kind == "feature_services":
        service = FeatureService(name=data["name"], features=[], **common)
        service.features = [_StoredProjection(p["view"], p.get("features", [])) for p in data["features"]]
        return service
    if kind == "on_demand_feature_views":
        view = OnDemandFeatureView(name=data["name"], sources=[],
                                   schema=[Field(name=f["name"], dtype=from_name(f["dtype"]))
                                           for f in data["features"]],
                                   expressions=dict(data["expressions"]) if data["mode"] == "expression" else None,
                                   mode=data["mode"], udf_string=data.get("udf", ""),
                                   substrait_plan=base64.b64decode(data.get("substrait_plan", "")),
                                   write_to_online_store=data.get("write_to_online_store", False),
                                   **common)
        view.sources = [_StoredProjection(p["view"], p.get("features", [])) for p in data["sources"]]
        return view
    raise ValueError(f"unknown registry section {kind}")


class _StoredProjection(FeatureViewProjection):
    def __init__(self, view: str, features: List[str]) -> None:
        self.name = view
        self.features = list(features)


_VALUE_TYPES = {"Int64": "INT64", "Int32": "INT32", "String": "STRING", "Bytes": "BYTES"}

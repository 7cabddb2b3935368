"""``FeatureStore``: Feast's SDK entry point over the Headwater core. Data crosses into C++ and
back as Arrow (the C stream interface), and the core runs without the GIL."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import pyarrow as pa

from . import _headwater, _udf_views
from .definitions import (
    DataSource,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    PushMode,
    from_registry,
    to_yaml,
)
from .errors import InvalidInputError, NotFoundError

__all__ = ["FeatureStore", "RetrievalJob", "OnlineResponse"]


class _Stream:
    """A C stream capsule from the core, offered to pyarrow through __arrow_c_stream__."""

    def __init__(self, capsule: Any) -> None:
        self._capsule = capsule

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._capsule


def _table(capsule: Any) -> pa.Table:
    return pa.table(_Stream(capsule))


def _local_times_to_utc(frame: Any, pd: Any) -> Any:
    """A frame whose zone-less datetime columns are read as local time, as Python reads naive
    datetimes (``datetime.now()``, Feast's quickstart frames), and made UTC. Arrow tables and
    files keep their own rule: a timestamp without a zone is UTC."""
    naive = [c for c in frame.columns if pd.api.types.is_datetime64_dtype(frame[c].dtype)
             and getattr(frame[c].dtype, "tz", None) is None]
    if not naive:
        return frame
    from dateutil import tz  # a pandas dependency; follows TZ and daylight saving time
    frame = frame.copy()
    for column in naive:
        frame[column] = frame[column].dt.tz_localize(
            tz.tzlocal(), ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    return frame


def _arrow_input(data: Any, what: str) -> Any:
    """A pandas frame as a pyarrow table; Arrow-capable objects as they are."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(_local_times_to_utc(data, pd), preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return data
    raise InvalidInputError(f"{what} must be a pandas DataFrame, a pyarrow Table or an object "
                            f"with __arrow_c_stream__, not {type(data).__name__}")


def _micros(value: datetime, what: str) -> int:
    """A datetime as epoch microseconds. A naive datetime is local time — what
    ``datetime.now()`` returns — read as Python's ``datetime.timestamp()`` reads it, so that
    ``end_date=datetime.now()`` means now wherever the caller is (Feast reads it as UTC, which is
    hours off east or west of Greenwich)."""
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.astimezone(timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _features(features: Union[Sequence[str], FeatureService], what: str) -> tuple:
    """(references, feature service name) from Feast's `features` argument."""
    if isinstance(features, FeatureService):
        return [], features.name
    if isinstance(features, str) or not all(isinstance(f, str) for f in features):
        raise InvalidInputError(f"{what}: features must be a list of 'view:feature' strings or "
                                "a FeatureService")
    return list(features), ""


@contextlib.contextmanager
def _batch_memory() -> Iterator[None]:
    """Transparent huge pages off while training data is computed and converted, then the
    process's own setting back: gigabytes touched once pay for zeroing 2 MiB pages (measured at
    10M rows x 13 columns: join 4.7 -> 3.7 s, to_df 1.45 -> 0.38 s; core/memory.h)."""
    before = _headwater.set_transparent_huge_pages_disabled(True)
    try:
        yield
    finally:
        _headwater.set_transparent_huge_pages_disabled(before)


class RetrievalJob:
    """Point-in-time-correct training data; computed on the first ``to_df`` or ``to_arrow``."""

    def __init__(self, store: "_headwater.Store", entity_df: Any, references: List[str],
                 service: str, full_feature_names: bool,
                 udf_plan: Optional[_udf_views.UdfPlan] = None) -> None:
        self._store = store
        self._udf_plan = udf_plan
        self._entity_df = entity_df
        self._references = references
        self._service = service
        self._full_feature_names = full_feature_names
        self._result: Optional[pa.Table] = None

    def to_arrow(self) -> pa.Table:
        with _batch_memory():
            return self._compute()

    def _compute(self) -> pa.Table:
        if self._result is None and self._udf_plan is not None:
            plan = self._udf_plan
            entities = pa.table(self._entity_df)
            table = (_table(self._store.historical(entities, plan.references, "", True))
                     if plan.references else entities)
            self._result = plan.run(table, entities, self._full_feature_names, online=False)
        if self._result is None:
            self._result = _table(self._store.historical(
                self._entity_df, self._references, self._service, self._full_feature_names))
        return self._result

    def to_df(self) -> "Any":
        """The result as a pandas DataFrame (timestamps as UTC datetimes)."""
        with _batch_memory():
            return self._compute().to_pandas()


class OnlineResponse:
    """Online feature values: the entity columns, then one column per feature; values that
    are missing, null or older than the view's ttl are None."""

    def __init__(self, result: Any) -> None:
        self._result = result  # an _headwater.OnlineResult, or a pyarrow Table

    def to_dict(self) -> Dict[str, List[Any]]:
        if isinstance(self._result, pa.Table):
            values = self._result.to_pydict()
            for name, column in zip(self._result.column_names, self._result.columns):
                if isinstance(column.type, pa.JsonType):
                    values[name] = [None if v is None else json.loads(v) for v in values[name]]
            return values
        values = self._result.to_dict()
        slow = self._result.pyarrow_columns
        if slow:  # timestamps, lists and documents, which pyarrow turns into Python objects
            table = self.to_arrow()
            for name in slow:
                column = table.column(name)
                values[name] = column.to_pylist()
                if isinstance(column.type, pa.JsonType):  # Json features: their documents
                    values[name] = [None if v is None else json.loads(v) for v in values[name]]
        return values

    def to_df(self) -> "Any":
        return self.to_arrow().to_pandas()

    def to_arrow(self) -> pa.Table:
        return pa.table(self._result)


def _kind_of(obj: Any) -> str:
    """The registry's name for an object's kind."""
    for cls, kind in ((Entity, "entity"), (DataSource, "data_source"),
                      (FeatureView, "feature_view"), (FeatureService, "feature_service"),
                      (OnDemandFeatureView, "on_demand_feature_view")):
        if isinstance(obj, cls):
            return kind
    raise InvalidInputError(f"cannot delete {obj!r}: not an Entity, data source, FeatureView, "
                            "FeatureService or OnDemandFeatureView")


class FeatureStore:
    """A feature repository (the directory holding feature_store.yaml), as in Feast."""

    def __init__(self, repo_path: Union[str, os.PathLike] = ".") -> None:
        self.repo_path = os.fspath(repo_path)
        self._store = _headwater.Store(self.repo_path)

    @property
    def project(self) -> str:
        return self._store.project

    @property
    def config(self) -> Any:
        """The settings ``feature_store.yaml`` resolved to, read as Feast's RepoConfig is
        (``store.config.online_store.type``): project, provider, registry, online_store,
        offline_store, batch_engine and stream_engine, each store with its type and path."""
        def namespace(value: Any) -> Any:
            if isinstance(value, dict):
                return SimpleNamespace(**{k: namespace(v) for k, v in value.items()})
            return value
        return namespace(self._store.config)

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stops stream pipelines this store started (with a checkpoint) and releases the online
        store, so another process (``headwater serve``, the CLI) may open it for writing."""
        self._store.close()

    # Definitions -----------------------------------------------------------------------------

    def apply(self, objects: Any, objects_to_delete: Optional[List[Any]] = None,
              partial: bool = True) -> None:
        """Adds or updates these objects (and the entities and sources they reference) in the
        registry and removes ``objects_to_delete``; others stay. Prints what changed."""
        objects = objects if isinstance(objects, (list, tuple)) else [objects]
        yaml, _ = to_yaml(list(objects))
        remove = [(_kind_of(obj), obj.name) for obj in objects_to_delete or []]
        report, _ = self._store.apply(yaml, False, remove)
        print(report, end="")

    def plan(self, objects: Any) -> str:
        """What ``apply(objects)`` would change, changing nothing."""
        yaml, _ = to_yaml(objects if isinstance(objects, (list, tuple)) else [objects])
        report, _ = self._store.apply(yaml, True)
        return report

    def _udf_plan(self, references: List[str], service: str) -> Optional[_udf_views.UdfPlan]:
        if not self._store.has_udf_views():
            return None
        return _udf_views.plan(self._registry(), references, service)

    def _registry(self) -> Dict[str, Any]:
        return json.loads(self._store.registry_json())

    def _list(self, section: str) -> List[Any]:
        return [from_registry(section, data) for data in self._registry().get(section, [])]

    def _get(self, section: str, name: str, kind: str) -> Any:
        for data in self._registry().get(section, []):
            if data["name"] == name:
                return from_registry(section, data)
        raise NotFoundError(f"unknown {kind} '{name}'")

    def list_feature_views(self) -> List[FeatureView]:
        return self._list("feature_views")

    def get_feature_view(self, name: str) -> FeatureView:
        return self._get("feature_views", name, "feature view")

    def list_entities(self) -> List[Entity]:
        return self._list("entities")

    def get_entity(self, name: str) -> Entity:
        return self._get("entities", name, "entity")

    def list_data_sources(self) -> List[DataSource]:
        return self._list("sources")

    def get_data_source(self, name: str) -> DataSource:
        return self._get("sources", name, "data source")

    def list_feature_services(self) -> List[FeatureService]:
        return self._list("feature_services")

    def get_feature_service(self, name: str) -> FeatureService:
        return self._get("feature_services", name, "feature service")

    def list_on_demand_feature_views(self) -> List[OnDemandFeatureView]:
        return self._list("on_demand_feature_views")

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        return self._get("on_demand_feature_views", name, "on-demand feature view")

    def teardown(self) -> None:
        """Removes the online store's data and the registry."""
        print(self._store.teardown(), end="")

    # Reads -------------------------------------------------------------------------------------

    def get_historical_features(self, entity_df: Any,
                                features: Union[Sequence[str], FeatureService],
                                full_feature_names: bool = False) -> RetrievalJob:
        """Joins features onto ``entity_df`` (join keys, ``event_timestamp`` and any other
        columns, such as labels) with Feast's point-in-time rule. A string is a Flink SQL query
        over the file sources (each a table of its name), run on batch_engine's cluster."""
        references, service = _features(features, "get_historical_features")
        if isinstance(entity_df, str):
            entity_df = _table(self._store.query_entity_rows(entity_df))
        return RetrievalJob(self._store, _arrow_input(entity_df, "entity_df"), references,
                            service, full_feature_names,
                            self._udf_plan(references, service))

    def get_online_features(self, features: Union[Sequence[str], FeatureService],
                            entity_rows: Any, full_feature_names: bool = False) -> OnlineResponse:
        """The latest values of ``features`` for ``entity_rows``: a list of dicts
        (``[{"driver_id": 1001}]``), a dict of lists, a DataFrame or an Arrow table."""
        # (The core checks the references: this runs on every call.)
        references, service = (([], features.name) if isinstance(features, FeatureService)
                               else (features, ""))
        # One C++ call; None when it could not answer and the registry has views of a Python
        # function (a read naming one): those run here, around a C++ read of the rest.
        if isinstance(entity_rows, list):
            result = self._store.online_rows(entity_rows, references, service,
                                             full_feature_names, True)
        else:
            entities: Any = (pa.table(entity_rows) if isinstance(entity_rows, dict)
                             else _arrow_input(entity_rows, "entity_rows"))
            result = self._store.online(entities, references, service, full_feature_names, True)
        if result is not None:
            return OnlineResponse(result)
        entities = (pa.Table.from_pylist(entity_rows) if isinstance(entity_rows, list)
                    else pa.table(entity_rows if isinstance(entity_rows, dict)
                                  else _arrow_input(entity_rows, "entity_rows")))
        plan = self._udf_plan(references, service)
        if plan is None:  # the failure was not about those views: raise it
            return OnlineResponse(self._store.online(entities, references, service,
                                                     full_feature_names))
        table = (pa.table(self._store.online(entities, plan.references, "", True))
                 if plan.references else entities)
        return OnlineResponse(plan.run(table, entities, full_feature_names))

    # Writes ------------------------------------------------------------------------------------

    def push(self, push_source_name: str, df: Any, allow_registry_cache: bool = True,
             to: PushMode = PushMode.ONLINE, idempotency_key: Optional[str] = None) -> None:
        """Writes ``df`` to the views fed by the push source: online, offline (appended to its
        batch source) or both. Stream views aggregate the rows into their windows.

        With ``idempotency_key`` (1-255 visible ASCII characters, e.g. a UUID), pushing the same
        rows again with the same key within 24 hours writes nothing twice, however the first
        attempt ended; the key with other rows raises. Without one a push is at-least-once."""
        if not isinstance(to, PushMode):
            raise InvalidInputError(f"to must be a PushMode, not {to!r}")
        self._store.push(push_source_name, _arrow_input(df, "df"), to.value,
                         idempotency_key or "")

    def write_to_online_store(self, feature_view_name: str, df: Any,
                              allow_registry_cache: bool = True) -> None:
        """Writes ``df`` (join keys, the source's timestamp column, features) to the online
        store; a row older than the stored one for its key is skipped."""
        self._store.write_to_online_store(feature_view_name, _arrow_input(df, "df"))

    def materialize(self, start_date: datetime, end_date: datetime,
                    feature_views: Optional[List[str]] = None) -> None:
        """Loads the latest values with event time in [start_date, end_date) into the online
        store, for the named views or every online view."""
        start, end = _micros(start_date, "start_date"), _micros(end_date, "end_date")
        if start >= end:
            raise InvalidInputError(f"start_date ({start_date}) must be before end_date ({end_date})")
        print(self._store.materialize(start, end, list(feature_views or [])), end="")

    def materialize_incremental(self, end_date: datetime,
                                feature_views: Optional[List[str]] = None) -> None:
        """Materializes each view from where its last run ended (or its oldest row) to
        ``end_date``."""
        end = _micros(end_date, "end_date")
        print(self._store.materialize(None, end, list(feature_views or [])), end="")

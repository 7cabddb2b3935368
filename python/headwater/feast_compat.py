"""Runs code written for Feast with Headwater in Feast's place: ``import feast`` and
``from feast.<module> import <name>`` give Headwater's objects, whatever module Feast keeps
them in. ``headwater apply`` runs definition files this way, so a Feast repository applies as
it is, with no ``feast`` package installed. A script runs the same way with

    python -m headwater.feast_compat test_workflow.py [ARGS...]

or by calling ``install()`` before its first ``import feast``. A name Headwater has no
equivalent for fails to import with Python's usual ImportError.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import types as _types
from typing import Any, Dict, List, Optional, Sequence

from . import types
from .value_type import ValueType


class Project:
    """Feast's Project object. The project is ``feature_store.yaml``'s ``project``; a Project
    in a definition file is accepted and registers nothing."""

    def __init__(self, *, name: str, description: str = "", tags: Optional[Dict[str, str]] = None,
                 owner: str = "", **_timestamps: Any) -> None:
        self.name = name
        self.description = description
        self.tags = dict(tags or {})
        self.owner = owner


class FileLoggingDestination:
    """Feast's feature-logging destination. Headwater does not log served features: accepted,
    nothing is written."""

    def __init__(self, *, path: str, s3_endpoint_override: str = "",
                 partition_by: Optional[List[str]] = None) -> None:
        self.path = path
        self.partition_by = list(partition_by or [])


class LoggingConfig:
    """Feast's feature-logging configuration of a FeatureService (accepted, nothing logged)."""

    def __init__(self, destination: Any, sample_rate: float = 1.0) -> None:
        self.destination = destination
        self.sample_rate = sample_rate


class ParquetFormat:
    """Feast's file format for a FileSource: Headwater reads Parquet."""


class JsonFormat:
    """Feast's message format for a KafkaSource: Headwater reads JSON."""

    def __init__(self, schema_json: str = "") -> None:
        self.schema_json = schema_json


def _parquet_source(kind: str, name: Optional[str], path: Optional[str], format_key: str,
                    file_format: Any, extra: Dict[str, Any], **common: Any) -> Any:
    """A FileSource for a Spark or Ray source over Parquet files; anything else is refused."""
    from .definitions import FileSource

    given = {key: value for key, value in extra.items() if value not in (None, "", {}, [])}
    if given or not path or file_format not in (None, "parquet", "PARQUET"):
        what = ", ".join(sorted(given)) or (f"{format_key}={file_format!r}" if path else "no path")
        raise ValueError(f"{kind} '{name or path}': Headwater reads {kind}s over Parquet files "
                         f"(path=..., Parquet); not {what}")
    return FileSource(name=name, path=path, **common)


def SparkSource(*, name: Optional[str] = None, path: Optional[str] = None,
                file_format: Any = None, table: Optional[str] = None,
                query: Optional[str] = None, date_partition_column: Optional[str] = None,
                date_partition_column_format: Optional[str] = None, **common: Any) -> Any:
    """Feast's Spark offline store source. Over Parquet files (``path``, ``file_format=
    "parquet"``) it is a FileSource: Headwater's engine reads the files Spark would."""
    return _parquet_source("SparkSource", name, path, "file_format", file_format,
                           dict(table=table, query=query, date_partition_column=
                                date_partition_column, date_partition_column_format=
                                date_partition_column_format), **common)


def RaySource(*, name: Optional[str] = None, path: Optional[str] = None,
              reader_type: str = "parquet", reader_options: Optional[Dict[str, Any]] = None,
              **common: Any) -> Any:
    """Feast's Ray offline store source. Over Parquet files (``reader_type="parquet"``) it is a
    FileSource: Headwater's engine reads the files Ray would."""
    return _parquet_source("RaySource", name, path, "reader_type", reader_type,
                           dict(reader_options=reader_options), **common)


def _names() -> Dict[str, Any]:
    """Everything the headwater package offers, the types, and Feast's no-op objects."""
    import headwater

    names: Dict[str, Any] = {name: getattr(types, name) for name in types.__all__}
    names.update({name: getattr(headwater, name) for name in headwater.__all__})
    names.update(ValueType=ValueType, Project=Project,
                 LoggingConfig=LoggingConfig, FileLoggingDestination=FileLoggingDestination,
                 ParquetFormat=ParquetFormat, JsonFormat=JsonFormat, types=types,
                 SparkSource=SparkSource, RaySource=RaySource)
    return names


# Feast's modules definition files and scripts import from (feast 0.67).
_MODULES = {"feast", "feast.aggregation", "feast.batch_feature_view", "feast.data_format",
            "feast.data_source", "feast.entity", "feast.feature_logging", "feast.feature_service",
            "feast.feature_store", "feast.feature_view", "feast.feature_view_projection",
            "feast.field", "feast.infra", "feast.infra.offline_stores",
            "feast.infra.offline_stores.file_source", "feast.infra.offline_stores.contrib",
            "feast.infra.offline_stores.contrib.spark_offline_store",
            "feast.infra.offline_stores.contrib.spark_offline_store.spark_source",
            "feast.infra.offline_stores.contrib.ray_offline_store",
            "feast.infra.offline_stores.contrib.ray_offline_store.ray_source", "feast.labeling",
            "feast.labeling.conflict_policy", "feast.labeling.label_view",
            "feast.on_demand_feature_view", "feast.project", "feast.stream_feature_view",
            "feast.types", "feast.value_type"}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of Feast's modules with modules of Headwater's names."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: Any = None) -> Any:
        if fullname not in _MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> _types.ModuleType:
        module = _types.ModuleType(spec.name, f"Headwater in the place of Feast's {spec.name}")
        names = _names()

        def lookup(name: str) -> Any:
            if name in names:
                return names[name]
            raise AttributeError(f"module '{spec.name}' has no attribute '{name}': Headwater has "
                                 f"no equivalent of Feast's {name}")

        module.__getattr__ = lookup  # type: ignore[attr-defined]
        module.__path__ = []  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: _types.ModuleType) -> None:
        pass


_FINDER = _Finder()


def install() -> None:
    """From now on in this process, ``import feast`` gives Headwater (a ``feast`` package
    installed beside it is not used)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    for name in [n for n in sys.modules if n == "feast" or n.startswith("feast.")]:
        spec = getattr(sys.modules[name], "__spec__", None)
        if not isinstance(getattr(spec, "loader", None), _Finder):
            del sys.modules[name]


def main(argv: List[str]) -> int:
    if not argv:
        print("usage: python -m headwater.feast_compat SCRIPT.py [ARGS...]", file=sys.stderr)
        return 2
    install()
    sys.argv = list(argv)
    # As `python SCRIPT.py` does: the script's directory comes first on the path.
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

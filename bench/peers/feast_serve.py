"""Runs Feast's Python feature server over the benchmark data: builds a Feast repository in DIR
(once: apply, then materialize into its SQLite online store), then `feast serve`.

Usage: feast_serve.py DIR FEATURES_PARQUET PORT WORKERS
"""
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64
from feast.value_type import ValueType

directory, features_path, port, workers = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if not (directory / "online.db").exists():
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "feature_store.yaml").write_text(
        "project: bench\nregistry: registry.db\nprovider: local\n"
        "online_store: {type: sqlite, path: online.db}\noffline_store: {type: file}\n"
        "entity_key_serialization_version: 3\n")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(Path(features_path).resolve()), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    view = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(days=0),
                       schema=[Field(name=f"f{i}", dtype=Float64) for i in range(10)],
                       source=source, online=True)
    store = FeatureStore(repo_path=str(directory))
    store.apply([driver, view])
    store.materialize(start_date=datetime(2024, 4, 1, tzinfo=timezone.utc),
                      end_date=datetime(2024, 7, 1, tzinfo=timezone.utc))
feast = Path(sys.executable).parent / "feast"
os.chdir(directory)
os.execv(str(feast), [str(feast), "serve", "-h", "127.0.0.1", "-p", port, "--workers", workers])

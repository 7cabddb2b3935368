"""Feast's get_historical_features with its file offline store, on the same data.

Builds a Feast repository in a temporary directory over the benchmark's features.parquet, applies
it, and times get_historical_features(...).to_df() plus writing the result to Parquet.
"""
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64
from feast.value_type import ValueType

entities_path, features_path, output, ttl_days = sys.argv[1:5]
names = [f"f{i}" for i in range(10)]
with tempfile.TemporaryDirectory() as repo:
    Path(repo, "feature_store.yaml").write_text(
        "project: bench\nregistry: registry.db\nprovider: local\n"
        "online_store: {type: sqlite, path: online.db}\noffline_store: {type: file}\n"
        "entity_key_serialization_version: 3\n")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(Path(features_path).resolve()), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    view = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(days=int(ttl_days)),
                       schema=[Field(name=n, dtype=Float64) for n in names], source=source)
    store = FeatureStore(repo_path=repo)
    store.apply([driver, view])
    entity_df = pd.read_parquet(entities_path)
    started = time.perf_counter()
    frame = store.get_historical_features(
        entity_df=entity_df, features=[f"driver_stats:{n}" for n in names]).to_df()
    frame.to_parquet(output)
    print(f"feast: {time.perf_counter() - started:.3f} s for {len(frame)} rows", file=sys.stderr)

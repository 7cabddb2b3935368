"""get_online_features from Python, one script for both SDKs: only the imports and the store
configuration differ. Run with .venv's Python for Headwater and .venv-bench's for Feast.

Usage: online_sdk.py headwater|feast FEATURES_PARQUET ITERATIONS
Applies a 10-feature view over the benchmark data (ttl 0, so 2024 data is served), materializes
it, then times get_online_features(...).to_dict() for 1 and 100 entity rows of 10 features.
Prints JSON: per case p50/p99 in microseconds and calls per second.
"""
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

engine, features_path, iterations = sys.argv[1], Path(sys.argv[2]).resolve(), int(sys.argv[3])
if engine == "feast":
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64
    from feast.value_type import ValueType
    CONFIG = ("project: bench\nregistry: registry.db\nprovider: local\n"
              "online_store: {type: sqlite, path: online.db}\noffline_store: {type: file}\n"
              "entity_key_serialization_version: 3\n")
else:
    from headwater import Entity, FeatureStore, FeatureView, Field, FileSource
    from headwater.types import Float64
    from headwater.value_type import ValueType
    CONFIG = ("project: bench\nregistry: registry.json\nprovider: local\n"
              "online_store: {type: rocksdb, path: online}\noffline_store: {type: file}\n")

names = [f"f{i}" for i in range(10)]
references = [f"driver_stats:{n}" for n in names]
keys = np.unique(pq.read_table(features_path, columns=["driver_id"]).column(0).to_numpy())
rng = np.random.default_rng(7)
out = {"engine": engine, "keys": int(len(keys))}
with tempfile.TemporaryDirectory() as repo:
    Path(repo, "feature_store.yaml").write_text(CONFIG)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(name="stats", path=str(features_path), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    view = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(0),
                       schema=[Field(name=n, dtype=Float64) for n in names], source=source,
                       online=True)
    store = FeatureStore(repo_path=repo)
    store.apply([driver, source, view])
    started = time.perf_counter()
    store.materialize(start_date=datetime(2024, 4, 1, tzinfo=timezone.utc),
                      end_date=datetime(2024, 7, 1, tzinfo=timezone.utc))
    out["materialize_seconds"] = time.perf_counter() - started
    for rows in (1, 100):
        requests = [[{"driver_id": int(k)} for k in rng.choice(keys, rows)]
                    for _ in range(iterations + 50)]
        check = store.get_online_features(features=references, entity_rows=requests[0]).to_dict()
        assert all(v is not None for v in check["f0"]), "a benchmark key has no online value"
        latencies = []
        for i, entity_rows in enumerate(requests):
            t0 = time.perf_counter_ns()
            store.get_online_features(features=references, entity_rows=entity_rows).to_dict()
            if i >= 50:  # warm-up excluded
                latencies.append((time.perf_counter_ns() - t0) / 1000)
        latencies.sort()
        out[f"{rows}x10"] = {
            "p50_us": statistics.median(latencies),
            "p99_us": latencies[int(len(latencies) * 0.99) - 1],
            "calls_per_second": 1e6 / statistics.mean(latencies),
        }
print(json.dumps(out))

"""Feast's materialize on the benchmark data, into its SQLite or Redis online store.

Usage: feast_materialize.py FEATURES_PARQUET sqlite|redis [REDIS_PORT]
Prints the seconds materialize took and the rows it read.
"""
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64
from feast.value_type import ValueType

features_path, store_type = sys.argv[1], sys.argv[2]
names = [f"f{i}" for i in range(10)]
with tempfile.TemporaryDirectory() as repo:
    online = ("online_store: {type: sqlite, path: online.db}\n" if store_type == "sqlite" else
              f"online_store: {{type: redis, connection_string: '127.0.0.1:{sys.argv[3]}'}}\n")
    Path(repo, "feature_store.yaml").write_text(
        "project: bench\nregistry: registry.db\nprovider: local\n" + online +
        "offline_store: {type: file}\nentity_key_serialization_version: 3\n")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(Path(features_path).resolve()), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    view = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(days=0),
                       schema=[Field(name=n, dtype=Float64) for n in names], source=source,
                       online=True)
    store = FeatureStore(repo_path=repo)
    store.apply([driver, view])
    rows = pq.ParquetFile(features_path).metadata.num_rows
    started = time.perf_counter()
    store.materialize(start_date=datetime(2024, 4, 1, tzinfo=timezone.utc),
                      end_date=datetime(2024, 7, 1, tzinfo=timezone.utc))
    print(f"feast {store_type}: {time.perf_counter() - started:.3f} s for {rows} rows",
          file=sys.stderr)

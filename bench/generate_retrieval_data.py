"""Generates the historical-retrieval benchmark data set (deterministic for a given seed).

Feature rows: driver_id (Int64), event_timestamp and created (timestamp[us, UTC]), f0..f9
(Float64), over --days days, written in random time order (no help from sorting). Entity rows:
driver_id, event_timestamp, label, over the same days. Writes <out>/features.parquet,
<out>/entities.parquet and a feature repository in <out>/repo using them.
"""
import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

US = pa.timestamp("us", tz="UTC")
START_US = 1_714_521_600_000_000  # 2024-05-01T00:00:00Z
FEATURES = [f"f{i}" for i in range(10)]

DEFINITIONS = """entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
sources:
  - {name: stats, path: ../features.parquet, timestamp_field: event_timestamp,
     created_timestamp_column: created}
feature_views:
  - name: driver_stats
    entities: [driver]
    ttl: 7d
    source: stats
    schema:
""" + "".join(f"      - {{name: {f}, dtype: Float64}}\n" for f in FEATURES) + """feature_services:
  - {name: all_features, features: [driver_stats]}
"""


def generate(out: Path, entity_rows: int, feature_rows: int, entities: int, days: int, seed: int):
    rng = np.random.default_rng(seed)
    span = days * 86_400 * 1_000_000
    out.mkdir(parents=True, exist_ok=True)
    chunk = 2_000_000  # write in row groups of 1M rows without holding 10M rows of 13 columns twice
    schema = pa.schema([("driver_id", pa.int64()), ("event_timestamp", US), ("created", US)] +
                       [(f, pa.float64()) for f in FEATURES])
    with pq.ParquetWriter(out / "features.parquet", schema, compression="snappy") as writer:
        for start in range(0, feature_rows, chunk):
            n = min(chunk, feature_rows - start)
            ts = START_US + rng.integers(0, span, n)
            columns = [pa.array(rng.integers(0, entities, n), pa.int64()), pa.array(ts, US),
                       pa.array(ts + rng.integers(0, 60_000_000, n), US)]
            columns += [pa.array(rng.random(n)) for _ in FEATURES]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema),
                               row_group_size=1 << 20)
    entity_table = pa.table({
        "driver_id": pa.array(rng.integers(0, entities, entity_rows), pa.int64()),
        "event_timestamp": pa.array(START_US + rng.integers(0, span, entity_rows), US),
        "label": pa.array(rng.integers(0, 2, entity_rows), pa.int64()),
    })
    pq.write_table(entity_table, out / "entities.parquet", row_group_size=1 << 20)
    repo = out / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "feature_store.yaml").write_text("project: bench\nregistry: data/registry.json\n")
    (repo / "definitions.yaml").write_text(DEFINITIONS)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--entity-rows", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=10_000_000)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generate(args.out, args.entity_rows, args.feature_rows, args.entities, args.days, args.seed)


if __name__ == "__main__":
    main()

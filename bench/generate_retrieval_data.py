"""Generates the historical-retrieval benchmark data set (deterministic for a given seed).

Feature rows: driver_id (Int64), event_timestamp and created (timestamp[us, UTC]), f0..f{N-1}
(Float64, N = --features, 10 by default), over --days days, written in random time order (no help
from sorting). Entity rows: driver_id, event_timestamp, label, over the same days. Writes
<out>/features.parquet, <out>/entities.parquet and a feature repository in <out>/repo using them.

--views 3 writes the multi-view shape instead: three sources and views in one feature service,
  driver_stats   keyed by driver_id               f0..f9, --feature-rows rows
  customer_stats keyed by customer_id             c0..c4, half as many rows
  pair_stats     keyed by (driver_id, customer_id) p0..p4, as many rows as driver_stats
with customer_id a column of the entity rows as well (--entities customers, each driver dealing
with 4 of them, so the composite keys of the entity rows have pair rows).
"""
import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

US = pa.timestamp("us", tz="UTC")
START_US = 1_714_521_600_000_000  # 2024-05-01T00:00:00Z
CHUNK = 2_000_000  # write in row groups of 1M rows without holding every row of every column twice
PARTNERS = 4       # customers per driver in the multi-view shape


def view_yaml(name, entities, source, features):
    return (f"  - name: {name}\n    entities: [{', '.join(entities)}]\n    ttl: 7d\n"
            f"    source: {source}\n    schema:\n" +
            "".join(f"      - {{name: {f}, dtype: Float64}}\n" for f in features))


def source_yaml(name, path):
    return (f"  - {{name: {name}, path: ../{path}, timestamp_field: event_timestamp,\n"
            f"     created_timestamp_column: created}}\n")


def write_features(path, rng, rows, span, key_names, make_keys, features):
    """make_keys(rng, n) gives n values of each key column, in the order of key_names."""
    schema = pa.schema([(k, pa.int64()) for k in key_names] +
                       [("event_timestamp", US), ("created", US)] +
                       [(f, pa.float64()) for f in features])
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            ts = START_US + rng.integers(0, span, n)
            columns = [pa.array(k, pa.int64()) for k in make_keys(rng, n)]
            columns += [pa.array(ts, US), pa.array(ts + rng.integers(0, 60_000_000, n), US)]
            columns += [pa.array(rng.random(n)) for _ in features]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema),
                               row_group_size=1 << 20)


def write_repo(out, definitions):
    repo = out / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "feature_store.yaml").write_text("project: bench\nregistry: data/registry.json\n")
    (repo / "definitions.yaml").write_text(definitions)


def generate(out: Path, entity_rows: int, feature_rows: int, entities: int, days: int, seed: int,
             features: int = 10):
    rng = np.random.default_rng(seed)
    span = days * 86_400 * 1_000_000
    out.mkdir(parents=True, exist_ok=True)
    names = [f"f{i}" for i in range(features)]
    write_features(out / "features.parquet", rng, feature_rows, span, ["driver_id"],
                   lambda r, n: [r.integers(0, entities, n)], names)
    entity_table = pa.table({
        "driver_id": pa.array(rng.integers(0, entities, entity_rows), pa.int64()),
        "event_timestamp": pa.array(START_US + rng.integers(0, span, entity_rows), US),
        "label": pa.array(rng.integers(0, 2, entity_rows), pa.int64()),
    })
    pq.write_table(entity_table, out / "entities.parquet", row_group_size=1 << 20)
    write_repo(out, "entities:\n  - {name: driver, join_keys: [driver_id], value_type: INT64}\n"
               "sources:\n" + source_yaml("stats", "features.parquet") +
               "feature_views:\n" + view_yaml("driver_stats", ["driver"], "stats", names) +
               "feature_services:\n  - {name: all_features, features: [driver_stats]}\n")


def generate_multi_view(out: Path, entity_rows: int, feature_rows: int, entities: int, days: int,
                        seed: int):
    rng = np.random.default_rng(seed)
    span = days * 86_400 * 1_000_000
    out.mkdir(parents=True, exist_ok=True)
    drivers = customers = entities

    def partner(driver, r, n):  # one of the driver's PARTNERS customers
        return (driver * 7919 + r.integers(0, PARTNERS, n)) % customers

    def pair(r, n):
        driver = r.integers(0, drivers, n)
        return [driver, partner(driver, r, n)]

    write_features(out / "driver_stats.parquet", rng, feature_rows, span, ["driver_id"],
                   lambda r, n: [r.integers(0, drivers, n)], [f"f{i}" for i in range(10)])
    write_features(out / "customer_stats.parquet", rng, feature_rows // 2, span, ["customer_id"],
                   lambda r, n: [r.integers(0, customers, n)], [f"c{i}" for i in range(5)])
    write_features(out / "pair_stats.parquet", rng, feature_rows, span,
                   ["driver_id", "customer_id"], pair, [f"p{i}" for i in range(5)])
    driver = rng.integers(0, drivers, entity_rows)
    entity_table = pa.table({
        "driver_id": pa.array(driver, pa.int64()),
        "customer_id": pa.array(partner(driver, rng, entity_rows), pa.int64()),
        "event_timestamp": pa.array(START_US + rng.integers(0, span, entity_rows), US),
        "label": pa.array(rng.integers(0, 2, entity_rows), pa.int64()),
    })
    pq.write_table(entity_table, out / "entities.parquet", row_group_size=1 << 20)
    write_repo(out,
               "entities:\n  - {name: driver, join_keys: [driver_id], value_type: INT64}\n"
               "  - {name: customer, join_keys: [customer_id], value_type: INT64}\n"
               "sources:\n" + source_yaml("drivers", "driver_stats.parquet") +
               source_yaml("customers", "customer_stats.parquet") +
               source_yaml("pairs", "pair_stats.parquet") + "feature_views:\n" +
               view_yaml("driver_stats", ["driver"], "drivers", [f"f{i}" for i in range(10)]) +
               view_yaml("customer_stats", ["customer"], "customers", [f"c{i}" for i in range(5)]) +
               view_yaml("pair_stats", ["driver", "customer"], "pairs", [f"p{i}" for i in range(5)]) +
               "feature_services:\n"
               "  - {name: all_features, features: [driver_stats, customer_stats, pair_stats]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--entity-rows", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=10_000_000)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--views", type=int, choices=[1, 3], default=1)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.views == 3:
        generate_multi_view(args.out, args.entity_rows, args.feature_rows, args.entities, args.days,
                            args.seed)
    else:
        generate(args.out, args.entity_rows, args.feature_rows, args.entities, args.days, args.seed,
                 args.features)


if __name__ == "__main__":
    main()

"""get-historical-features against a direct reading of the point-in-time rule, and bad input."""
import random
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
US = pa.timestamp("us", tz="UTC")

DEFINITIONS = """
entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
  - {name: customer, join_keys: [customer_id], value_type: STRING}
sources:
  - {name: driver_src, path: data/driver_stats, timestamp_field: event_timestamp,
     created_timestamp_column: created}
  - {name: pair_src, path: data/pairs.parquet, timestamp_field: ts,
     field_mapping: {raw_score: score}}
  - {name: global_src, path: data/global.parquet, timestamp_field: event_timestamp}
feature_views:
  - name: driver_stats
    entities: [driver]
    ttl: 2h
    source: driver_src
    schema:
      - {name: conv_rate, dtype: Float64}
      - {name: trips, dtype: Int64}
      - {name: city, dtype: String}
  - name: pair_stats
    entities: [driver, customer]
    ttl: 0
    source: pair_src
  - name: global_stats
    entities: []
    ttl: 1h
    source: global_src
feature_services:
  - name: everything
    features: [driver_stats, pair_stats, {global_stats: [demand]}]
"""


def micros(t):
    return int(t.timestamp() * 1_000_000)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A repository with three views over random data, with many exact timestamp ties."""
    rng = random.Random(11)
    root = tmp_path_factory.mktemp("hist")
    (root / "data" / "driver_stats").mkdir(parents=True)
    (root / "feature_store.yaml").write_text("project: hist\n")
    (root / "definitions.yaml").write_text(DEFINITIONS)
    minute = timedelta(minutes=1)

    drivers = []
    for part in range(3):  # three files, several row groups each
        rows = [dict(driver_id=rng.randint(1, 30), event_timestamp=T0 + rng.randint(0, 600) * minute,
                     created=T0 + rng.randint(0, 2) * minute,
                     conv_rate=rng.random() if rng.random() > 0.1 else None,
                     trips=rng.randint(0, 100), city=rng.choice(["a", "b", None]))
                for _ in range(700)]
        drivers += rows
        table = pa.Table.from_pylist(rows, schema=pa.schema([
            ("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("ns")),
            ("created", pa.timestamp("ms", tz="UTC")), ("conv_rate", pa.float64()),
            ("trips", pa.int64()), ("city", pa.string())]))
        pq.write_table(table, root / "data" / "driver_stats" / f"part-{part}.parquet",
                       row_group_size=128)
    pairs = [dict(driver_id=rng.randint(1, 30), customer_id=rng.choice(["x", "y", "z"]),
                  ts=T0 + rng.randint(0, 600) * minute, raw_score=rng.randint(0, 9),
                  tags=[rng.randint(0, 5)] * rng.randint(0, 2))
             for _ in range(1500)]
    pq.write_table(pa.Table.from_pylist(pairs, schema=pa.schema([
        ("driver_id", pa.int32()), ("customer_id", pa.string()), ("ts", US),
        ("raw_score", pa.int64()), ("tags", pa.list_(pa.int64()))])),
        root / "data" / "pairs.parquet", row_group_size=200)
    global_rows = [dict(event_timestamp=T0 + rng.randint(0, 600) * minute, demand=rng.random())
                   for _ in range(50)]
    pq.write_table(pa.Table.from_pylist(global_rows, schema=pa.schema([
        ("event_timestamp", US), ("demand", pa.float64())])), root / "data" / "global.parquet")

    entity_rows = [dict(driver_id=rng.randint(1, 32), customer_id=rng.choice(["x", "y", "z", "w"]),
                        event_timestamp=T0 + rng.randint(-30, 700) * minute, label=i)
                   for i in range(2000)]
    entity_rows += entity_rows[:50]  # duplicates
    return dict(root=root, drivers=drivers, pairs=pairs, global_rows=global_rows,
                entity_rows=entity_rows)


def point_in_time(rows, key_of, entity_key, t, ttl, order):
    """Feast's rule: the greatest (event time, created, row read) at or before t, within ttl."""
    best = None
    for index, row in enumerate(rows):
        if key_of(row) != entity_key or row["_ts"] > t:
            continue
        rank = order(row, index)
        if best is None or rank > best[0]:
            best = (rank, row)
    if best is None or (ttl and best[1]["_ts"] < t - ttl):
        return None
    return best[1]


def expected_rows(repo):
    for row in repo["drivers"] + repo["pairs"] + repo["global_rows"]:
        row["_ts"] = row.get("event_timestamp", row.get("ts"))
    out = []
    for e in repo["entity_rows"]:
        t = e["event_timestamp"]
        d = point_in_time(repo["drivers"], lambda r: r["driver_id"], e["driver_id"], t,
                          timedelta(hours=2), lambda r, i: (r["_ts"], r["created"], i))
        p = point_in_time(repo["pairs"], lambda r: (r["driver_id"], r["customer_id"]),
                          (e["driver_id"], e["customer_id"]), t, None,
                          lambda r, i: (r["_ts"], i))
        g = point_in_time(repo["global_rows"], lambda r: 0, 0, t, timedelta(hours=1),
                          lambda r, i: (r["_ts"], i))
        out.append(dict(conv_rate=d and d["conv_rate"], trips=d and d["trips"], city=d and d["city"],
                        score=p and p["raw_score"], tags=p and p["tags"],
                        demand=g and g["demand"]))
    return out


def write_entities(repo, path):
    table = pa.Table.from_pylist(repo["entity_rows"], schema=pa.schema([
        ("driver_id", pa.int64()), ("customer_id", pa.string()), ("event_timestamp", US),
        ("label", pa.int64())]))
    pq.write_table(table, path)


@pytest.mark.parametrize("threads", [1, 2])
def test_matches_the_point_in_time_rule(repo, cli, tmp_path, threads):
    root = repo["root"]
    cli("apply", cwd=root)
    write_entities(repo, tmp_path / "entities.parquet")
    cli("-c", root, "get-historical-features", "--entities", tmp_path / "entities.parquet",
        "--feature-service", "everything", "--output", tmp_path / "out.parquet",
        "--threads", threads)
    result = pq.read_table(tmp_path / "out.parquet")
    assert result.column_names == ["driver_id", "customer_id", "event_timestamp", "label",
                                   "conv_rate", "trips", "city", "score", "tags", "demand"]
    assert result.schema.field("event_timestamp").type == US
    assert result.num_rows == len(repo["entity_rows"])
    assert result.column("label").to_pylist() == [e["label"] for e in repo["entity_rows"]]
    got = result.select(["conv_rate", "trips", "city", "score", "tags", "demand"]).to_pylist()
    want = expected_rows(repo)
    mismatches = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not mismatches, f"{len(mismatches)} rows differ, first: {mismatches[:3]}"
    # The data is built so that every kind of outcome occurs.
    assert any(w["trips"] is None for w in want) and any(w["trips"] is not None for w in want)
    assert any(w["score"] is not None for w in want)


def test_full_feature_names_and_feature_lists(repo, cli, tmp_path):
    root = repo["root"]
    cli("apply", cwd=root)
    write_entities(repo, tmp_path / "entities.parquet")
    cli("-c", root, "get-historical-features", "--entities", tmp_path / "entities.parquet",
        "--features", "pair_stats:score,driver_stats:trips", "--full-feature-names",
        "--output", tmp_path / "out.parquet")
    result = pq.read_table(tmp_path / "out.parquet")
    assert result.column_names[-2:] == ["pair_stats__score", "driver_stats__trips"]


def test_csv_entities_with_offsets_and_naive_times_are_utc(repo, cli, tmp_path):
    root = repo["root"]
    cli("apply", cwd=root)
    rows = repo["entity_rows"][:40]
    lines = ["driver_id,customer_id,event_timestamp,label"]
    for i, e in enumerate(rows):
        t = e["event_timestamp"]
        text = (t.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat() if i % 3 == 0
                else t.replace(tzinfo=None).isoformat(sep=" ") if i % 3 == 1
                else t.isoformat().replace("+00:00", "Z"))
        lines.append(f"{e['driver_id']},{e['customer_id']},{text},{e['label']}")
    (tmp_path / "entities.csv").write_text("\n".join(lines) + "\n")
    cli("-c", root, "get-historical-features", "--entities", tmp_path / "entities.csv",
        "--features", "driver_stats:trips,pair_stats:score", "--output", tmp_path / "out.csv")
    result = pacsv.read_csv(tmp_path / "out.csv")
    got_times = [t.astimezone(timezone.utc) for t in result.column("event_timestamp").to_pylist()]
    assert got_times == [e["event_timestamp"] for e in rows]
    want = expected_rows(repo)[:40]
    assert result.column("trips").to_pylist() == [w["trips"] for w in want]
    assert result.column("score").to_pylist() == [w["score"] for w in want]


def test_empty_entity_file_gives_empty_result_with_schema(repo, cli, tmp_path):
    root = repo["root"]
    cli("apply", cwd=root)
    (tmp_path / "empty.csv").write_text("driver_id,customer_id,event_timestamp\n")
    cli("-c", root, "get-historical-features", "--entities", tmp_path / "empty.csv",
        "--feature-service", "everything", "--output", tmp_path / "out.parquet")
    result = pq.read_table(tmp_path / "out.parquet")
    assert result.num_rows == 0
    assert result.schema.field("conv_rate").type == pa.float64()
    assert result.schema.field("tags").type == pa.list_(pa.int64())


BAD_ENTITY_FILES = {
    "missing_key.csv": ("customer_id,event_timestamp\nx,2024-05-01\n", "no column 'driver_id'"),
    "missing_time.csv": ("driver_id,customer_id\n1,x\n", "no 'event_timestamp' column"),
    "null_key.csv": ("driver_id,customer_id,event_timestamp\n1,x,2024-05-01\n,x,2024-05-01\n",
                     "'driver_id' is null in row 2"),
    "null_time.csv": ("driver_id,customer_id,event_timestamp\n1,x,\n", "is null in row 1"),
    "bad_time.csv": ("driver_id,customer_id,event_timestamp\n1,x,yesterday\n",
                     "'yesterday' is not an ISO 8601 timestamp"),
    "mistyped_key.csv": ("driver_id,customer_id,event_timestamp\nabc,x,2024-05-01\n", "abc"),
    "truncated.parquet": (b"PAR1\x00\x00garbage", "truncated.parquet"),
    "empty.parquet": (b"", "empty.parquet"),
    "entities.json": ("{}", "unknown file type '.json'"),
}


@pytest.mark.parametrize("name", sorted(BAD_ENTITY_FILES))
def test_bad_entity_files_fail_clearly_and_write_nothing(repo, cli, tmp_path, name):
    root = repo["root"]
    cli("apply", cwd=root)
    content, message = BAD_ENTITY_FILES[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cli("-c", root, "get-historical-features", "--entities", path,
                 "--features", "driver_stats:trips,pair_stats:score",
                 "--output", tmp_path / "out.parquet", ok=False)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "out.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == [name], "no temporary files left behind"


@pytest.mark.parametrize("features,message", [
    ("driver_stats:nope", "feature view 'driver_stats' has no feature 'nope'"),
    ("nowhere:trips", "unknown feature view 'nowhere'"),
    ("trips", "must have the form view:feature"),
])
def test_unknown_features_are_errors(repo, cli, tmp_path, features, message):
    root = repo["root"]
    cli("apply", cwd=root)
    write_entities(repo, tmp_path / "entities.parquet")
    result = cli("-c", root, "get-historical-features", "--entities", tmp_path / "entities.parquet",
                 "--features", features, "--output", tmp_path / "out.parquet", ok=False)
    assert message in result.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_other_bad_requests(repo, cli, tmp_path):
    root = repo["root"]
    cli("apply", cwd=root)
    write_entities(repo, tmp_path / "entities.parquet")
    run = lambda *a: cli("-c", root, "get-historical-features", *a, ok=False).stderr
    assert "unknown feature service 'nope'" in run(
        "--entities", tmp_path / "entities.parquet", "--feature-service", "nope",
        "--output", tmp_path / "o.parquet")
    assert "no such file" in run("--entities", tmp_path / "missing.csv", "--features",
                                 "driver_stats:trips", "--output", tmp_path / "o.parquet")
    assert "does not exist" in run("--entities", tmp_path / "entities.parquet", "--features",
                                   "driver_stats:trips", "--output", tmp_path / "no" / "o.parquet")
    assert "unknown file type" in run("--entities", tmp_path / "entities.parquet", "--features",
                                      "driver_stats:trips", "--output", tmp_path / "o.xlsx")
    # A feature whose name is already an output column needs full names.
    (tmp_path / "clash.csv").write_text("driver_id,event_timestamp,trips\n1,2024-05-01,7\n")
    assert "would appear twice; use --full-feature-names" in run(
        "--entities", tmp_path / "clash.csv", "--features", "driver_stats:trips",
        "--output", tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()


def test_corrupt_source_file_is_an_error_without_output(repo, cli, tmp_path):
    root = repo["root"]
    cli("apply", cwd=root)
    write_entities(repo, tmp_path / "entities.parquet")
    source = root / "data" / "global.parquet"
    saved = source.read_bytes()
    try:
        source.write_bytes(saved[: len(saved) // 2])
        result = cli("-c", root, "get-historical-features", "--entities",
                     tmp_path / "entities.parquet", "--features", "global_stats:demand",
                     "--output", tmp_path / "out.parquet", ok=False)
        assert "global.parquet" in result.stderr
        assert not (tmp_path / "out.parquet").exists()
    finally:
        source.write_bytes(saved)


def test_retrieval_before_apply_says_so(tmp_path, cli):
    cli("init", "r")
    result = cli("-c", "r", "get-historical-features", "--entities", "r/data/driver_entities.csv",
                 "--feature-service", "driver_activity", "--output", "out.csv", ok=False)
    assert "apply definitions first (`headwater apply`)" in result.stderr


def test_row_groups_outside_the_entity_time_range_are_not_read(tmp_path, cli):
    """Time-sorted data in 10 row groups; entity rows in one day reach only 2-3 of them."""
    (tmp_path / "data").mkdir()
    (tmp_path / "feature_store.yaml").write_text("project: prune\n")
    (tmp_path / "defs.yaml").write_text(
        "entities: [{name: driver, join_keys: [driver_id]}]\n"
        "sources: [{name: s, path: data/f.parquet, timestamp_field: event_timestamp}]\n"
        "feature_views: [{name: v, entities: [driver], ttl: 1d, source: s}]\n")
    hours = 24 * 10
    rows = [dict(driver_id=d, event_timestamp=T0 + timedelta(hours=h), value=h * 10 + d)
            for h in range(hours) for d in range(10)]
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([
        ("driver_id", pa.int64()), ("event_timestamp", US), ("value", pa.int64())])),
        tmp_path / "data" / "f.parquet", row_group_size=240)  # one row group a day
    cli("apply")
    day5 = T0 + timedelta(days=5, hours=12)
    (tmp_path / "e.csv").write_text("driver_id,event_timestamp\n" + "".join(
        f"{d},{(day5 + timedelta(minutes=30 * d)).isoformat()}\n" for d in range(10)))
    summary = cli("get-historical-features", "--entities", "e.csv", "--features", "v:value",
                  "--output", "out.parquet").stderr
    assert "of 10 row groups skipped by time range" in summary
    skipped = int(summary.split(" of 10 row groups")[0].split()[-1])
    assert skipped >= 7, summary
    got = pq.read_table(tmp_path / "out.parquet").column("value").to_pylist()
    # Row at hour floor(5.5 days + 30 min * d) for driver d.
    assert got == [((5 * 24 + 12) + (30 * d) // 60) * 10 + d for d in range(10)]

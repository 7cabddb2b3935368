"""The batch engine on a real Flink cluster (batch_engine: flink, issue 15): training data and
materialization computed by Flink SQL jobs equal the embedded engine's, row for row and value
for value, on random data built to hit every rule — ties on event time broken by created time
and then by file, TTL edges, null keys, times and values, entity rows before any data, unknown
keys, duplicates, composite keys, several views, on-demand features — and failures are clear
errors that change nothing. `make test` runs one seed of each; `make chaos` (HEADWATER_SLOW=1)
runs more seeds, the SDK and the reported ties."""
import json
import random
import shutil
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from test_stream import DEFINITIONS as STREAM_DEFINITIONS  # ticker_windows over trades

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
US = pa.timestamp("us", tz="UTC")


def micros(when):
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def definitions(ttl="1h"):
    return f"""
entities:
  - {{name: driver, join_keys: [driver_id], value_type: INT64}}
  - {{name: rider, join_keys: [rider_id], value_type: STRING}}
sources:
  - {{name: stats, type: file, path: data/stats, timestamp_field: event_timestamp,
     created_timestamp_column: created}}
  - {{name: pairs, type: file, path: data/pairs, timestamp_field: ts}}
  - name: extra
    type: request
    schema: [{{name: bonus, dtype: Float64}}]
feature_views:
  - name: driver_stats
    entities: [driver]
    ttl: {ttl}
    source: stats
    schema:
      - {{name: conv_rate, dtype: Float64}}
      - {{name: trips, dtype: Int64}}
      - {{name: rank, dtype: Float32}}
      - {{name: tags, dtype: Array(String)}}
  - name: driver_forever
    entities: [driver]
    ttl: 0s
    source: stats
    schema:
      - {{name: trips, dtype: Int64}}
  - name: pair_stats
    entities: [driver, rider]
    ttl: 2h
    source: pairs
    schema:
      - {{name: score, dtype: Float64}}
      - {{name: label, dtype: String}}
on_demand_feature_views:
  - name: boosted
    sources: [driver_stats, extra]
    schema: [{{name: boosted_rate, dtype: Float64}}]
    mode: expression
    expressions: {{boosted_rate: conv_rate + bonus}}
feature_services:
  - name: everything
    features: [driver_stats, driver_forever, pair_stats, boosted]
"""


def write_stats(directory, rng, files=3, rows=400):
    """Rows on a coarse time grid (ties on event time are common), created times distinct within
    a file but shared across files (the file decides), nulls in keys, times and values."""
    directory.mkdir(parents=True)
    for f in range(files):
        seen, columns = set(), {n: [] for n in
                                ("driver_id", "event_timestamp", "created", "conv_rate", "trips",
                                 "rank", "tags")}
        for i in range(rows):
            driver = rng.choice([1, 2, 3, 4, 5, None] if i % 37 else [None])
            when = BASE + timedelta(minutes=10 * rng.randrange(0, 30))
            # Null created reads as 0: only where (key, time) is unique in the file, so no two
            # rows of a file tie on everything (Flink sees no order within a file).
            created = (None if (driver, when) not in seen and rng.random() < 0.1
                       else BASE + timedelta(seconds=rng.randrange(0, 5), microseconds=i))
            seen.add((driver, when))
            columns["driver_id"].append(driver)
            columns["event_timestamp"].append(None if rng.random() < 0.02 else when)
            columns["created"].append(created)
            columns["conv_rate"].append(None if rng.random() < 0.1 else rng.random())
            columns["trips"].append(rng.randrange(0, 1000))
            columns["rank"].append(rng.random())
            columns["tags"].append(rng.choice([None, [], ["a"], ["b", None, "c"]]))
        pq.write_table(pa.table({
            "driver_id": pa.array(columns["driver_id"], pa.int64()),
            "event_timestamp": pa.array(columns["event_timestamp"], US),
            "created": pa.array(columns["created"], US),
            "conv_rate": pa.array(columns["conv_rate"], pa.float64()),
            "trips": pa.array(columns["trips"], pa.int64()),
            "rank": pa.array(columns["rank"], pa.float32()),
            "tags": pa.array(columns["tags"], pa.list_(pa.string())),
        }), directory / f"part-{f:03d}.parquet", row_group_size=150)


def write_pairs(directory, rng, rows=300):
    """A composite key, no created column, nanosecond times (read at microseconds), one file
    with unique (key, time) so no row of it ties."""
    directory.mkdir(parents=True)
    seen, drivers, riders, times, scores, labels = set(), [], [], [], [], []
    while len(drivers) < rows:
        key = (rng.choice([1, 2, 3]), rng.choice(["ann", "bob", "cy"]),
               rng.randrange(0, 60) * 180)
        if key in seen:
            continue
        seen.add(key)
        drivers.append(key[0])
        riders.append(key[1])
        times.append(micros(BASE + timedelta(seconds=key[2])) * 1000 + rng.randrange(0, 1000))
        scores.append(rng.random())
        labels.append(rng.choice(["x", "y", None]))
    pq.write_table(pa.table({
        "driver_id": pa.array(drivers, pa.int64()), "rider_id": riders,
        "ts": pa.array(times, pa.timestamp("ns", tz="UTC")), "score": scores, "label": labels,
    }), directory / "pairs.parquet")


def entity_rows(rng, n=300):
    """Before any data, at TTL edges, exactly on data times, unknown keys, duplicates."""
    drivers, riders, times, bonus = [], [], [], []
    for i in range(n):
        drivers.append(rng.choice([1, 2, 3, 4, 5, 99]))
        riders.append(rng.choice(["ann", "bob", "cy", "zed"]))
        offset = rng.choice([
            timedelta(minutes=10 * rng.randrange(-3, 36)),                 # on the grid
            timedelta(minutes=10 * rng.randrange(0, 30), hours=1),         # a TTL edge
            timedelta(minutes=10 * rng.randrange(0, 30), hours=1, microseconds=1),
            timedelta(seconds=rng.randrange(-600, 20_000), microseconds=rng.randrange(10**6)),
        ])
        times.append(BASE + offset)
        bonus.append(float(i))
    rows = pa.table({"driver_id": pa.array(drivers, pa.int64()), "rider_id": riders,
                     "event_timestamp": pa.array(times, US), "bonus": bonus})
    return pa.concat_tables([rows, rows.slice(0, 20)])  # duplicates, out of time order


def make_repo(root, cli, flink_addresses, seed):
    rng = random.Random(seed)
    repo = root / "repo"
    (repo / "data").mkdir(parents=True)
    rest, gateway = flink_addresses
    (repo / "feature_store.yaml").write_text(
        "project: batch\nregistry: data/registry.json\nprovider: local\n"
        "online_store: {type: rocksdb, path: data/online}\n"
        f"batch_engine: {{type: flink, rest_address: '{rest}', sql_gateway: '{gateway}', "
        "parallelism: 2, table_config: {pipeline.name: 'ignored, Headwater names its jobs'}}\n")
    (repo / "definitions.yaml").write_text(definitions())
    write_stats(repo / "data" / "stats", rng)
    write_pairs(repo / "data" / "pairs", rng)
    pq.write_table(entity_rows(rng), repo / "entities.parquet")
    cli("apply", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def addresses(flink):
    directory, rest = flink
    return rest, (directory / "sql_gateway_address").read_text().strip()


def differences(left, right):
    """The first rows where two tables differ, for the assertion message."""
    out = []
    for column in left.column_names:
        a, b = left[column].to_pylist(), right[column].to_pylist()
        out += [(column, i, a[i], b[i]) for i in range(len(a)) if a[i] != b[i]][:3]
    return out


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow),
                                  pytest.param(3, marks=pytest.mark.slow)])
def test_training_data_on_flink_equals_the_embedded_engines(addresses, tmp_path, cli, seed):
    repo = make_repo(tmp_path, cli, addresses, seed)
    for engine in ("flink", "embedded"):
        run = cli("get-historical-features", "--entities", "entities.parquet", "--feature-service",
                  "everything", "--full-feature-names", "--output", f"{engine}.parquet",
                  "--engine", engine, cwd=repo)
        assert "warning" not in run.stderr
    on_flink, embedded = pq.read_table(repo / "flink.parquet"), pq.read_table(
        repo / "embedded.parquet")
    assert on_flink.num_rows == 320 and on_flink.schema == embedded.schema
    assert on_flink.equals(embedded), differences(on_flink, embedded)
    # The data hits the rules: matches and misses for every view.
    for column in ("driver_stats__trips", "driver_forever__trips", "pair_stats__score"):
        values = on_flink[column].to_pylist()
        assert 0 < values.count(None) < len(values), column


@pytest.mark.slow
def test_the_sdk_reads_training_data_from_flink(addresses, tmp_path, cli):
    import headwater
    repo = make_repo(tmp_path, cli, addresses, 10)
    store = headwater.FeatureStore(repo_path=str(repo))
    entities = pq.read_table(repo / "entities.parquet").to_pandas()
    on_flink = store.get_historical_features(
        entities, ["driver_stats:conv_rate", "pair_stats:label"]).to_arrow()
    cli("get-historical-features", "--entities", "entities.parquet", "--features",
        "driver_stats:conv_rate,pair_stats:label", "--output", "embedded.parquet", "--engine",
        "embedded", cwd=repo)
    embedded = pq.read_table(repo / "embedded.parquet")
    # (pandas gives the string key back as large_string)
    assert on_flink.select(embedded.column_names).cast(embedded.schema).equals(embedded)


def online_dump(cli, repo, views):
    return {view: cli("online-dump", "--view", view, cwd=repo).stdout for view in views}


def test_materialization_on_flink_writes_the_embedded_engines_online_values(addresses, tmp_path,
                                                                          cli):
    repo = make_repo(tmp_path, cli, addresses, 4)
    views = ["driver_stats", "driver_forever", "pair_stats"]
    window = ["2026-03-02T09:30:00Z", "2026-03-02T12:00:00Z"]  # part of the history

    def run(engine):
        shutil.rmtree(repo / "data" / "online", ignore_errors=True)
        (repo / "data" / "registry.json").unlink()
        cli("apply", cwd=repo)
        lines = cli("materialize", *window, "--engine", engine, cwd=repo).stdout
        lines += cli("materialize-incremental", "2026-03-02T20:00:00Z", "--engine", engine,
                     cwd=repo).stdout
        registry = json.loads(cli("registry-dump", cwd=repo).stdout)
        # The intervals, without when they were written.
        marks = {view: [(i["start"], i["end"]) for i in intervals]
                 for view, intervals in registry["materializations"].items()}
        return online_dump(cli, repo, views), marks, lines

    on_flink, marks_flink, said = run("flink")
    embedded, marks_embedded, _ = run("embedded")
    assert on_flink == embedded
    assert marks_flink == marks_embedded
    assert all(on_flink[view].count("\n") > 0 for view in views)
    assert "warning" not in said and said.count(" keys: ") == 6


@pytest.mark.slow
def test_ties_flink_cannot_order_are_reported(addresses, tmp_path, cli):
    """Two rows of one file with one key, event time and created time: the embedded engine takes
    the later; Flink sees no order within a file, so the run says how many such groups exist."""
    repo = make_repo(tmp_path, cli, addresses, 5)
    tied = tmp_path / "repo" / "data" / "stats" / "part-999.parquet"
    when = BASE + timedelta(hours=3)
    pq.write_table(pa.table({
        "driver_id": pa.array([7, 7], pa.int64()), "event_timestamp": pa.array([when, when], US),
        "created": pa.array([when, when], US), "conv_rate": [0.1, 0.2], "trips": [1, 2],
        "rank": pa.array([0.0, 0.0], pa.float32()),
        "tags": pa.array([[], []], pa.list_(pa.string()))}), tied)
    run = cli("get-historical-features", "--entities", "entities.parquet", "--features",
              "driver_stats:trips", "--output", "out.parquet", cwd=repo)
    assert "warning: 1 groups of source rows tie" in run.stderr
    said = cli("materialize", "2026-03-02T09:00:00Z", "2026-03-02T20:00:00Z", "--views",
               "driver_stats", cwd=repo).stdout
    assert "warning: 1 groups of rows tie" in said


def test_a_failing_job_or_a_stray_file_is_a_clear_error_that_changes_nothing(addresses, tmp_path,
                                                                            cli):
    repo = make_repo(tmp_path, cli, addresses, 6)
    stats = repo / "data" / "stats"
    runs = (["materialize", "2026-03-02T09:00:00Z", "2026-03-02T20:00:00Z"],
            ["get-historical-features", "--entities", "entities.parquet", "--features",
             "driver_stats:trips", "--output", "out.parquet"])
    # A file the embedded engine would not read, but Flink would: refused before any job.
    (stats / "notes.txt").write_text("not data")
    for args in runs:
        failed = cli(*args, cwd=repo, ok=False)
        assert failed.returncode == 1
        assert "'notes.txt' is not one of its Parquet files" in failed.stderr, failed.stderr
    (stats / "notes.txt").unlink()
    # A corrupt Parquet file (not the first, whose schema apply read): the job fails; the error
    # names the views and Flink's cause.
    (stats / "part-500.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    failed = cli(*runs[0], cwd=repo, ok=False)
    assert failed.returncode == 1
    assert "materializing feature view 'driver_stats' on Flink: Flink job" in failed.stderr
    assert "failed" in failed.stderr
    failed = cli(*runs[1], cwd=repo, ok=False)
    assert "training data of feature view 'driver_stats' on Flink" in failed.stderr
    assert not (repo / "out.parquet").exists()
    assert json.loads(cli("registry-dump", cwd=repo).stdout)["materializations"] == {}
    assert online_dump(cli, repo, ["driver_stats"])["driver_stats"] == ""
    assert not any((repo / "data" / "flink-staging").iterdir())  # staging cleaned up


EXACT = ["ticker", "event_timestamp", "min_price_5m", "max_price_5m", "count_price_10m",
         "last_price_5m", "sum_size_2m"]
# Summation order: the embedded engine folds events in file order, Flink in the order its sort
# gives; mean and stddev agree to rounding (docs/flink.md), checked to 1e-12 relative.
ROUNDED = ["mean_price_10m", "stddev_price_10m"]


def test_windowed_backfill_on_flink_gives_the_embedded_engines_rows(addresses, tmp_path, cli):
    rng = random.Random(7)
    repo = tmp_path / "repo"
    (repo / "data" / "trades").mkdir(parents=True)
    rest, gateway = addresses
    (repo / "feature_store.yaml").write_text(
        f"project: ticker\nbatch_engine: {{type: flink, rest_address: '{rest}', "
        f"sql_gateway: '{gateway}', parallelism: 2}}\n")
    (repo / "defs.yaml").write_text(STREAM_DEFINITIONS)
    seen = set()
    for part in range(2):  # two files; one key and time never twice in a file
        rows = []
        for _ in range(600):
            ticker = rng.choice(["ETH", "BTC", "SOL"])
            when = BASE + timedelta(milliseconds=rng.randrange(0, 30 * 60_000))
            if (part, ticker, when) in seen:
                continue
            seen.add((part, ticker, when))
            rows.append(dict(ticker=ticker, price=None if rng.random() < 0.05
                             else round(rng.uniform(90, 110), 2), size=rng.randrange(1, 9),
                             timestamp=when))
        pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema(
            [("ticker", pa.string()), ("price", pa.float64()), ("size", pa.int64()),
             ("timestamp", US)])), repo / "data" / "trades" / f"part-{part}.parquet")
    cli("apply", cwd=repo)

    def run(engine):
        for old in repo.rglob("backfill-*.parquet"):
            old.unlink()
        said = cli("materialize", "2026-03-02T09:12:00Z", "2026-03-02T09:45:00Z", "--engine",
                   engine, cwd=repo).stdout
        [written] = list(repo.rglob("backfill-*.parquet"))
        return pq.read_table(written).sort_by([("ticker", "ascending"),
                                               ("event_timestamp", "ascending")]), said

    on_flink, said = run("flink")
    embedded, _ = run("embedded")
    assert "warning" not in said
    assert on_flink.num_rows == embedded.num_rows > 50
    assert on_flink.select(EXACT).equals(embedded.select(EXACT))
    assert None in embedded["count_price_10m"].to_pylist() or \
        0 in embedded["count_price_10m"].to_pylist()  # empty windows are rows too
    for column in ROUNDED:
        for a, b in zip(on_flink[column].to_pylist(), embedded[column].to_pylist()):
            assert (a is None) == (b is None) and (a is None or abs(a - b) <= 1e-12 * abs(b)), \
                (column, a, b)
    # Events without a key: both engines refuse them, naming the source.
    pq.write_table(pa.Table.from_pylist(
        [dict(ticker=None, price=1.0, size=1, timestamp=BASE + timedelta(minutes=20))],
        schema=pa.schema([("ticker", pa.string()), ("price", pa.float64()),
                          ("size", pa.int64()), ("timestamp", US)])), repo / "data" / "trades" / "part-2.parquet")
    for engine in ("flink", "embedded"):
        failed = cli("materialize", "2026-03-02T09:12:00Z", "2026-03-02T09:45:00Z", "--engine",
                     engine, cwd=repo, ok=False)
        assert "source 'trades' (data/trades): " in failed.stderr and "null join key" in \
            failed.stderr, failed.stderr


def test_entity_rows_from_a_flink_sql_query(addresses, tmp_path, cli):
    """As Feast's engines accept SQL for entity_df: a query over the file sources, each a table
    of its name, run on the cluster; the rows it selects get their features as any others."""
    import headwater
    repo = make_repo(tmp_path, cli, addresses, 8)
    query = ("SELECT driver_id, event_timestamp FROM stats "
             "WHERE driver_id IS NOT NULL AND event_timestamp IS NOT NULL AND trips < 100")
    cli("get-historical-features", "--entity-query", query, "--features",
        "driver_stats:conv_rate", "--output", "queried.parquet", cwd=repo)
    queried = pq.read_table(repo / "queried.parquet")
    stats = pa.concat_tables([pq.read_table(f) for f in sorted((repo / "data" / "stats").iterdir())])
    expected = [r for r in stats.select(["driver_id", "event_timestamp", "trips"]).to_pylist()
                if r["driver_id"] is not None and r["event_timestamp"] is not None
                and r["trips"] < 100]
    assert sorted((r["driver_id"], r["event_timestamp"]) for r in queried.to_pylist()) == \
        sorted((r["driver_id"], r["event_timestamp"]) for r in expected)
    # The same rows as a file, on the embedded engine: the same features.
    pq.write_table(queried.select(["driver_id", "event_timestamp"]), repo / "rows.parquet")
    cli("get-historical-features", "--entities", "rows.parquet", "--features",
        "driver_stats:conv_rate", "--output", "embedded.parquet", "--engine", "embedded",
        cwd=repo)
    assert pq.read_table(repo / "embedded.parquet").equals(queried)
    # The SDK takes the query as entity_df.
    store = headwater.FeatureStore(repo_path=str(repo))
    from_sdk = store.get_historical_features(query, ["driver_stats:conv_rate"]).to_arrow()
    assert sorted(from_sdk.to_pylist(), key=str) == sorted(queried.to_pylist(), key=str)
    # A query Flink refuses: its message, exit 1, no output.
    failed = cli("get-historical-features", "--entity-query", "SELECT nope FROM stats",
                 "--features", "driver_stats:conv_rate", "--output", "bad.parquet", cwd=repo,
                 ok=False)
    assert failed.returncode == 1 and "the entity query on Flink" in failed.stderr
    assert "nope" in failed.stderr and not (repo / "bad.parquet").exists()


def test_compile_flink_writes_the_batch_jobs(tmp_path, cli):
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: batch\n")
    (repo / "definitions.yaml").write_text(definitions())
    rng = random.Random(9)
    write_stats(repo / "data" / "stats", rng)
    write_pairs(repo / "data" / "pairs", rng)
    cli("compile", "flink", cwd=repo)
    script = (repo / "flink" / "batch.sql").read_text()
    for job in ("headwater-batch-materialize-driver_stats", "headwater-batch-materialize-pair_stats",
                "headwater-batch-training-data"):
        assert f"SET 'pipeline.name' = '{job}';" in script
    assert script.count("EXECUTE STATEMENT SET BEGIN") == 6  # 3 views x (materialize, retrieval)
    assert "ROW_NUMBER() OVER (PARTITION BY e.`__row`" in script

"""materialize, materialize-incremental and get-online-features on RocksDB, SQLite and a real
Redis."""
import json
import os
import random
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import HEADWATER, ROOT

US = pa.timestamp("us", tz="UTC")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
HOUR = timedelta(hours=1)

DEFINITIONS = """
entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
  - {name: rider, join_keys: [rider_id], value_type: INT32}
  - {name: city, join_keys: [city], value_type: STRING}
sources:
  - {name: stats_src, path: data/stats.parquet, timestamp_field: ts, created_timestamp_column: created}
  - {name: pair_src, path: data/pairs.parquet, timestamp_field: ts}
feature_views:
  - name: stats
    entities: [driver]
    ttl: 1d
    source: stats_src
    schema:
      - {name: rate, dtype: Float32}
      - {name: trips, dtype: Int64}
      - {name: tags, dtype: Array(String)}
      - {name: note, dtype: String}
  - name: pairs
    entities: [rider, city]
    ttl: 0
    source: pair_src
feature_services:
  - {name: svc, features: [stats, pairs]}
"""


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    directory = tmp_path_factory.mktemp("redis")
    port = subprocess.run([ROOT / "scripts" / "start_redis", directory], check=True,
                          capture_output=True, text=True).stdout.strip()
    yield int(port)
    subprocess.run([ROOT / "scripts" / "stop_redis", directory], check=False)


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory):
    """A real Redis Cluster of 3 masters (scripts/start_redis_cluster): Feast's connection_string."""
    directory = tmp_path_factory.mktemp("redis_cluster")
    nodes = subprocess.run([ROOT / "scripts" / "start_redis_cluster", directory], check=True,
                           capture_output=True, text=True, timeout=120).stdout.strip()
    yield nodes
    subprocess.run([ROOT / "scripts" / "stop_redis_cluster", directory], check=False)


def write_repo(root: Path, store: str, redis_port=None, cluster_nodes=None):
    (root / "data").mkdir(parents=True, exist_ok=True)
    online = {"rocksdb": "online_store: {type: rocksdb, path: data/online}\n",
              "sqlite": "online_store: {type: sqlite}\n",
              "redis": f"online_store: {{type: redis, connection_string: '127.0.0.1:{redis_port}'}}\n",
              "redis_cluster": "online_store: {type: redis, redis_type: redis_cluster, "
                               f"connection_string: '{cluster_nodes}'}}\n"}[store]
    (root / "feature_store.yaml").write_text(f"project: p{random.randrange(10**9)}\n" + online)
    (root / "defs.yaml").write_text(DEFINITIONS)
    stats = [
        # driver 1: newest row wins over an older one; a later created wins the tie at NOW-2h.
        dict(driver_id=1, ts=NOW - 5 * HOUR, created=NOW, rate=0.5, trips=1, tags=["a"], note="old"),
        dict(driver_id=1, ts=NOW - 2 * HOUR, created=NOW - HOUR, rate=0.25, trips=2, tags=[], note=None),
        dict(driver_id=1, ts=NOW - 2 * HOUR, created=NOW, rate=1.111, trips=3, tags=["x", None],
             note="new"),
        # driver 2**40: beyond 32 bits; its only row is 2 days old, beyond the 1-day ttl.
        dict(driver_id=2**40, ts=NOW - 48 * HOUR, created=NOW, rate=2.0, trips=4, tags=None, note="n"),
        # driver 3: a row in the future relative to the materialization end below.
        dict(driver_id=3, ts=NOW - HOUR, created=NOW, rate=None, trips=5, tags=["q"], note="q"),
    ]
    pq.write_table(pa.Table.from_pylist(stats, schema=pa.schema([
        ("driver_id", pa.int64()), ("ts", US), ("created", US), ("rate", pa.float32()),
        ("trips", pa.int64()), ("tags", pa.list_(pa.string())), ("note", pa.string())])),
        root / "data" / "stats.parquet")
    pairs = [dict(rider_id=7, city="paris", ts=NOW - 3 * HOUR, score=1.5),
             dict(rider_id=7, city="rome", ts=NOW - 3 * HOUR, score=2.5)]
    pq.write_table(pa.Table.from_pylist(pairs, schema=pa.schema([
        ("rider_id", pa.int32()), ("city", pa.string()), ("ts", US), ("score", pa.float64())])),
        root / "data" / "pairs.parquet")


@pytest.fixture(params=["rocksdb", "sqlite", "redis", "redis_cluster"])
def repo(request, tmp_path, cli, redis_port):
    cluster = request.getfixturevalue("redis_cluster") if request.param == "redis_cluster" else None
    write_repo(tmp_path, request.param, redis_port, cluster)
    cli("apply")
    yield tmp_path
    cli("teardown")


def online(cli, entities, *features, service=None, full=False):
    args = ["get-online-features", "--entities", json.dumps(entities)]
    args += ["--feature-service", service] if service else ["--features", ",".join(features)]
    if full:
        args.append("--full-feature-names")
    response = json.loads(cli(*args).stdout)
    names = response["metadata"]["feature_names"]
    return {name: result for name, result in zip(names, response["results"])}


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_materialize_then_read_with_every_status(repo, cli):
    out = cli("materialize", iso(NOW - 10 * HOUR - 48 * HOUR), iso(NOW - HOUR)).stdout
    assert "stats: [" in out and "4 in range, 2 keys: 2 written, 0 skipped as older" in out
    got = online(cli, {"driver_id": [1, 2**40, 3, 99]}, "stats:rate", "stats:trips", "stats:tags",
                 "stats:note")
    assert got["driver_id"]["values"] == [1, 2**40, 3, 99]
    rate = got["rate"]
    # 1: the NOW-2h row created last; 2**40: older than the ttl; 3: its row is at END, excluded.
    assert rate["values"] == [1.111, None, None, None]
    assert rate["statuses"] == ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND", "NOT_FOUND"]
    assert rate["event_timestamps"][0] == iso(NOW - 2 * HOUR)
    assert got["trips"]["values"][0] == 3
    assert got["tags"]["values"][0] == ["x", None]
    assert got["note"]["values"][0] == "new"

    cli("materialize", iso(NOW - HOUR), iso(NOW))
    got = online(cli, {"driver_id": [3]}, "stats:rate", "stats:trips")
    assert got["rate"]["statuses"] == ["NULL_VALUE"] and got["rate"]["values"] == [None]
    assert got["trips"]["values"] == [5]


def test_composite_and_int32_keys_and_full_names(repo, cli):
    cli("materialize", iso(NOW - 10 * HOUR), iso(NOW))
    got = online(cli, {"rider_id": [7, 7, 8], "city": ["rome", "paris", "rome"]}, "pairs:score",
                 full=True)
    assert got["pairs__score"]["values"] == [2.5, 1.5, None]
    both = online(cli, {"driver_id": [1], "rider_id": [7], "city": ["rome"]}, service="svc")
    assert list(both) == ["driver_id", "rider_id", "city", "rate", "trips", "tags", "note", "score"]


def test_null_entities_read_nothing(repo, cli):
    # A null key part is never looked up (RocksDB asserts on an empty key slice): NOT_FOUND.
    cli("materialize", iso(NOW - 10 * HOUR), iso(NOW))
    got = online(cli, {"driver_id": [None, 1], "rider_id": [7, None], "city": ["rome", "rome"]},
                 "stats:note", "pairs:score")
    assert got["note"]["statuses"] == ["NOT_FOUND", "PRESENT"]
    assert got["score"]["statuses"] == ["PRESENT", "NOT_FOUND"]
    assert online(cli, {"driver_id": [None]}, "stats:note")["note"]["values"] == [None]


@pytest.mark.parametrize("entities,features,message", [
    ({"rider_id": [7]}, "pairs:score", "lack join key 'city' needed by feature view 'pairs'"),
    ({"driver_id": ["1"]}, "stats:rate", "entities.driver_id[0]: expected an integer, got the string"),
    ({"driver_id": [1.5]}, "stats:rate", "expected an integer, got a non-integer number"),
    ({"city": [1], "rider_id": [7]}, "pairs:score", "entities.city[0]: expected a string"),
    ({"driver_id": []}, "stats:rate", "entities.driver_id is empty"),
    ({"driver_id": 1}, "stats:rate", "must be a list of values"),
    ({"driver_id": [1], "rider_id": [1, 2]}, "stats:rate", "has 2 values but"),
    ({"driver_id": [1]}, "stats:nope", "has no feature 'nope'"),
    ({"driver_id": [1]}, "nope:rate", "unknown feature view 'nope'"),
])
def test_bad_online_requests_are_clear_errors(repo, cli, entities, features, message):
    result = cli("get-online-features", "--entities", json.dumps(entities), "--features", features,
                 ok=False)
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_malformed_entities_json(repo, cli):
    for text, message in [("{", "not valid JSON"), ("[1]", "must be a JSON object"), ("", "not valid JSON")]:
        result = cli("get-online-features", "--entities", text, "--features", "stats:rate", ok=False)
        assert message in result.stderr


def test_older_writes_never_overwrite_newer(repo, cli):
    cli("materialize", iso(NOW - 3 * HOUR), iso(NOW))  # driver 1's NOW-2h rows
    out = cli("materialize", iso(NOW - 10 * HOUR), iso(NOW - 3 * HOUR)).stdout  # its NOW-5h row
    assert "0 written, 1 skipped as older" in out
    assert online(cli, {"driver_id": [1]}, "stats:trips")["trips"]["values"] == [3]


def test_incremental_starts_at_the_oldest_row_and_continues(repo, cli):
    first = cli("materialize-incremental", iso(NOW - 3 * HOUR)).stdout
    assert f"stats: [{iso(NOW - 48 * HOUR)}, {iso(NOW - 3 * HOUR)})" in first
    second = cli("materialize-incremental", iso(NOW)).stdout
    assert f"stats: [{iso(NOW - 3 * HOUR)}, {iso(NOW)})" in second
    assert "up to date" in cli("materialize-incremental", iso(NOW)).stdout
    registry = json.loads(cli("registry-dump").stdout)
    assert [i["end"] for i in registry["materializations"]["stats"]] == [iso(NOW - 3 * HOUR), iso(NOW)]
    # An end in the future is clamped to now, and the line says so.
    future = cli("materialize-incremental", iso(NOW + timedelta(days=1))).stdout
    assert f"the end asked for, {iso(NOW + timedelta(days=1))}, is in the future: " \
        "materialized up to now" in future
    registry = json.loads(cli("registry-dump").stdout)
    last = datetime.fromisoformat(registry["materializations"]["stats"][-1]["end"].replace(
        "Z", "+00:00"))
    assert NOW <= last <= datetime.now(timezone.utc)
    assert "is not before now" in cli("materialize", iso(NOW + HOUR), iso(NOW + 2 * HOUR),
                                      ok=False).stderr


def test_bad_materialize_arguments(repo, cli):
    assert "must be before the end" in cli("materialize", iso(NOW), iso(NOW - HOUR), ok=False).stderr
    assert "START: 'yesterday'" in cli("materialize", "yesterday", iso(NOW), ok=False).stderr
    assert "unknown feature view 'nope'" in cli("materialize", iso(NOW - HOUR), iso(NOW),
                                                 "--views", "nope", ok=False).stderr


def test_changing_a_views_features_drops_its_online_values(repo, cli):
    cli("materialize", iso(NOW - 10 * HOUR), iso(NOW))
    defs = repo / "defs.yaml"
    defs.write_text(defs.read_text().replace("      - {name: note, dtype: String}\n", ""))
    out = cli("apply").stdout
    assert "dropped the values of stats" in out
    assert online(cli, {"driver_id": [1]}, "stats:rate")["rate"]["statuses"] == ["NOT_FOUND"]
    assert online(cli, {"rider_id": [7], "city": ["rome"]}, "pairs:score")["score"]["values"] == [2.5]
    assert "stats" not in json.loads(cli("registry-dump").stdout)["materializations"]


def test_teardown_removes_online_values(repo, cli):
    cli("materialize", iso(NOW - 10 * HOUR), iso(NOW))
    assert "Removed the online store" in cli("teardown").stdout
    cli("apply")
    assert online(cli, {"driver_id": [1]}, "stats:rate")["rate"]["statuses"] == ["NOT_FOUND"]


def test_unreachable_redis_is_a_clear_error(tmp_path, cli):
    write_repo(tmp_path, "redis", redis_port=1)
    assert "cannot connect to Redis at 127.0.0.1:1" in cli("apply", ok=False).stderr

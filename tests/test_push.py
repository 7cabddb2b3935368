"""Push sources: POST /push online, offline (appended Parquet files retrieval sees), both."""
import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from test_online import HOUR, NOW, iso
from test_server import Server

US = pa.timestamp("us", tz="UTC")

DEFINITIONS = """
entities: [{name: driver, join_keys: [driver_id]}]
sources:
  - {name: stats_batch, path: data/stats, timestamp_field: ts}
  - {name: stats_push, type: push, batch_source: stats_batch}
feature_views:
  - name: stats
    entities: [driver]
    ttl: 0
    source: stats_push
    schema: [{name: trips, dtype: Int64}, {name: rate, dtype: Float64}]
"""


@pytest.fixture
def repo(tmp_path, cli):
    (tmp_path / "data" / "stats").mkdir(parents=True)
    (tmp_path / "feature_store.yaml").write_text("project: push\n")
    (tmp_path / "defs.yaml").write_text(DEFINITIONS)
    pq.write_table(pa.Table.from_pylist(
        [dict(driver_id=1, ts=NOW - 5 * HOUR, trips=1, rate=0.5)],
        schema=pa.schema([("driver_id", pa.int64()), ("ts", pa.timestamp("ns")),
                          ("trips", pa.int64()), ("rate", pa.float64())])),
        tmp_path / "data" / "stats" / "history.parquet")
    cli("apply")
    return tmp_path


def push(server, df, to="online", source="stats_push"):
    return server.post("/push", {"push_source_name": source, "df": df, "to": to})


def test_push_online_offline_and_both(repo, cli, tmp_path):
    server = Server(repo)
    try:
        df = {"driver_id": [1, 2], "ts": [iso(NOW - HOUR)] * 2, "trips": [10, 20], "rate": [1.0, None]}
        status, response = push(server, df)
        assert status == 200 and response["online_views"] == ["stats"], response
        got = server.post("/get-online-features", {"features": ["stats:trips", "stats:rate"],
                                                   "entities": {"driver_id": [1, 2]}})[1]
        assert got["results"][1]["values"] == [10, 20]
        assert got["results"][2]["statuses"] == ["PRESENT", "NULL_VALUE"]
        assert len(list((repo / "data" / "stats").iterdir())) == 1  # online only

        status, response = push(server, {**df, "trips": [11, 21]}, to="offline")
        assert status == 200 and response["online_views"] == [] and "offline_file" in response
        files = sorted(p.name for p in (repo / "data" / "stats").iterdir())
        assert files[0] == "history.parquet" and files[1].startswith("push-")
        assert pq.read_table(repo / "data" / "stats" / files[1]).schema.field("ts").type == \
            pa.timestamp("ns")  # appended with the batch source's own column types

        status, response = push(server, {**df, "ts": [iso(NOW)] * 2, "trips": [12, 22]}, to="both")
        assert status == 200 and response["online_views"] == ["stats"]
    finally:
        server.stop()
    # Historical retrieval sees the history and both offline pushes.
    (tmp_path / "entities.csv").write_text(
        f"driver_id,event_timestamp\n1,{iso(NOW - 3 * HOUR)}\n1,{iso(NOW - HOUR)}\n2,{iso(NOW)}\n")
    cli("get-historical-features", "--entities", "entities.csv", "--features", "stats:trips",
        "--output", "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").column("trips").to_pylist() == [1, 11, 22]


def test_bad_pushes_change_nothing(repo):
    server = Server(repo)
    try:
        good = {"driver_id": [3], "ts": [iso(NOW)], "trips": [1], "rate": [1.0]}
        cases = [
            (push(server, good, source="nope"), 404, "unknown push source 'nope'"),
            (push(server, good, source="stats_batch"), 404, "unknown push source"),
            (push(server, good, to="sideways"), 400, '"to" must be'),
            (push(server, {**good, "trips": ["many"]}, to="both"), 400, "df.trips[0]"),
            (push(server, {k: v for k, v in good.items() if k != "rate"}, to="both"), 400,
             "lacks column 'rate'"),
            (push(server, {**good, "ts": [None]}, to="both"), 400, "df.ts[0] is null"),
            (server.post("/push", raw=b'{"push_source_name": "stats_push", "df": [1]}'), 400,
             "df must be a JSON object"),
        ]
        for (status, response), expected, detail in cases:
            assert status == expected and detail in response["detail"], response
        assert len(list((repo / "data" / "stats").iterdir())) == 1
        got = server.post("/get-online-features", {"features": ["stats:trips"],
                                                   "entities": {"driver_id": [3]}})[1]
        assert got["results"][1]["statuses"] == ["NOT_FOUND"]
    finally:
        server.stop()


def test_push_scopes(repo, cli):
    token = "pusher-secret-0123456789"
    digest = cli("hash-token", token).stdout.strip()
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text() +
                      f"auth:\n  tokens: [{{name: p, sha256: {digest}, scopes: [write_online]}}]\n")
    import urllib.request, urllib.error

    server = Server(repo)
    try:
        def call(to, auth=True):
            body = json.dumps({"push_source_name": "stats_push", "to": to, "df": {
                "driver_id": [4], "ts": [iso(NOW)], "trips": [1], "rate": [1.0]}}).encode()
            request = urllib.request.Request(server.url + "/push", data=body, method="POST")
            if auth:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code
        assert call("online", auth=False) == 401
        assert call("online") == 200
        assert call("offline") == 403
        assert call("both") == 403
    finally:
        server.stop()


@pytest.mark.parametrize("definitions,message", [
    (DEFINITIONS.replace("batch_source: stats_batch", "batch_source: nothing"),
     "batch_source 'nothing' is not a file source"),
    (DEFINITIONS.replace("type: push, batch_source: stats_batch", "type: push"),
     "missing required field 'batch_source'"),
    (DEFINITIONS.replace("type: push, batch_source: stats_batch",
                         "type: push, batch_source: stats_batch, path: x"),
     "takes 'path' from its batch_source"),
])
def test_push_source_definition_errors(repo, cli, definitions, message):
    (repo / "defs.yaml").write_text(definitions)
    assert message in cli("plan", ok=False).stderr


def test_a_single_file_batch_source_takes_pushed_rows(repo, cli):
    """Feast's template: the push source's batch source is one Parquet file. Pushed rows are
    appended by rewriting it atomically, under a lock, so concurrent pushes lose nothing and
    readers see the whole old file or the whole new one."""
    (repo / "defs.yaml").write_text(DEFINITIONS.replace("path: data/stats,",
                                                        "path: data/stats/history.parquet,"))
    assert "must be a directory" not in cli("apply").stderr
    server = Server(repo)
    try:
        import concurrent.futures
        def one(i):
            df = {"driver_id": [100 + i], "ts": [iso(NOW - HOUR)], "trips": [i], "rate": [0.25]}
            return push(server, df, to="offline")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(16)))
        assert all(status == 200 for status, _ in answers), answers
        assert answers[0][1]["offline_file"] == "history.parquet"
    finally:
        server.stop()
    table = pq.read_table(repo / "data" / "stats" / "history.parquet")
    assert sorted(table["driver_id"].to_pylist()) == [1] + list(range(100, 116))
    assert sorted(p.name for p in (repo / "data" / "stats").iterdir()) == [
        "history.parquet", "history.parquet.lock"]
    pq.write_table(pa.table({"driver_id": [1, 107], "event_timestamp": pa.array(
        [NOW, NOW], US)}), repo / "rows.parquet")
    cli("get-historical-features", "--entities", "rows.parquet", "--features", "stats:trips",
        "--output", "out.parquet")
    assert pq.read_table(repo / "out.parquet")["trips"].to_pylist() == [1, 7]

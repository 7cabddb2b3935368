"""Hostile and careless input (issue 11): nothing crashes the server or the CLI, nothing escapes
the repository, nothing poisons the stores. Each test names the class of input it pins."""
import json
import os
import socket
import time
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import HEADWATER
from test_online import HOUR, NOW, iso
from test_server import Server

TOKEN = "all-scopes-token-0123456789"
READER = "read-only-token-0123456789"

DEFINITIONS = """
entities: [{name: driver, join_keys: [driver_id]}]
sources:
  - {name: stats_batch, path: data/stats, timestamp_field: ts, created_timestamp_column: created}
  - {name: stats_push, type: push, batch_source: stats_batch}
feature_views:
  - name: stats
    entities: [driver]
    ttl: 0
    source: stats_push
    schema: [{name: trips, dtype: Int64}, {name: rate, dtype: Float32}]
"""

DEEP = 200_000  # the body: 400 KB of nested brackets


def deep_array(depth=DEEP):
    return "[" * depth + "]" * depth


def write_repo(root, cli, auth=True):
    (root / "data" / "stats").mkdir(parents=True, exist_ok=True)
    config = "project: hardening\n"
    if auth:
        config += "auth:\n  tokens:\n"
        for name, token, scopes in [("all", TOKEN, "[read_online, write_online, write_offline, "
                                                   "materialize]"),
                                    ("reader", READER, "[read_online]")]:
            digest = cli("hash-token", token).stdout.strip()
            config += f"    - {{name: {name}, sha256: {digest}, scopes: {scopes}}}\n"
    (root / "feature_store.yaml").write_text(config)
    (root / "defs.yaml").write_text(DEFINITIONS)
    pq.write_table(pa.Table.from_pylist(
        [dict(driver_id=1, ts=NOW - 5 * HOUR, created=NOW - 5 * HOUR, trips=1, rate=0.5)],
        schema=pa.schema([("driver_id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")),
                          ("created", pa.timestamp("us", tz="UTC")), ("trips", pa.int64()),
                          ("rate", pa.float32())])),
        root / "data" / "stats" / "history.parquet")
    cli("apply", cwd=root)
    return root


class AuthServer(Server):
    """A server whose requests carry a bearer token (None: no Authorization header)."""

    token = TOKEN

    def request(self, method, path, body=None, raw=None):
        import urllib.error
        import urllib.request
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


@pytest.fixture
def server(tmp_path, cli):
    write_repo(tmp_path, cli)
    running = AuthServer(tmp_path)
    yield running
    running.stop()


def alive(server):
    status, body = server.get("/health")
    assert status == 200 and json.loads(body)["status"] == "ok", body


# --- Crashes: deep nesting everywhere JSON enters -------------------------------------------

@pytest.mark.parametrize("path", ["/push", "/get-online-features", "/write-to-online-store",
                                  "/materialize", "/materialize-incremental"])
def test_deeply_nested_json_is_a_400_naming_the_limit_on_every_endpoint(server, path):
    for body in ['{"df": ' + deep_array() + "}", deep_array(), '{"a":' * DEEP + "1" + "}" * DEEP,
                 '{"df": ' + deep_array(65) + "}"]:
        status, response = server.post(path, raw=body.encode())
        assert status == 400, (path, status, str(response)[:200])
        assert "64" in response["detail"] and "deep" in response["detail"], response
    # Nesting a real request has stays accepted.
    status, _ = server.post("/get-online-features", {"features": ["stats:trips"],
                                                      "entities": {"driver_id": [1]}})
    assert status == 200
    alive(server)


def test_unauthenticated_bodies_are_never_parsed(server):
    server.token = None
    status, response = server.post("/push", raw=deep_array().encode())
    assert status == 401, response
    server.token = "not-a-valid-token-0123456789"
    assert server.post("/push", raw=deep_array().encode())[0] == 401
    alive(server)


def test_an_unauthenticated_caller_cannot_tell_which_push_sources_exist(server):
    df = {"driver_id": [1], "ts": [iso(NOW)], "trips": [1], "rate": [1.0]}
    answers = {}
    for token in [None, "not-a-valid-token-0123456789", READER]:
        server.token = token
        for source in ["stats_push", "no_such_source"]:
            for to in ["online", "offline"]:
                answers[(token, source, to)] = server.post(
                    "/push", {"push_source_name": source, "df": df, "to": to})
    for token in [None, "not-a-valid-token-0123456789", READER]:
        got = {answers[(token, s, t)][0] for s in ["stats_push", "no_such_source"]
               for t in ["online", "offline"]}
        bodies = {json.dumps(answers[(token, s, t)][1]) for s in ["stats_push", "no_such_source"]
                  for t in ["online", "offline"]}
        assert got == ({403} if token == READER else {401}), (token, got)
        assert len(bodies) == 1, bodies  # the same answer whether the source exists or not


# --- Names are paths and metric labels ------------------------------------------------------

@pytest.mark.parametrize("name", ["../../escape", "a/b", "..", "view\"} 1\nx{a=\"", "a b", "",
                                  "-dash", "x" * 129, "caf\u00e9"])
@pytest.mark.parametrize("kind", ["feature_view", "source", "entity", "feature_service"])
def test_every_object_name_follows_one_rule_at_apply(tmp_path, cli, kind, name):
    write_repo(tmp_path, cli, auth=False)
    quoted = json.dumps(name)
    text = DEFINITIONS
    if kind == "feature_view":
        text = text.replace("  - name: stats\n", f"  - name: {quoted}\n")
    elif kind == "source":
        text = text.replace("{name: stats_push,", f"{{name: {quoted},").replace(
            "source: stats_push", f"source: {quoted}")
    elif kind == "entity":
        text = text.replace("{name: driver,", f"{{name: {quoted},").replace(
            "entities: [driver]", f"entities: [{quoted}]")
    else:
        text += f"feature_services: [{{name: {quoted}, features: [stats]}}]\n"
    (tmp_path / "defs.yaml").write_text(text)
    result = cli("apply", ok=False)
    assert result.returncode == 1
    rule = "must not be empty" if name == "" else "letters, digits"
    assert "defs.yaml:" in result.stderr and rule in result.stderr, result.stderr
    assert not (tmp_path.parent / "escape").exists()


def test_names_with_dashes_and_digits_are_accepted(tmp_path, cli):
    write_repo(tmp_path, cli, auth=False)
    (tmp_path / "defs.yaml").write_text(DEFINITIONS.replace("  - name: stats\n",
                                                            "  - name: 7day-stats_v2\n"))
    cli("apply")


def stream_repo(root, cli):
    from test_stream import write_repo as write_stream_repo
    write_stream_repo(root)
    cli("apply", cwd=root)
    return root


def test_a_hand_edited_registry_cannot_put_files_outside_the_repository(tmp_path, cli):
    repo = stream_repo(tmp_path / "repo", cli)
    registry_path = repo / "data" / "registry.json"
    registry = json.loads(registry_path.read_text())
    view = registry["feature_views"][0]
    view["name"] = "../../../escape"
    view["windows_path"] = "../../../escape"
    registry_path.write_text(json.dumps(registry))
    for command in [["materialize", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"],
                    ["stream"], ["registry-dump"]]:
        result = cli(*command, cwd=repo, ok=False)
        assert result.returncode == 1
        assert "registry.json" in result.stderr and "../../../escape" in result.stderr, \
            result.stderr
    assert not (tmp_path / "escape").exists()

    # The windows directory is derived from the name, never trusted from the file.
    registry = json.loads((repo / "data" / "registry.json").read_text())
    registry["feature_views"][0]["name"] = "ticker_windows"
    registry["feature_views"][0]["windows_path"] = "/tmp/elsewhere"
    registry_path.write_text(json.dumps(registry))
    cli("materialize", "2000-01-01T00:00:00Z", "2026-03-01T00:00:00Z", cwd=repo)
    assert (repo / "data" / "offline" / "ticker_windows").is_dir()
    assert not os.path.exists("/tmp/elsewhere")


# --- Values that poison the stores ----------------------------------------------------------

def offline_files(server_repo):
    return sorted(p.name for p in (server_repo / "data" / "stats").iterdir())


@pytest.mark.parametrize("to", ["online", "offline", "online_and_offline"])
@pytest.mark.parametrize("column,value,message", [
    ("driver_id", None, "df.driver_id[1] is null"),
    ("ts", None, "df.ts[1] is null"),
    ("ts", "9999-12-31T00:00:00Z", "later than now + 1d"),
    ("ts", "0001-01-01T00:00:00Z", "before 1900-01-01"),
    ("created", "9999-12-31T00:00:00Z", "later than now + 1d"),
    ("rate", 1e300, "df.rate[1]: 1e+300 is out of range for Float32"),
    ("rate", -3.5e38, "out of range for Float32"),
    ("trips", 2**63, "df.trips[1]"),
])
def test_every_push_mode_checks_every_row_before_writing(tmp_path, server, to, column, value,
                                                         message):
    df = {"driver_id": [1, 2], "ts": [iso(NOW - HOUR)] * 2, "created": [iso(NOW - HOUR)] * 2,
          "trips": [1, 2], "rate": [0.5, 0.25]}
    df[column] = [df[column][0], value]
    before = offline_files(tmp_path)
    status, response = server.post("/push", {"push_source_name": "stats_push", "df": df, "to": to})
    assert status == 400 and message in response["detail"], response
    assert offline_files(tmp_path) == before
    got = server.post("/get-online-features", {"features": ["stats:trips"],
                                                "entities": {"driver_id": [1, 2]}})[1]
    assert got["results"][1]["statuses"] == ["NOT_FOUND", "NOT_FOUND"]


def test_write_to_online_store_checks_bounds_and_ranges(server):
    base = {"driver_id": [1], "ts": [iso(NOW - HOUR)], "trips": [1], "rate": [0.5]}
    for column, value, message in [("ts", "9999-12-31T00:00:00Z", "later than now + 1d"),
                                   ("ts", "1000-01-01T00:00:00Z", "before 1900"),
                                   ("rate", 1e300, "out of range for Float32")]:
        status, response = server.post("/write-to-online-store", {
            "feature_view_name": "stats", "df": {**base, column: [value]}})
        assert status == 400 and message in response["detail"], response
    status, _ = server.post("/write-to-online-store", {"feature_view_name": "stats", "df": base})
    assert status == 200


def test_a_future_row_cannot_lock_its_key(server):
    df = {"driver_id": [1], "ts": [iso(NOW + timedelta(days=3650))], "trips": [1], "rate": [0.5]}
    assert server.post("/push", {"push_source_name": "stats_push", "df": df})[0] == 400
    df = {"driver_id": [1], "ts": [iso(NOW - HOUR)], "trips": [7], "rate": [0.5]}
    assert server.post("/push", {"push_source_name": "stats_push", "df": df})[0] == 200
    got = server.post("/get-online-features", {"features": ["stats:trips"],
                                                "entities": {"driver_id": [1]}})[1]
    assert got["results"][1]["values"] == [7]


@pytest.mark.parametrize("path,body", [
    ("/materialize", {"start_ts": "2020-01-01T00:00:00Z", "end_ts": "9999-01-01T00:00:00Z"}),
    ("/materialize-incremental", {"end_ts": "9999-01-01T00:00:00Z"}),
])
def test_materialize_bounds_in_the_future_are_clamped_to_now(tmp_path, server, path, body):
    """An end in the future is clamped to now: what is recorded never claims rows that could
    still arrive, and the answer says what was asked."""
    status, response = server.post(path, body)
    assert status == 200 and response["feature_views"][0]["requested_end"] == body["end_ts"]
    registry = json.loads((tmp_path / "data" / "registry.json").read_text())
    [interval] = registry["materializations"]["stats"]
    end = datetime.fromisoformat(interval["end"].replace("Z", "+00:00"))
    assert end <= datetime.now(timezone.utc)
    status, response = server.post("/materialize", {"start_ts": "9998-01-01T00:00:00Z",
                                                    "end_ts": "9999-01-01T00:00:00Z"})
    assert status == 400 and "is not before now" in response["detail"], response


def test_materialize_in_the_future_is_clamped_by_the_cli_too(tmp_path, cli):
    write_repo(tmp_path, cli, auth=False)
    result = cli("materialize", "2020-01-01T00:00:00Z", "9999-01-01T00:00:00Z")
    assert "the end asked for, 9999-01-01T00:00:00Z, is in the future: materialized up to now" \
        in result.stdout


def test_max_event_time_skew_is_configurable(tmp_path, cli):
    write_repo(tmp_path, cli, auth=False)
    config = tmp_path / "feature_store.yaml"
    config.write_text(config.read_text() + "max_event_time_skew: 0s\n")
    server = Server(tmp_path)
    try:
        # The clock now, not NOW: that is taken when the tests are collected, and the suite may
        # reach this test more than five minutes later.
        later = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=5)
        df = {"driver_id": [1], "ts": [iso(later)], "trips": [1],
              "rate": [0.5]}
        status, response = server.post("/push", {"push_source_name": "stats_push", "df": df})
        assert status == 400 and "later than now + 0 (" in response["detail"], response
    finally:
        server.stop()
    config.write_text(config.read_text().replace("max_event_time_skew: 0s", "max_event_time_skew: -1s"))
    assert "max_event_time_skew" in cli("plan", ok=False).stderr


def test_stored_non_finite_floats_read_as_null_value(tmp_path, cli):
    (tmp_path / "data").mkdir()
    (tmp_path / "feature_store.yaml").write_text("project: nonfinite\n")
    (tmp_path / "defs.yaml").write_text(
        "entities: [{name: driver, join_keys: [driver_id]}]\n"
        "sources: [{name: s, path: data/s.parquet, timestamp_field: ts}]\n"
        "feature_views: [{name: v, entities: [driver], ttl: 0, source: s}]\n")
    pq.write_table(pa.Table.from_pylist(
        [dict(driver_id=i, ts=NOW - HOUR, x=x) for i, x in
         enumerate([1.5, float("inf"), float("-inf"), float("nan"), None])],
        schema=pa.schema([("driver_id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")),
                          ("x", pa.float32())])), tmp_path / "data" / "s.parquet")
    cli("apply")
    cli("materialize", iso(NOW - 2 * HOUR), iso(NOW))
    got = json.loads(cli("get-online-features", "--features", "v:x", "--entities",
                         json.dumps({"driver_id": [0, 1, 2, 3, 4]})).stdout)
    assert got["results"][1]["values"] == [1.5, None, None, None, None]
    assert got["results"][1]["statuses"] == ["PRESENT"] + ["NULL_VALUE"] * 4


# --- Smaller, same pass ---------------------------------------------------------------------

def raw_http(port, request: bytes):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    return data.decode(errors="replace")


@pytest.mark.parametrize("second", [b"1000", b"{n}, 1000", b"0"])
def test_conflicting_content_length_headers_are_refused(server, second):
    # The first header is right, so a server that takes the first one would answer 200.
    body = json.dumps({"features": ["stats:trips"], "entities": {"driver_id": [1]}}).encode()
    length = str(len(body)).encode()
    request = (b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Content-Length: " + length + b"\r\nContent-Length: " +
               second.replace(b"{n}", length) + b"\r\n"
               b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n" + body)
    answer = raw_http(server.port, request)
    assert answer.startswith("HTTP/1.1 400"), answer[:300]
    assert "Content-Length" in answer
    alive(server)


def test_repeated_equal_content_length_headers_are_accepted(server):
    body = json.dumps({"features": ["stats:trips"], "entities": {"driver_id": [1]}}).encode()
    length = str(len(body)).encode()
    request = (b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Content-Length: " + length + b"\r\nContent-Length: " + length + b"\r\n"
               b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n" + body)
    assert raw_http(server.port, request).startswith("HTTP/1.1 200")


def test_a_corrupted_registry_is_reported_by_health_and_the_log(tmp_path, server):
    registry = tmp_path / "data" / "registry.json"
    good = registry.read_text()
    registry.write_text("{ not a registry")
    deadline = time.time() + 10
    while time.time() < deadline:
        health = json.loads(server.get("/health")[1])
        if health["status"] != "ok":
            break
        time.sleep(0.1)
    assert health["status"] == "degraded" and "registry.json" in health["registry_error"], health
    assert health["registry_version"] == 1  # still serving the last good registry
    assert server.post("/get-online-features", {"features": ["stats:trips"],
                                                 "entities": {"driver_id": [1]}})[0] == 200
    assert "headwater_registry_reload_failing 1" in server.get("/metrics")[1]
    registry.write_text(good)
    os.utime(registry)
    deadline = time.time() + 10
    while time.time() < deadline and json.loads(server.get("/health")[1])["status"] != "ok":
        time.sleep(0.1)
    alive(server)
    server.process.terminate()
    assert "registry" in server.process.stderr.read()


# --- CLI and files --------------------------------------------------------------------------

def test_a_symlink_loop_among_definition_files_is_a_clear_error(driver_repo, cli):
    (driver_repo / "loop1.yaml").symlink_to("loop2.yaml")
    (driver_repo / "loop2.yaml").symlink_to("loop1.yaml")
    for command in ["plan", "apply"]:
        result = cli(command, cwd=driver_repo, ok=False)
        assert result.returncode == 1, result
        assert "loop" in result.stderr and ".yaml: cannot read" in result.stderr, result.stderr
        assert "symbolic links" in result.stderr, result.stderr
    (driver_repo / "subdir").symlink_to(driver_repo)  # a directory loop is not followed
    (driver_repo / "loop1.yaml").unlink()
    (driver_repo / "loop2.yaml").unlink()
    cli("plan", cwd=driver_repo)


@pytest.mark.parametrize("text,line,key", [
    ("entities:\n  - {name: a, name: b}\n", 2, "name"),
    ("entities:\n  - name: a\n    join_keys: [a]\n    name: b\n", 4, "name"),
    ("entities:\n  - {name: a}\nentities:\n  - {name: c}\n", 3, "entities"),
])
def test_duplicate_yaml_keys_are_errors_with_file_and_line(driver_repo, cli, text, line, key):
    (driver_repo / "dup.yaml").write_text(text)
    result = cli("plan", cwd=driver_repo, ok=False)
    assert f"dup.yaml:{line}:" in result.stderr and f"duplicate key '{key}'" in result.stderr, \
        result.stderr


def test_duplicate_keys_in_feature_store_yaml_are_errors(driver_repo, cli):
    config = driver_repo / "feature_store.yaml"
    config.write_text(config.read_text() + "provider: local\n")
    result = cli("plan", cwd=driver_repo, ok=False)
    assert "feature_store.yaml:" in result.stderr and "duplicate key 'provider'" in result.stderr


@pytest.mark.parametrize("depth", [65, 3000, 100_000])
def test_deep_yaml_is_a_clear_error_naming_the_limit(driver_repo, cli, depth):
    (driver_repo / "deep.yaml").write_text("x: " + deep_array(depth) + "\n")
    result = cli("plan", cwd=driver_repo, ok=False)
    assert result.returncode == 1
    assert "deep.yaml:1:" in result.stderr and "64 levels" in result.stderr, result.stderr
    assert "bad file" not in result.stderr


def test_yaml_aliases_cannot_blow_up(driver_repo, cli):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    (driver_repo / "bomb.yaml").write_text("\n".join(lines) + "\n")
    started = time.time()
    result = cli("plan", cwd=driver_repo, ok=False)
    assert time.time() - started < 20
    assert "bomb.yaml" in result.stderr


def test_a_deeply_nested_registry_file_is_a_clear_error(driver_repo, cli):
    (driver_repo / "data" / "registry.json").write_text(deep_array())
    for command in ["registry-dump", "plan", "apply", "materialize-incremental"]:
        args = [command] + (["2020-01-01T00:00:00Z"] if command.startswith("materialize") else [])
        result = cli(*args, cwd=driver_repo, ok=False)
        assert result.returncode == 1, (command, result.returncode, result.stderr)
        assert "registry.json" in result.stderr and "64" in result.stderr, result.stderr


def test_a_directory_where_the_registry_should_be_is_a_clear_error(driver_repo, cli):
    registry = driver_repo / "data" / "registry.json"
    registry.unlink()
    registry.mkdir()
    result = cli("registry-dump", cwd=driver_repo, ok=False)
    assert "is a directory" in result.stderr, result.stderr


@pytest.mark.parametrize("garbage", [b"\x1b[31mred\x00\xff\xfe: 1\n", b"\x1b[2Jred\x7f: 1\n",
                                     b"bad\xff\xfekey: 1\n"])
def test_binary_garbage_in_feature_store_yaml_is_escaped(driver_repo, garbage):
    import subprocess
    (driver_repo / "feature_store.yaml").write_bytes(b"project: p\n" + garbage)
    result = subprocess.run([HEADWATER, "plan"], cwd=driver_repo, capture_output=True)
    assert result.returncode == 1
    for raw in [b"\x1b", b"\xff", b"\x00", b"\x7f"]:
        assert raw not in result.stderr, result.stderr
    assert b"feature_store.yaml:2" in result.stderr and b"\\x" in result.stderr, result.stderr


def test_an_entity_file_with_a_million_columns_is_a_clear_error(driver_repo, cli):
    entities = driver_repo / "wide.csv"
    entities.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n" +
                        ",".join("1" for _ in range(1_000_000)) + "\n")
    result = cli("get-historical-features", "--entities", entities, "--feature-service",
                 "driver_activity", "--output", driver_repo / "out.csv", cwd=driver_repo, ok=False)
    assert result.returncode == 1
    assert "Empty CSV file" not in result.stderr and "wide.csv" in result.stderr, result.stderr
    assert "columns" in result.stderr or "header" in result.stderr, result.stderr
    assert not (driver_repo / "out.csv").exists()


def duplicate_column_parquet(path):
    table = pa.table([pa.array([1001]), pa.array([datetime(2024, 1, 1, tzinfo=timezone.utc)]),
                      pa.array([1])], names=["driver_id", "event_timestamp", "driver_id"])
    pq.write_table(table, path)


def test_parquet_with_duplicate_column_names_is_a_clear_error(driver_repo, cli):
    duplicate_column_parquet(driver_repo / "entities.parquet")
    result = cli("get-historical-features", "--entities", driver_repo / "entities.parquet",
                 "--feature-service", "driver_activity", "--output", driver_repo / "out.csv",
                 cwd=driver_repo, ok=False)
    assert "two columns named 'driver_id'" in result.stderr, result.stderr
    duplicate_column_parquet(driver_repo / "data" / "driver_stats.parquet")
    result = cli("plan", cwd=driver_repo, ok=False)
    assert "two columns named 'driver_id'" in result.stderr, result.stderr

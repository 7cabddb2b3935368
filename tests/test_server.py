"""headwater serve: Feast's HTTP API, hostile input, hot registry reload, TLS."""
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from conftest import HEADWATER
from test_online import HOUR, NOW, iso, write_repo


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, repo, *args, scheme="http"):
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([HEADWATER, "-c", repo, "serve", "--port", str(self.port),
                                         "--workers", "2", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.context = ssl._create_unverified_context() if scheme == "https" else None
        for _ in range(100):
            try:
                if self.get("/health")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.process.kill()
        raise AssertionError("server did not start: " + self.process.stderr.read())

    def request(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None, raw=None):
        status, text = self.request("POST", path, body, raw)
        return status, (json.loads(text) if text.startswith("{") else text)

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=10) == 0


@pytest.fixture
def repo(tmp_path, cli):
    write_repo(tmp_path, "rocksdb")
    cli("apply")
    cli("materialize", iso(NOW - 60 * HOUR), iso(NOW))
    return tmp_path


@pytest.fixture
def server(repo):
    running = Server(repo)
    yield running
    running.stop()


def test_online_features_match_the_cli_byte_for_byte(repo, server, cli):
    request = {"feature_service": "svc",
               "entities": {"driver_id": [1, 2**40, 99], "rider_id": [7, 7, 8],
                            "city": ["rome", "paris", "x"]}}
    status, text = server.request("POST", "/get-online-features", request)
    assert status == 200
    printed = cli("get-online-features", "--feature-service", "svc", "--entities",
                  json.dumps(request["entities"])).stdout.strip()
    assert text == printed
    body = json.loads(text)
    assert body["results"][3]["values"][0] == 1.111  # stats:rate, Float32 as written


def test_health_and_metrics(server):
    assert server.post("/get-online-features", {"features": ["stats:rate"],
                                                 "entities": {"driver_id": [1]}})[0] == 200
    server.post("/get-online-features", {"features": ["nope:x"], "entities": {"driver_id": [1]}})
    status, health = server.get("/health")
    assert status == 200 and json.loads(health)["status"] == "ok"
    status, metrics = server.get("/metrics")
    assert 'headwater_requests_total{endpoint="/get-online-features",code="2xx"} 1' in metrics
    assert 'headwater_errors_total{endpoint="/get-online-features"} 1' in metrics
    assert "headwater_request_duration_seconds_bucket" in metrics
    assert "headwater_online_store_read_duration_seconds_count" in metrics
    freshness = [line for line in metrics.splitlines()
                 if line.startswith('headwater_feature_freshness_seconds{feature_view="stats"}')]
    # The newest row is NOW - 1h; NOW was taken when the tests were collected, maybe minutes ago.
    since_now = (datetime.now(timezone.utc) - NOW).total_seconds()
    assert freshness and 3600 - 5 <= float(freshness[0].split()[-1]) < 3600 + since_now + 60


@pytest.mark.parametrize("body,status,detail", [
    (b"{", 400, "not valid JSON"),
    (b"[]", 400, "must be a JSON object"),
    (b"", 400, "not valid JSON"),
    (b'{"features": "stats:rate", "entities": {"driver_id": [1]}}', 400, '"features" must be a list'),
    (b'{"features": ["stats:rate"]}', 400, 'missing "entities"'),
    (b'{"entities": {"driver_id": [1]}}', 400, "give either features"),
    (b'{"features": ["stats:rate"], "entities": {"driver_id": ["1"]}}', 400, "expected an integer"),
    (b'{"features": ["stats:rate"], "entities": {"driver_id": []}}', 400, "is empty"),
    (b'{"features": ["pairs:score"], "entities": {"rider_id": [7]}}', 400, "lack join key 'city'"),
    (b'{"features": ["stats:nope"], "entities": {"driver_id": [1]}}', 404, "has no feature 'nope'"),
    (b'{"feature_service": "nope", "entities": {"driver_id": [1]}}', 404, "unknown feature service"),
    (b'{"features": ["stats:rate"], "entities": {"driver_id": [1]}, "full_feature_names": 1}', 400,
     "true or false"),
    (b'\xff\xfe\x00garbage', 400, "not valid JSON"),
])
def test_hostile_bodies_get_4xx_with_error_and_detail(server, body, status, detail):
    got, response = server.post("/get-online-features", raw=body)
    assert got == status, response
    assert set(response) == {"error", "detail"} and detail in response["detail"], response


def test_huge_arrays_wrong_paths_and_methods(server):
    status, response = server.post("/get-online-features", {
        "features": ["stats:rate"], "entities": {"driver_id": list(range(100_001))}})
    assert status == 400 and "at most 100000" in response["detail"]
    assert server.post("/nope", {})[0] == 404
    assert server.get("/get-online-features")[0] == 405
    assert server.get("/health")[0] == 200  # still alive


def test_bodies_over_the_limit_get_413(repo):
    small = Server(repo, "--max-body-bytes", "2000")
    try:
        for _ in range(3):
            status, _ = small.post("/get-online-features", {
                "features": ["stats:rate"], "entities": {"driver_id": list(range(1000))}})
            assert status == 413
        assert small.post("/get-online-features", {"features": ["stats:rate"],
                                                   "entities": {"driver_id": [1]}})[0] == 200
    finally:
        small.stop()
    # One line for the cause, not one per request.
    refused = [line for line in small.process.stderr.read().splitlines()
               if line.startswith("refused ")]
    assert len(refused) == 1, refused
    assert refused[0].startswith("refused 413 Request Entity Too Large: POST /get-online-features"
                                 " from 127.0.0.1"), refused


def test_refusals_are_logged_one_line_per_cause(repo):
    server = Server(repo)
    try:
        for _ in range(5):
            assert server.post("/get-online-features", raw=b"{not json")[0] == 400
            assert server.post("/get-online-features", {"features": ["nope:x"],
                                                        "entities": {"driver_id": [1]}})[0] == 404
        assert server.post("/push", {"push_source_name": "stats_push", "df": {}})[0] in (400, 404)
    finally:
        server.stop()
    refused = [line for line in server.process.stderr.read().splitlines()
               if line.startswith("refused ")]
    causes = [line.split(":")[0] for line in refused]
    assert len(causes) == len(set(causes)), refused  # no cause twice within the minute
    assert any(line.startswith("refused 400 invalid request: POST /get-online-features")
               for line in refused), refused
    assert any(line.startswith("refused 404 not found: POST /get-online-features")
               and "nope" in line for line in refused), refused


def test_stalled_clients_are_dropped_without_blocking_others(repo):
    slow = Server(repo, "--io-timeout", "1")
    try:
        stalled = socket.create_connection(("127.0.0.1", slow.port))
        stalled.sendall(b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        assert slow.post("/get-online-features", {"features": ["stats:rate"],
                                                  "entities": {"driver_id": [1]}})[0] == 200
        stalled.settimeout(5)
        leftover = stalled.recv(4096)  # the server gives up on it: a 408 or a closed connection
        assert leftover == b"" or b"408" in leftover.split(b"\r\n")[0]
        assert time.monotonic() - started < 4
    finally:
        stalled.close()
        slow.stop()


def test_write_to_online_store_is_all_or_nothing(server):
    row = {"driver_id": [5, 6], "ts": [iso(NOW - HOUR)] * 2, "rate": [0.5, 1.5], "trips": [1, 2],
           "tags": [["a"], None], "note": ["x", None]}
    status, response = server.post("/write-to-online-store", {"feature_view_name": "stats", "df": row})
    assert status == 200 and response["written"] == 2, response
    got = server.post("/get-online-features", {"features": ["stats:rate", "stats:tags"],
                                               "entities": {"driver_id": [5, 6]}})[1]
    assert got["results"][1]["values"] == [0.5, 1.5]
    assert got["results"][2]["values"] == [["a"], None]
    # One bad value anywhere: nothing is written.
    bad = dict(row, driver_id=[7, 8], rate=[0.25, "high"])
    status, response = server.post("/write-to-online-store", {"feature_view_name": "stats", "df": bad})
    assert status == 400 and "df.rate[1]: expected a number" in response["detail"]
    got = server.post("/get-online-features", {"features": ["stats:rate"],
                                               "entities": {"driver_id": [7, 8]}})[1]
    assert got["results"][1]["statuses"] == ["NOT_FOUND", "NOT_FOUND"]
    # Older rows never overwrite newer ones.
    older = dict(row, ts=[iso(NOW - 10 * HOUR)] * 2, rate=[9.0, 9.0])
    status, response = server.post("/write-to-online-store", {"feature_view_name": "stats", "df": older})
    assert status == 200 and response["skipped_older"] == 2
    for df, detail in [({**row, "ts": [None, iso(NOW)]}, "df.ts[0] is null"),
                       ({k: v for k, v in row.items() if k != "trips"}, "lacks column 'trips'"),
                       ({**row, "driver_id": [1]}, "values but df."),
                       ({**row, "ts": ["soon", "later"]}, "is not an ISO 8601 timestamp")]:
        status, response = server.post("/write-to-online-store", {"feature_view_name": "stats", "df": df})
        assert status == 400 and detail in response["detail"], response
    assert server.post("/write-to-online-store", {"feature_view_name": "nope", "df": row})[0] == 404


def test_materialize_endpoints(server):
    status, response = server.post("/materialize", {"start_ts": iso(NOW - 60 * HOUR),
                                                    "end_ts": iso(NOW), "feature_views": ["pairs"]})
    assert status == 200 and response["feature_views"][0]["name"] == "pairs", response
    status, response = server.post("/materialize-incremental", {"end_ts": iso(NOW)})
    assert status == 200
    later = iso(NOW.replace(year=NOW.year + 1))  # clamped to now; the answer says so
    status, response = server.post("/materialize-incremental", {"end_ts": later})
    assert status == 200 and response["feature_views"][0]["requested_end"] == later, response
    status, response = server.post("/materialize", {"start_ts": "x", "end_ts": iso(NOW)})
    assert status == 400 and "start_ts" in response["detail"]


def test_apply_while_serving_takes_effect_without_failing_requests(repo, server, cli):
    failures, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            status, _ = server.post("/get-online-features", {"features": ["stats:trips"],
                                                             "entities": {"driver_id": [1]}})
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        defs = repo / "defs.yaml"
        defs.write_text(defs.read_text().replace(
            "feature_services:",
            "  - {name: pairs_copy, entities: [rider, city], ttl: 0, source: pair_src}\n"
            "feature_services:"))
        out = cli("apply").stdout
        assert "held by a running server" in out
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            status, response = server.post("/get-online-features", {
                "features": ["pairs_copy:score"], "entities": {"rider_id": [7], "city": ["rome"]}})
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200, response
        assert json.loads(server.get("/health")[1])["registry_version"] == 2
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []


def test_tls(repo, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    secure = Server(repo, "--cert", cert, "--key", key, scheme="https")
    try:
        status, response = secure.post("/get-online-features", {"features": ["stats:trips"],
                                                                 "entities": {"driver_id": [1]}})
        assert status == 200 and response["results"][1]["values"] == [3]
    finally:
        secure.stop()
    result = subprocess.run([HEADWATER, "-c", repo, "serve", "--port", str(free_port()),
                             "--cert", cert, "--key", cert], capture_output=True, text=True)
    assert result.returncode == 1 and "not a PEM private key" in result.stderr


def test_serve_refuses_bad_setups(repo, tmp_path, cli):
    port = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        result = subprocess.run([HEADWATER, "-c", repo, "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=20)
        assert result.returncode == 1 and "cannot listen" in result.stderr
    finally:
        blocker.close()
    assert cli("serve", "--port", "0", ok=False).returncode == 2
    result = subprocess.run([HEADWATER, "-c", repo, "serve", "--host", "nonsense"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and "not an IPv4 address" in result.stderr


def test_tokens_and_scopes(repo, cli):
    reader_token, writer_token = "reader-secret-0123456789", "writer-secret-0123456789"
    digest = lambda token: cli("hash-token", token).stdout.strip()
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text() + (
        "auth:\n  tokens:\n"
        f"    - {{name: model, sha256: {digest(reader_token)}, scopes: [read_online]}}\n"
        f"    - {{name: pipeline, sha256: {digest(writer_token)}, scopes: [write_online, materialize]}}\n"))
    assert reader_token not in config.read_text()
    secured = Server(repo)
    try:
        read = {"features": ["stats:trips"], "entities": {"driver_id": [1]}}

        def call(path, body, token=None):
            request = urllib.request.Request(secured.url + path, data=json.dumps(body).encode(),
                                             method="POST")
            if token is not None:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                detail = json.loads(error.read())
                assert set(detail) == {"error", "detail"}
                return error.code

        assert call("/get-online-features", read) == 401
        assert call("/get-online-features", read, "not-a-real-token-at-all") == 401
        assert call("/get-online-features", read, reader_token) == 200
        assert call("/get-online-features", read, writer_token) == 403
        assert call("/materialize-incremental", {"end_ts": iso(NOW)}, reader_token) == 403
        assert call("/materialize-incremental", {"end_ts": iso(NOW)}, writer_token) == 200
        assert secured.get("/health")[0] == 200  # open, for load balancers
    finally:
        secured.stop()


SCOPES = ["read_online", "write_online", "write_offline", "materialize", "read_offline"]
ANY = set(SCOPES)
# Every endpoint, with a body that reaches its handler, and the scopes of which a token needs one
# (empty: open to all).
ENDPOINTS = [
    ("POST", "/get-online-features", {"features": ["stats:trips"], "entities": {"driver_id": [1]}},
     {"read_online"}),
    ("POST", "/write-to-online-store", {"feature_view_name": "stats", "df": {}}, {"write_online"}),
    ("POST", "/push", {"push_source_name": "nope", "df": {}}, {"write_online"}),
    ("POST", "/push", {"push_source_name": "nope", "df": {}, "to": "offline"}, {"write_offline"}),
    ("POST", "/materialize", {"start_ts": "2020-01-01T00:00:00Z", "end_ts": "2020-01-02T00:00:00Z",
                              "feature_views": ["nope"]}, {"materialize"}),
    ("POST", "/materialize-incremental", {"end_ts": "2020-01-02T00:00:00Z",
                                          "feature_views": ["nope"]}, {"materialize"}),
    ("GET", "/api/registry", None, ANY),
    ("GET", "/api/freshness", None, ANY),
    ("GET", "/api/metrics", None, ANY),
    ("POST", "/api/statistics", {"feature_view": "nope"}, {"read_offline"}),
    ("GET", "/api/statistics/999", None, {"read_offline"}),
    ("GET", "/health", None, set()),
    ("GET", "/metrics", None, set()),
    ("GET", "/api/whoami", None, ANY),  # open, but it says 401 to tell the UI to ask for a token
    ("GET", "/ui", None, set()),
]


def test_every_endpoint_by_every_scope(repo, cli):
    """One token per scope, none, and a wrong one, against every endpoint: 401 without a valid
    token, 403 with one that lacks the scope, and through to the handler otherwise."""
    tokens = {scope: f"{scope}-secret-0123456789" for scope in SCOPES}
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text() + "auth:\n  tokens:\n" + "".join(
        f"    - {{name: {scope}, sha256: {cli('hash-token', token).stdout.strip()}, "
        f"scopes: [{scope}]}}\n" for scope, token in tokens.items()))
    secured = Server(repo)
    try:
        def call(method, path, body, token):
            request = urllib.request.Request(
                secured.url + path, method=method,
                data=json.dumps(body).encode() if body is not None else None)
            if token is not None:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        table = []
        for method, path, body, needed in ENDPOINTS:
            for name, token in [("none", None), ("wrong", "not-a-real-token-at-all"),
                                *tokens.items()]:
                status = call(method, path, body, token)
                if not needed:
                    allowed = status not in (401, 403)
                elif name in ("none", "wrong"):
                    allowed = status == 401
                elif name in needed:
                    allowed = status not in (401, 403)
                else:
                    allowed = status == 403
                table.append((method, path, name, status, allowed))
        wrong = [row for row in table if not row[4]]
        assert not wrong, "\n".join(f"{m} {p} with {n}: {s}" for m, p, n, s, _ in wrong)
        assert len(table) == len(ENDPOINTS) * (len(SCOPES) + 2)
    finally:
        secured.stop()
    log = secured.process.stderr.read()
    assert not any(token in log for token in tokens.values())  # never logged


@pytest.mark.parametrize("auth,message", [
    ("auth:\n  tokens: []\n", "at least one token"),
    ("auth:\n  tokens:\n    - {name: t, sha256: plaintext-token, scopes: [read_online]}\n",
     "64 lower-case hex digits"),
    ("auth:\n  tokens:\n    - {name: t, sha256: " + "a" * 64 + ", scopes: [admin]}\n",
     "unknown scope 'admin'"),
])
def test_bad_auth_configuration(repo, cli, auth, message):
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text() + auth)
    assert message in cli("plan", ok=False).stderr


def test_non_loopback_without_auth_warns(repo):
    # Bound to all addresses for a moment; only loopback is ever contacted.
    process = subprocess.Popen([HEADWATER, "-c", repo, "serve", "--host", "0.0.0.0", "--port",
                                str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    time.sleep(1.0)
    process.terminate()
    _, err = process.communicate(timeout=10)
    assert "warning: serving on 0.0.0.0 without authentication" in err


def test_ten_thousand_idle_connections_do_not_stop_the_others(repo):
    """10,000 connections that open and say nothing: the server keeps answering everyone else,
    and drops the idle ones after --io-timeout."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 10_500:
        pytest.skip(f"the hard limit on open files is {hard}: too few for 10,000 connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536,
                                                hard))
    server = Server(repo, "--io-timeout", "3")
    idle = []
    try:
        read = {"features": ["stats:rate"], "entities": {"driver_id": [1]}}
        baseline = []
        for _ in range(200):
            started = time.perf_counter()
            assert server.post("/get-online-features", read)[0] == 200
            baseline.append(time.perf_counter() - started)
        opened_at = time.monotonic()
        for _ in range(10_000):
            idle.append(socket.create_connection(("127.0.0.1", server.port)))
        held = []
        for _ in range(200):
            started = time.perf_counter()
            assert server.post("/get-online-features", read)[0] == 200
            held.append(time.perf_counter() - started)
        baseline.sort()
        held.sort()
        print(f"read latency alone p50 {baseline[100] * 1e3:.2f} ms p99 {baseline[198] * 1e3:.2f} ms;"
              f" with 10,000 idle connections p50 {held[100] * 1e3:.2f} ms p99 {held[198] * 1e3:.2f} ms"
              f" (opened in {time.monotonic() - opened_at:.1f} s)")
        assert held[198] < 0.5  # served, not queued behind the idle ones
        # The idle ones are dropped after the timeout: the server's side of each ends.
        deadline = time.monotonic() + 30
        for connection in idle[:: 500]:
            connection.settimeout(max(0.1, deadline - time.monotonic()))
            assert connection.recv(1) == b""
    finally:
        for connection in idle:
            connection.close()
        server.stop()

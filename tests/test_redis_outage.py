"""A Redis online store killed (SIGKILL) and restarted under a running server, between
materializations and inside one: clear 503s with the cause while it is down, /health failing
with a detail, the server reconnecting by itself, the incremental marker never ahead of the
data, nothing lost once a materialization is rerun."""
import json
import os
import signal
import subprocess
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from test_online import HOUR, NOW, US, iso, write_repo
from test_server import Server, free_port

READ = {"features": ["stats:trips", "stats:rate"], "entities": {"driver_id": [1, 3]}}


class DurableRedis:
    """redis-server with an append-only file synced on every write, so a restart after kill -9
    keeps what it acknowledged (what a production Redis with `appendfsync always` promises)."""

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.start()

    def start(self):
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                        "--dir", str(self.directory), "--daemonize", "yes",
                        "--pidfile", str(self.directory / "redis.pid"),
                        "--logfile", str(self.directory / "redis.log")], check=True)
        for _ in range(200):
            if self.ping():
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def ping(self):
        done = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                              text=True)
        return done.stdout.strip() == "PONG"

    def keys(self):
        done = subprocess.run(["redis-cli", "-p", str(self.port), "dbsize"], capture_output=True,
                              text=True)
        return int(done.stdout.strip() or 0)

    def shutdown(self):
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
                       capture_output=True)

    def kill(self):
        os.kill(int((self.directory / "redis.pid").read_text()), signal.SIGKILL)
        for _ in range(200):
            if not self.ping():
                return
            time.sleep(0.02)
        raise AssertionError("redis-server still answers after SIGKILL")


def freshness(server):
    status, text = server.get("/api/freshness")
    assert status == 200, text
    views = {view["name"]: view for view in json.loads(text)["feature_views"]}
    return views["stats"]["incremental_marker"]


@pytest.fixture
def redis(tmp_path):
    redis = DurableRedis(tmp_path / "redis")
    yield redis
    redis.shutdown()


def calm_results(tmp_path, cli, materializations, read, prepare=lambda repo: None):
    """What `read` answers after `materializations` ((path, body) pairs) on a repository whose
    Redis never goes down: what a run through an outage must end equal to."""
    calm = DurableRedis(tmp_path / "calm_redis")
    try:
        clean = tmp_path / "clean"
        write_repo(clean, "redis", calm.port)
        prepare(clean)
        cli("-c", clean, "apply")
        server = Server(clean)
        try:
            for path, body in materializations:
                assert server.post(path, body)[0] == 200
            return server.post("/get-online-features", read)[1]["results"]
        finally:
            server.stop()
    finally:
        calm.shutdown()


def test_redis_killed_and_restarted_under_serving_and_materialize(tmp_path, cli, redis):
    repo = tmp_path / "repo"
    write_repo(repo, "redis", redis.port)
    cli("-c", repo, "apply")
    server = Server(repo)
    try:
        assert server.post("/materialize", {"start_ts": iso(NOW - 60 * HOUR),
                                             "end_ts": iso(NOW - 3 * HOUR)})[0] == 200
        marker = freshness(server)
        status, before = server.post("/get-online-features", READ)
        assert status == 200, before

        redis.kill()
        address = f"127.0.0.1:{redis.port}"
        status, error = server.post("/get-online-features", READ)
        assert status == 503 and address in error["detail"], (status, error)
        status, text = server.get("/health")
        health = json.loads(text)
        assert status == 503 and health["status"] == "degraded", text
        assert address in health["online_store_error"], text
        # A materialization while Redis is down fails with the cause and moves no marker.
        status, error = server.post("/materialize-incremental", {"end_ts": iso(NOW)})
        assert status == 503 and address in error["detail"], (status, error)
        assert freshness(server) == marker

        redis.start()  # the same port: the server reconnects by itself
        status, text = server.get("/health")
        assert status == 200 and "online_store_error" not in text, text
        status, after = server.post("/get-online-features", READ)
        assert status == 200 and after == before  # what Redis acknowledged survived
        # The rerun loads what the failed run could not; nothing is lost.
        assert server.post("/materialize-incremental", {"end_ts": iso(NOW)})[0] == 200
        assert freshness(server) != marker
        status, final = server.post("/get-online-features", READ)
        assert status == 200
    finally:
        server.stop()
    # The same materializations against a Redis that never went down give the same values.
    assert calm_results(tmp_path, cli, [
        ("/materialize", {"start_ts": iso(NOW - 60 * HOUR), "end_ts": iso(NOW - 3 * HOUR)}),
        ("/materialize-incremental", {"end_ts": iso(NOW)})], READ) == final["results"]


def write_many_drivers(repo, drivers):
    """Replaces the repository's stats with one row an hour over the last 3 hours for each of
    `drivers` drivers: a materialization long enough to be interrupted."""
    ids = pa.array(list(range(drivers)) * 3, pa.int64())
    times = pa.array([NOW - h * HOUR for h in (3, 2, 1) for _ in range(drivers)], US)
    rates = pa.array([float(i % 997) / 7 for i in range(3 * drivers)], pa.float32())
    table = pa.table({"driver_id": ids, "ts": times, "created": times, "rate": rates,
                      "trips": pa.array(range(3 * drivers), pa.int64()),
                      "tags": pa.array([[]] * (3 * drivers), pa.list_(pa.string())),
                      "note": pa.array(["n"] * (3 * drivers), pa.string())})
    pq.write_table(table, repo / "data" / "stats.parquet")


def test_redis_killed_inside_a_materialization(tmp_path, cli, redis):
    drivers = 100_000  # the most one read may ask for
    repo = tmp_path / "repo"
    write_repo(repo, "redis", redis.port)
    write_many_drivers(repo, drivers)
    cli("-c", repo, "apply")
    server = Server(repo)
    try:
        answer = {}
        run = threading.Thread(target=lambda: answer.update(
            result=server.post("/materialize-incremental", {"end_ts": iso(NOW)})))
        run.start()
        # Kill Redis once it holds some of the keys and not yet all of them.
        while redis.keys() == 0:
            time.sleep(0.005)
        redis.kill()
        run.join(timeout=120)
        status, error = answer["result"]
        assert status == 503 and f"127.0.0.1:{redis.port}" in error["detail"], (status, error)
        assert freshness(server) is None  # no marker for a run that did not finish
        redis.start()
        assert 0 < redis.keys() < drivers, "the kill did not land inside the materialization"
        assert server.post("/materialize-incremental", {"end_ts": iso(NOW)})[0] == 200
        assert freshness(server) is not None
        every = {"features": ["stats:rate", "stats:trips"],
                 "entities": {"driver_id": list(range(drivers))}}
        status, final = server.post("/get-online-features", every)
        assert status == 200
    finally:
        server.stop()
    assert calm_results(tmp_path, cli, [("/materialize-incremental", {"end_ts": iso(NOW)})],
                        every, lambda clean: write_many_drivers(clean, drivers)) == final["results"]

"""A Redis online store killed (SIGKILL) and restarted under a running server: clear 503s with the
cause while it is down, /health failing with a detail, the server reconnecting by itself, the
incremental marker never ahead of the data, nothing lost once a materialization is rerun."""
import json
import os
import signal
import subprocess
import time

import pytest

from test_online import HOUR, NOW, iso, write_repo
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
    subprocess.run(["redis-cli", "-p", str(redis.port), "shutdown", "nosave"], capture_output=True)


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
    calm = DurableRedis(tmp_path / "calm_redis")
    try:
        clean = tmp_path / "clean"
        write_repo(clean, "redis", calm.port)
        cli("-c", clean, "apply")
        server = Server(clean)
        try:
            assert server.post("/materialize", {"start_ts": iso(NOW - 60 * HOUR),
                                                 "end_ts": iso(NOW - 3 * HOUR)})[0] == 200
            assert server.post("/materialize-incremental", {"end_ts": iso(NOW)})[0] == 200
            assert server.post("/get-online-features", READ)[1]["results"] == final["results"]
        finally:
            server.stop()
    finally:
        subprocess.run(["redis-cli", "-p", str(calm.port), "shutdown", "nosave"],
                       capture_output=True)

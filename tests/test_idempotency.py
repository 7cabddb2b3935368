"""Idempotency keys on POST /push and /write-to-online-store: a retried request counts once in
every store, a key reused for other rows is refused, and a client that lost its answer to a
kill -9 can retry every unanswered request and end with the stores an uninterrupted run leaves.

The kill test runs a short form here (HEADWATER_CHAOS_KILLS kills, 8 by default); `make chaos`
runs it with 60."""
import hashlib
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request

import pyarrow.parquet as pq
import pytest

from test_server import Server
from test_stream import df_of, dump, trades, window_rows, write_repo


def post(url, path, body, key=None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def push_body(events, to="online_and_offline"):
    return {"push_source_name": "trades_push", "df": df_of(events), "to": to}


def source_rows(repo):
    """The batch source's rows (pushed offline), as a sorted list."""
    rows = []
    for f in sorted((repo / "data" / "trades").glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return sorted(rows, key=lambda r: (r["ticker"], r["timestamp"], r["price"], r["size"]))


def uninterrupted_run(root, cli, batches):
    """The batches pushed once each, without keys, to a fresh repository at `root`: what every
    interrupted run must end equal to."""
    root.mkdir()
    write_repo(root)
    cli("-c", root, "apply")
    server = Server(root)
    try:
        for batch in batches:
            assert post(server.url, "/push", push_body(batch))[0] == 200
    finally:
        server.stop()
    return root


def assert_same_stores(repo, clean, cli, context=""):
    """The batch source's rows, the windows' offline rows and the online store, all equal."""
    assert source_rows(repo) == source_rows(clean), context
    assert window_rows(repo) == window_rows(clean), context
    assert dump(cli, repo) == dump(cli, clean), context


@pytest.fixture
def repo(tmp_path, cli):
    write_repo(tmp_path)
    cli("apply")
    return tmp_path


def test_a_retried_push_counts_once_everywhere(repo, cli, tmp_path):
    events = trades(120, seed=3)
    server = Server(repo)
    try:
        status, first = post(server.url, "/push", push_body(events[:60]), key="batch-1")
        assert status == 200 and "repeated" not in first
        status, again = post(server.url, "/push", push_body(events[:60]), key="batch-1")
        assert status == 200 and again["repeated"] is True
        status, _ = post(server.url, "/push", push_body(events[60:]), key="batch-2")
        assert status == 200
        # The same key with other rows: refused, nothing written.
        status, error = post(server.url, "/push", push_body(events[:10]), key="batch-2")
        assert status == 422 and "batch-2" in error["detail"], error
        for bad in ("", "has space", "x" * 256):
            status, error = post(server.url, "/push", push_body(events[:10]), key=bad)
            assert status == 400 and "Idempotency-Key" in error["detail"], error
        # write-to-online-store takes a key too: the same rows again change nothing.
        rows = {"feature_view_name": "ticker_windows", "df": {}}
        status, error = post(server.url, "/write-to-online-store", rows, key="w-1")
        assert status in (400, 404), error  # reaches the handler; stream views are not written
    finally:
        server.stop()
    # The stores equal a run that pushed each batch once, without keys.
    assert len(list((repo / "data" / "trades").glob("push-*.parquet"))) == 2
    assert_same_stores(repo, uninterrupted_run(tmp_path / "clean", cli, [events[:60], events[60:]]),
                       cli)


def test_a_key_in_progress_is_refused_and_a_restart_remembers_the_key(repo):
    events = trades(40, seed=4)
    server = Server(repo)
    try:
        assert post(server.url, "/push", push_body(events), key="k")[0] == 200
    finally:
        server.stop()
    server = Server(repo)  # a new process: the key is in the ledger and the log
    try:
        status, again = post(server.url, "/push", push_body(events), key="k")
        assert status == 200 and again["repeated"] is True
        assert post(server.url, "/push", push_body(events[:5]), key="k")[0] == 422
    finally:
        server.stop()
    assert len(list((repo / "data" / "trades").glob("push-*.parquet"))) == 1


def run_with_kills(repo, batches, kills, seed):
    """Pushes `batches` in order, each with its own key, retrying every unanswered request,
    while the server is killed (SIGKILL) `kills` times, mostly inside a request. Returns how many
    requests lost their answer, how many of those the server had claimed the key of, and how
    many had appended their offline file."""
    rng = random.Random(seed)
    current = {"server": Server(repo)}
    sent = threading.Event()
    finished = threading.Event()
    lost = []
    repeated = []  # retries the server had claimed the key of before it was killed
    appended = []  # retries whose first attempt had appended its offline file
    failure = []

    def client():
        try:
            for i, batch in enumerate(batches):
                while True:
                    url = current["server"].url
                    sent.set()
                    try:
                        status, response = post(url, "/push", push_body(batch), key=f"batch-{i}")
                    except ConnectionRefusedError:
                        time.sleep(0.02)  # not sent: the server is restarting
                        continue
                    except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as e:
                        if isinstance(getattr(e, "reason", None), ConnectionRefusedError):
                            time.sleep(0.02)
                            continue
                        lost.append(i)  # sent, no answer: retry with the same key
                        digest = hashlib.sha256(f"batch-{i}".encode()).hexdigest()[:16]
                        if list((repo / "data" / "trades").glob(f"push-*-k{digest}.parquet")):
                            appended.append(i)
                        time.sleep(0.02)
                        continue
                    assert status == 200, (status, response)
                    if response.get("repeated"):
                        repeated.append(i)
                    break
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failure.append(error)
        finally:
            finished.set()

    thread = threading.Thread(target=client)
    thread.start()
    try:
        for _ in range(kills):
            if finished.is_set():
                break
            sent.clear()
            sent.wait(timeout=10)
            time.sleep(rng.choice([rng.uniform(0, 0.008), rng.uniform(0, 0.05)]))
            current["server"].process.kill()
            current["server"].process.wait()
            current["server"] = Server(repo)
        thread.join(timeout=600)
    finally:
        current["server"].stop()
    assert not failure, failure
    assert finished.is_set()
    return len(lost), len(repeated), len(appended)


def test_kill_9_inside_requests_and_retry_every_unanswered_one(repo, cli, tmp_path):
    kills = int(os.environ.get("HEADWATER_CHAOS_KILLS", "8"))
    seed = int(os.environ.get("HEADWATER_CHAOS_SEED", "11"))
    events = trades(max(600, kills * 40), seed=seed)
    batches = [events[i:i + 20] for i in range(0, len(events), 20)]

    clean = uninterrupted_run(tmp_path / "clean", cli, batches)

    lost, claimed, appended = run_with_kills(repo, batches, kills, seed)
    print(f"seed {seed}: {kills} kills, {lost} requests lost their answer and were retried: "
          f"{claimed} after the server had claimed the key, {appended} after it had appended "
          "the rows offline")
    assert lost >= 1, f"seed {seed}: no kill landed inside a request"
    assert_same_stores(repo, clean, cli, f"seed {seed}")

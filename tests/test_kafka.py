"""Kafka sources against a real Apache Kafka broker (KRaft, loopback): windows, dead letters,
and kill -9 with restarts ending where an uninterrupted run ends."""
import base64
import json
import random
import re
import signal
import threading
import time
import uuid

import pytest

from test_server import Server
from test_stream import (DEFINITIONS, FEATURES, close, expected, iso_us, micros, trades,
                         window_rows, write_repo, MINUTE)

confluent_kafka = pytest.importorskip("confluent_kafka")


def create_topic(broker, partitions=1):
    from confluent_kafka.admin import AdminClient, NewTopic
    name = "trades-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": broker})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=30)
    # Creation returns before every partition has a leader; a consumer opened in between is
    # told "unknown topic or partition". Wait until the metadata shows them all led.
    deadline = time.time() + 30
    while time.time() < deadline:
        topic = admin.list_topics(name, timeout=5).topics.get(name)
        if topic and topic.error is None and len(topic.partitions) == partitions and all(
                p.leader >= 0 for p in topic.partitions.values()):
            break
        time.sleep(0.1)
    return name


def kafka_repo(root, cli, broker, topic):
    write_repo(root)
    (root / "defs.yaml").write_text(DEFINITIONS.replace(
        "  - {name: trades_push, type: push, batch_source: trades, watermark_delay: 10s}",
        f"  - {{name: trades_push, type: kafka, bootstrap_servers: '{broker}', topic: {topic},\n"
        f"     batch_source: trades, watermark_delay: 10s}}"))
    cli("-c", root, "apply")


def message(event):
    return json.dumps({**event, "timestamp": iso_us(event["timestamp"])}).encode()


def produce(broker, topic, payloads, pace=0.0):
    producer = confluent_kafka.Producer({"bootstrap.servers": broker, "linger.ms": 5})
    for i, payload in enumerate(payloads):
        producer.produce(topic, payload)
        if pace and i % 50 == 0:
            producer.flush(10)
            time.sleep(pace)
    assert producer.flush(30) == 0


def metric(server, name):
    text = server.get("/metrics")[1]
    found = re.search(re.escape(name) + r" (\S+)", text)
    return float(found.group(1)) if found else None


def wait_for_position(server, position, timeout=60):
    deadline = time.time() + timeout
    name = 'headwater_stream_position{source="trades_push",partition="0"}'
    while time.time() < deadline:
        if metric(server, name) == position:
            return
        time.sleep(0.05)
    raise AssertionError(f"stream stuck at {metric(server, name)} of {position}")


def test_kafka_json_messages_become_windows_and_bad_ones_dead_letters(tmp_path, cli, broker):
    topic = create_topic(broker)
    kafka_repo(tmp_path, cli, broker, topic)
    events = trades(600, seed=11)
    bad = [b"not json", b"[1, 2]", json.dumps({"price": 1.0, "size": 1,
                                              "timestamp": "2026-03-02T09:00:00Z"}).encode(),
           json.dumps({"ticker": "ETH-USD", "price": "cheap", "size": 1,
                       "timestamp": "2026-03-02T09:00:00Z"}).encode(),
           b'{"ticker": "ETH-\xff", "price": 1.0, "timestamp": "2026-03-02T09:00:00Z"}',
           # Hostile (issue 11): nesting that once overflowed the stack, and event times that
           # would lock a key online forever or make the offline data unreadable.
           b'{"ticker": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
           json.dumps({"ticker": "ETH-USD", "price": 1.0, "size": 1,
                       "timestamp": "9999-12-31T00:00:00Z"}).encode(),
           json.dumps({"ticker": "ETH-USD", "price": 1.0, "size": 1,
                       "timestamp": "1000-01-01T00:00:00Z"}).encode(),
           # A lone surrogate escape: RapidJSON alone would make it bytes that are not UTF-8.
           b'{"ticker": "ETH-\\udc00", "price": 1.0, "timestamp": "2026-03-02T09:00:00Z"}']
    payloads = [message(e) for e in events]
    payloads[100:100] = bad
    produce(broker, topic, payloads)
    server = Server(tmp_path)
    try:
        wait_for_position(server, len(payloads))
        final = (max(micros(e["timestamp"]) for e in events) - 10_000_000) // MINUTE * MINUTE
        response = server.post("/get-online-features", {
            "features": [f"ticker_windows:{f}" for f in FEATURES],
            "entities": {"ticker": ["ETH-USD", "BTC-USD"]}})[1]
        for i, ticker in enumerate(["ETH-USD", "BTC-USD"]):
            want = expected(events, ticker, final)
            got = [response["results"][f + 1]["values"][i] for f in range(len(FEATURES))]
            assert all(close(g, w) for g, w in zip(got, want)), (ticker, got, want)
        assert metric(server, 'headwater_stream_dead_letters_total{source="trades_push"}') == 9
    finally:
        server.stop()
    dead = [json.loads(line) for f in sorted((tmp_path / "data" / "stream" / "trades_push" /
                                              "dead_letters").iterdir())
            for line in f.read_text().splitlines()]
    reasons = [d["reason"] for d in dead]
    assert reasons[0].startswith("the message is not valid JSON") and "not an object" in reasons[1]
    assert "field 'ticker' is missing or null" in reasons[2]
    assert "field 'price': expected a number, got the string \"cheap\"" in reasons[3]
    assert "encoding" in reasons[4].lower()  # not UTF-8: refused, never stored
    assert base64.b64decode(dead[4]["payload_base64"]).startswith(b'{"ticker": "ETH-\xff"')
    assert "more than 64 deep (the limit)" in reasons[5]
    assert "later than now + 1d" in reasons[6] and "before 1900" in reasons[7]
    assert "lone surrogate" in reasons[8]
    assert [d["offset"] for d in dead] == list(range(100, 109))
    assert dead[0]["payload"] == "not json"


def test_kafka_unknown_topic_is_a_clear_error(tmp_path, cli, broker):
    kafka_repo(tmp_path, cli, broker, "no-such-topic-" + uuid.uuid4().hex[:6])
    (tmp_path / "feature_store.yaml").write_text("project: ticker\n")
    result = cli("stream", ok=False)
    assert result.returncode == 1
    assert "topic 'no-such-topic" in result.stderr and "trades_push" in result.stderr


def test_kafka_kill_9_ends_where_an_uninterrupted_run_ends(tmp_path, cli, broker):
    topic = create_topic(broker)
    events = trades(3000, seed=21)
    payloads = [message(e) for e in events]
    producer = threading.Thread(target=produce, args=(broker, topic, payloads, 0.02))
    producer.start()

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    kafka_repo(crashed, cli, broker, topic)
    rng = random.Random(4)
    server = Server(crashed)
    kills = 0
    while producer.is_alive() or kills < 3:
        time.sleep(rng.uniform(0.05, 0.4))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        kills += 1
        server = Server(crashed)
    producer.join()
    wait_for_position(server, len(payloads))
    server.stop()

    clean = tmp_path / "clean"
    clean.mkdir()
    kafka_repo(clean, cli, broker, topic)
    server = Server(clean)
    wait_for_position(server, len(payloads))
    server.stop()

    assert kills >= 3
    rows = window_rows(clean)
    assert len(rows) > 100
    assert window_rows(crashed) == rows
    dump = ["online-dump", "--view", "ticker_windows"]
    assert cli("-c", crashed, *dump).stdout == cli("-c", clean, *dump).stdout


def test_a_broker_restart_pauses_the_stream_and_exactly_once_holds(tmp_path, cli):
    """The broker killed (SIGKILL) and started again on its data and ports while the server
    streams from it: the pipeline waits, resumes by itself, and ends with the stores of a run that
    never saw the outage."""
    from conftest import ROOT
    import subprocess
    directory = tmp_path / "broker"
    start = [ROOT / "scripts" / "start_kafka", directory]
    broker = subprocess.run(start, check=True, capture_output=True, text=True).stdout.strip()
    try:
        topic = create_topic(broker)
        payloads = [message(e) for e in trades(2000, seed=31)]
        produce(broker, topic, payloads[:1000])
        crashed = tmp_path / "crashed"
        crashed.mkdir()
        kafka_repo(crashed, cli, broker, topic)
        server = Server(crashed)
        try:
            wait_for_position(server, 1000)
            subprocess.run([ROOT / "scripts" / "stop_kafka", directory], check=True)
            time.sleep(3)  # the reader meets a dead broker for a while
            assert server.process.poll() is None  # still serving
            assert server.get("/health")[0] == 200
            assert subprocess.run(start, check=True, capture_output=True,
                                  text=True).stdout.strip() == broker
            produce(broker, topic, payloads[1000:])
            wait_for_position(server, len(payloads), timeout=120)
        finally:
            server.stop()

        clean = tmp_path / "clean"
        clean.mkdir()
        kafka_repo(clean, cli, broker, topic)
        server = Server(clean)
        try:
            wait_for_position(server, len(payloads))
        finally:
            server.stop()
        rows = window_rows(clean)
        assert len(rows) > 50
        assert window_rows(crashed) == rows
        dump = ["online-dump", "--view", "ticker_windows"]
        assert cli("-c", crashed, *dump).stdout == cli("-c", clean, *dump).stdout
    finally:
        subprocess.run([ROOT / "scripts" / "stop_kafka", directory], check=False)


def test_several_partitions_with_skew_and_an_idle_one(tmp_path, cli, broker):
    """Three partitions: one ahead, one behind by less than the watermark delay, one that never
    gets a message. The idle one stops holding the watermark back after stream.idle_timeout, so
    windows finalise; nothing is late; and kill -9 with restarts ends in the stores of an
    uninterrupted run (no event is near the watermark, so a replay judges every one alike — with
    events near it a replay of several partitions may judge lateness differently, as
    docs/streaming.md says)."""
    topic = create_topic(broker, partitions=3)
    ahead = trades(900, seed=41, tickers=("ETH-USD", "BTC-USD"))
    behind = [{**e, "ticker": "SOL-USD"} for e in trades(900, seed=42)]
    shift = 5  # seconds behind: within the 10 s delay
    from datetime import timedelta
    for e in behind:
        e["timestamp"] -= timedelta(seconds=shift)

    def produce_skewed(pace):
        producer = confluent_kafka.Producer({"bootstrap.servers": broker, "linger.ms": 5})
        for i, (a, b) in enumerate(zip(ahead, behind)):
            producer.produce(topic, message(a), partition=0)
            producer.produce(topic, message(b), partition=1)
            if pace and i % 50 == 0:
                producer.flush(10)
                time.sleep(pace)
        assert producer.flush(30) == 0

    def repo(name):
        root = tmp_path / name
        root.mkdir()
        kafka_repo(root, cli, broker, topic)
        config = root / "feature_store.yaml"
        config.write_text(config.read_text().replace(
            "stream: {checkpoint_interval: 100ms}", "stream: {checkpoint_interval: 100ms, idle_timeout: 1s}"))
        return root

    def wait_for_all(server):
        for partition in (0, 1):
            name = f'headwater_stream_position{{source="trades_push",partition="{partition}"}}'
            deadline = time.time() + 60
            while metric(server, name) != len(ahead) and time.time() < deadline:
                time.sleep(0.05)
            assert metric(server, name) == len(ahead), (partition, metric(server, name))

    producer = threading.Thread(target=produce_skewed, args=(0.02,))
    producer.start()
    crashed = repo("crashed")
    rng = random.Random(43)
    server = Server(crashed)
    kills = 0
    while producer.is_alive() or kills < 3:
        time.sleep(rng.uniform(0.05, 0.4))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        kills += 1
        server = Server(crashed)
    producer.join()
    wait_for_all(server)
    time.sleep(1.5)  # past the idle timeout: the partitions stop holding the watermark back
    late = metric(server, 'headwater_stream_late_events_total{source="trades_push"}')
    server.stop()

    clean = repo("clean")
    server = Server(clean)
    wait_for_all(server)
    time.sleep(1.5)
    server.stop()

    assert late == 0
    rows = window_rows(clean)
    assert {r["ticker"] for r in rows} == {"ETH-USD", "BTC-USD", "SOL-USD"}
    assert window_rows(crashed) == rows
    dump = ["online-dump", "--view", "ticker_windows"]
    assert cli("-c", crashed, *dump).stdout == cli("-c", clean, *dump).stdout

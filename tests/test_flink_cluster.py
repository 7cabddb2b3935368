"""The Flink cluster scripts/start_flink runs (the seed of the Flink engines, issues 13 and 15):
a real standalone cluster from the apache-flink wheel, with the Kafka SQL connector, running
the window TVF Headwater's stream views compile to over the broker scripts/start_kafka runs.
What it checks is the semantic fact the compiler builds on: Flink's HOP windows end on
multiples of the slide from the epoch and cover [end - size, end), as Headwater's do."""
import json
import subprocess
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

from conftest import ROOT

confluent_kafka = pytest.importorskip("confluent_kafka")


@pytest.fixture(scope="module")
def flink(tmp_path_factory):
    directory = tmp_path_factory.mktemp("flink")
    started = subprocess.run([ROOT / "scripts" / "start_flink", directory], capture_output=True,
                             text=True, timeout=1800)
    assert started.returncode == 0, started.stderr
    yield directory, started.stdout.strip().splitlines()[-1]
    subprocess.run([ROOT / "scripts" / "stop_flink", directory], timeout=120)


def rest(address, path):
    with urllib.request.urlopen(address + path, timeout=10) as response:
        return json.loads(response.read())


def test_the_cluster_is_flink_with_two_slots(flink):
    """The short form `make test` runs: the cluster starts, from the cached wheel, and is ready."""
    _, address = flink
    overview = rest(address, "/overview")
    assert overview["flink-version"] == "2.3.0"
    assert overview["taskmanagers"] == 1
    assert overview["slots-total"] == 2


START = 1_772_442_000_000  # 2026-03-02T09:00:00Z, in milliseconds


@pytest.mark.slow
def test_hop_windows_over_kafka_end_on_slide_multiples_like_headwaters(flink, broker):
    directory, address = flink
    source, sink = "trades-" + uuid.uuid4().hex[:8], "windows-" + uuid.uuid4().hex[:8]
    producer = confluent_kafka.Producer({"bootstrap.servers": broker})
    # Two tickers, an event every 25 s for 5 minutes, prices 1, 2, 3, ...
    events = [("BTC" if i % 2 else "ETH", float(i + 1), START + i * 25_000) for i in range(12)]
    for ticker, price, millis in events:
        producer.produce(source, json.dumps({"ticker": ticker, "price": price, "ts": millis}))
    producer.flush(30)
    del producer  # its threads would keep calling a broker that stops after the module
    script = directory / "hop.sql"
    script.write_text(f"""
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.name' = 'headwater-hop-test';
CREATE TABLE trades (ticker STRING, price DOUBLE, ts BIGINT,
  event_time AS TO_TIMESTAMP_LTZ(ts, 3),
  WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = '{source}', 'properties.bootstrap.servers' = '{broker}',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
  'format' = 'json');
CREATE TABLE windows (ticker STRING, window_end STRING, `sum` DOUBLE, `count` BIGINT)
  WITH ('connector' = 'kafka', 'topic' = '{sink}', 'properties.bootstrap.servers' = '{broker}',
  'format' = 'json');
INSERT INTO windows
SELECT ticker, DATE_FORMAT(window_end, 'yyyy-MM-dd HH:mm:ss'), SUM(price), COUNT(price)
FROM TABLE(HOP(TABLE trades, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE))
GROUP BY ticker, window_start, window_end;
""")
    home = directory / "flink"
    env = {"FLINK_HOME": str(home), "FLINK_CONF_DIR": str(home / "conf"),
           "FLINK_LOG_DIR": str(home / "log"), "PATH": "/usr/bin:/bin"}
    submitted = subprocess.run([home / "bin" / "sql-client.sh", "-f", script], env=env,
                               capture_output=True, text=True, timeout=300)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    # The bounded source ends, the final watermark fires every window, and the job finishes.
    deadline = time.time() + 120
    while True:
        jobs = [j for j in rest(address, "/jobs/overview")["jobs"]
                if j["name"] == "headwater-hop-test"]
        if jobs and jobs[0]["state"] in ("FINISHED", "FAILED", "CANCELED"):
            break
        assert time.time() < deadline, jobs
        time.sleep(0.5)
    assert jobs[0]["state"] == "FINISHED"

    consumer = confluent_kafka.Consumer({"bootstrap.servers": broker, "group.id": sink,
                                         "auto.offset.reset": "earliest"})
    consumer.subscribe([sink])
    rows = {}
    deadline = time.time() + 30
    while time.time() < deadline:
        for message in consumer.consume(100, 0.5):
            if message.error() is None:
                row = json.loads(message.value())
                rows[(row["ticker"], row["window_end"])] = (row["sum"], row["count"])
        if rows and not consumer.consume(1, 2):
            break
    consumer.close()

    # Headwater's rule: the window ending at `end` (a multiple of the slide) holds the events
    # with end - size <= t < end; only windows holding an event exist.
    expected = {}
    for ticker, price, millis in events:
        first_end = (millis // 60_000 + 1) * 60_000
        for end in (first_end, first_end + 60_000):
            stamp = datetime.fromtimestamp(end / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            total, count = expected.get((ticker, stamp), (0.0, 0))
            expected[(ticker, stamp)] = (total + price, count + 1)
    assert rows == expected

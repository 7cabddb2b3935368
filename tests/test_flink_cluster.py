"""The Flink cluster scripts/start_flink runs (the seed of the Flink engines, issues 13 and 15):
a real standalone cluster from the apache-flink wheel, with the Kafka SQL connector, running
the window TVF Headwater's stream views compile to over the broker scripts/start_kafka runs.
What it checks is the semantic fact the compiler builds on: Flink's HOP windows end on
multiples of the slide from the epoch and cover [end - size, end), as Headwater's do."""
import json
import random
import re
import subprocess
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

from conftest import ROOT

confluent_kafka = pytest.importorskip("confluent_kafka")




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


# --- The Flink stream engine (issue 13): Flink computes tiles, Headwater merges them ---------

def flink_env(directory):
    home = directory / "flink"
    return {"FLINK_HOME": str(home), "FLINK_CONF_DIR": str(home / "conf"),
            "FLINK_LOG_DIR": str(home / "log"), "PATH": "/usr/bin:/bin"}


def submit(directory, script):
    """Runs a compiled pipeline.sql on the cluster, as a user would by hand."""
    home = directory / "flink"
    done = subprocess.run([home / "bin" / "sql-client.sh", "-f", script], env=flink_env(directory),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "[ERROR]" not in done.stdout, done.stdout + done.stderr
    return re.findall(r"Job ID: (\w+)", done.stdout)


def cancel(address, job):
    request = urllib.request.Request(f"{address}/jobs/{job}?mode=cancel", method="PATCH")
    urllib.request.urlopen(request, timeout=10).close()


def engine_events(seed, count):
    """Trades with nulls, late events (30 s behind, past the 10 s delay), a quiet gap, and
    equal times; event times in epoch milliseconds (Kafka's unit) or ISO 8601 text."""
    rng = random.Random(seed)
    t = START
    out = []
    for i in range(count):
        t += rng.randrange(0, 3000)
        if i == count // 2:
            t += 20 * 60_000  # every key goes quiet: windows empty, then decay rows
        when = t - (30_000 if rng.random() < 0.03 else rng.randrange(0, 8000)
                    if rng.random() < 0.2 else 0)
        out.append({"ticker": rng.choice(["ETH-USD", "BTC-USD", "SOL-USD", "ADA-USD"]),
                    "price": None if rng.random() < 0.05 else rng.uniform(90, 110)
                    if rng.random() < 0.1 else round(rng.uniform(90, 110), 2),  # 17 digits
                    "size": rng.randrange(1, 100), "timestamp": when})
        if rng.random() < 0.05:  # ISO 8601 text, as the embedded engine also reads times
            out[-1]["timestamp"] = datetime.fromtimestamp(when / 1000, timezone.utc).isoformat()
    # Two far later events of a key not compared: the second fires Flink's pane of the first,
    # whose tile moves Headwater past every compared key's last row (their decay rows too).
    flush = t + 60 * 60_000
    out += [{"ticker": "ZZZ", "price": 1.0, "size": 1, "timestamp": flush},
            {"ticker": "ZZZ", "price": 1.0, "size": 1, "timestamp": flush + 60 * 60_000}]
    return out


def malformed(at):
    """Messages either engine must refuse whole (a dead letter each), at event time `at`."""
    good = {"ticker": "ETH-USD", "price": 100.0, "size": 1, "timestamp": at}
    bad = [{**good, "price": "100.5"}, {**good, "price": True}, {**good, "size": 1.5},
           {**good, "size": 2 ** 63}, {**good, "ticker": 5}, {**good, "ticker": None},
           {k: v for k, v in good.items() if k != "timestamp"}, {**good, "timestamp": "yesterday"},
           {**good, "timestamp": at + 400 * 86_400_000}, {**good, "timestamp": -2_300_000_000_000},
           {**good, "timestamp": "2026-02-30T00:00:00"}, {**good, "price": [1]}]
    raw = [json.dumps(m).encode() for m in bad]
    text = json.dumps(good)
    return raw + [b"not json", b"[1, 2]", b"", b"\xff\xfe", text.encode()[:-1],
                  text.replace('100.0', '1e400').encode(),
                  text.replace('"ETH-USD"', '"\\udc00"').encode(),
                  (text[:-1] + ', "deep": ' + "[" * 70 + "]" * 70 + "}").encode(),
                  # Duplicate members: the first counts, and it is wrong.
                  text.replace('"price": 100.0', '"price": "x", "price": 1.0').encode()]


def dead_letters(root, pipeline):
    directory = root / "data" / "stream" / pipeline / "dead_letters"
    return [json.loads(line) for f in sorted(directory.iterdir())
            for line in f.read_text().splitlines()]


REQUEST = {"features": [f"ticker_windows:{f}" for f in
                        ["min_price_5m", "max_price_5m", "mean_price_10m", "count_price_10m",
                         "stddev_price_10m", "last_price_5m", "sum_size_2m"]],
           "entities": {"ticker": ["ETH-USD", "BTC-USD", "SOL-USD", "ADA-USD"]}}


def steady_answer(server):
    """The embedded engine reads a topic in well under a second: its answer, once it has stayed
    the same for 2 s, is final."""
    final, steady = None, 0
    while steady < 4:
        answer = server.post("/get-online-features", REQUEST)[1]["results"]
        steady = steady + 1 if answer == final else 0
        final = answer
        time.sleep(0.5)
    assert all(t is not None for r in final[1:] for t in r["event_timestamps"])
    return final


def reach_embedded(embedded, on_flink, timeout, diagnose=lambda server: ""):
    """Serves both repositories until the Flink path answers what the embedded engine's final
    answer is (or fails after `timeout` s, with `diagnose`'s account)."""
    from test_server import Server
    servers = []
    try:
        servers.append(Server(embedded))
        servers.append(Server(on_flink))
        final = steady_answer(servers[0])
        deadline = time.time() + timeout
        while (got := servers[1].post("/get-online-features", REQUEST)[1]["results"]) != final:
            assert time.time() < deadline, "online values differ:\n" + json.dumps(
                [final, got]) + "\n" + diagnose(servers[1])
            time.sleep(1)
    finally:
        for server in servers:
            server.stop()


def project_of(topic):
    """Each test's own project (from its own topic): Flink job names and tile topics are per
    project and view, and the tests share one broker and one cluster."""
    return "ticker_" + topic.rsplit("-", 1)[-1]


def stream_repo(root, broker, topic, engine=""):
    from test_stream import write_repo, DEFINITIONS
    write_repo(root)
    (root / "feature_store.yaml").write_text(
        f"project: {project_of(topic)}\nstream: {{checkpoint_interval: 100ms}}\n" + engine)
    (root / "defs.yaml").write_text(DEFINITIONS.replace(
        "  - {name: trades_push, type: push, batch_source: trades, watermark_delay: 10s}",
        f"  - {{name: trades_push, type: kafka, bootstrap_servers: '{broker}', topic: {topic},\n"
        f"     batch_source: trades, watermark_delay: 10s}}"))


def compared(dump):
    """An online dump without the flush key (hex of "ZZZ" in its encoded key)."""
    return "\n".join(line for line in dump.splitlines() if "5a5a5a" not in line)


def offline_rows(root, until):
    from test_stream import window_rows
    return [r for r in window_rows(root) if r["ticker"] != "ZZZ" and r["event_timestamp"] <= until]


def test_flink_tiles_give_the_embedded_engines_windows_online_and_offline(flink, broker,
                                                                          tmp_path, cli):
    """The same events through the embedded engine and through Flink (the job `apply` submits
    to the cluster) give the same online values and offline rows, bit for bit: every function,
    windows of several sizes and two slides, nulls, late events, a quiet gap, equal times."""
    from test_kafka import create_topic, produce
    directory, address = flink
    gateway = (directory / "sql_gateway_address").read_text().strip()
    topic = create_topic(broker)
    embedded, on_flink = tmp_path / "embedded", tmp_path / "flink"
    stream_repo(embedded, broker, topic)
    stream_repo(on_flink, broker, topic,
                f"stream_engine: {{type: flink, rest_address: '{address}', sql_gateway: "
                f"'{gateway}', checkpoint_interval: 1s}}\n")
    events = engine_events(seed=13, count=900)
    payloads = [json.dumps(e).encode() for e in events]
    # Refused messages in the middle, each of which would move a watermark if it were read.
    payloads[450:450] = malformed(events[449]["timestamp"] + 3_600_000)
    produce(broker, topic, payloads)
    cli("-c", embedded, "apply")
    # The deployment artifacts: Flink's own planner compiled the job (through the gateway).
    cli("-c", on_flink, "compile", "flink", "-o", tmp_path / "compiled")
    plan = json.loads((tmp_path / "compiled" / "ticker_windows.flink-plan.json").read_text())
    assert plan["flinkVersion"].startswith("2.") and plan["nodes"]
    applied = cli("-c", on_flink, "apply").stdout  # submits the view's Flink job
    jobs = re.findall(rf"flink: submitted job 'headwater-{project_of(topic)}-ticker_windows' "
                      r"\((\w+)\)", applied)
    assert len(jobs) == 1, applied
    try:
        reach_embedded(embedded, on_flink, timeout=120)
    finally:
        cancel(address, jobs[0])
    dumps = [compared(cli("-c", r, "online-dump", "--view", "ticker_windows").stdout)
             for r in (embedded, on_flink)]
    assert dumps[0].count("\n") >= 3 and dumps[0] == dumps[1]
    # Offline: every row up to the last compared one (each key's decay row included).
    until = datetime.fromtimestamp((events[-3]["timestamp"] + 12 * 60_000) / 1000, timezone.utc)
    rows = offline_rows(embedded, until)
    assert len(rows) > 100 and rows == offline_rows(on_flink, until)
    # The same messages refused, for the same reasons, and as many late events.
    dead = dead_letters(embedded, "trades_push")
    flink_dead = dead_letters(on_flink, "flink-ticker_windows")
    late = [d for d in dead if d["reason"].startswith("late")]
    assert late and len(late) == sum(d["reason"].startswith("late") for d in flink_dead)
    refused = {d["offset"]: d for d in dead if "offset" in d}
    flink_refused = {d["offset"]: d for d in flink_dead if not d["reason"].startswith("late")}
    assert len(refused) == len(malformed(0)) and refused.keys() == flink_refused.keys()
    for offset, d in refused.items():
        if "valid JSON" not in d["reason"]:  # the parsers' own words differ
            assert flink_refused[offset]["reason"] == d["reason"]
        assert flink_refused[offset].get("payload") == d.get("payload")


def flink_repo(root, broker, topic, flink, **engine):
    directory, address = flink
    gateway = (directory / "sql_gateway_address").read_text().strip()
    settings = {"type": "flink", "rest_address": address, "sql_gateway": gateway,
                "checkpoint_interval": "1s", **engine}
    stream_repo(root, broker, topic, "stream_engine: " + json.dumps(settings) + "\n")


def job_states(address):
    return {j["jid"]: j["state"] for j in rest(address, "/jobs/overview")["jobs"]}


@pytest.mark.slow
def test_apply_keeps_the_flink_jobs_in_step_with_the_views(flink, broker, tmp_path, cli):
    """Submit, keep, resubmit from a savepoint, restart afresh, cancel (`make chaos`; the
    identity test submits and keeps in `make test`)."""
    from test_kafka import create_topic
    _, address = flink
    topic = create_topic(broker)
    flink_repo(tmp_path, broker, topic, flink)
    assert f"flink: submit job 'headwater-{project_of(topic)}-ticker_windows' of view " \
           "ticker_windows " \
           "(new stream view)" in cli("plan").stdout
    first = re.findall(r"submitted job '[^']+' \((\w+)\)", cli("apply").stdout)[0]
    assert job_states(address)[first] == "RUNNING"
    assert "No changes" in cli("apply").stdout and job_states(address)[first] == "RUNNING"
    status = cli("flink", "status").stdout
    assert re.search(r"ticker_windows\s+RUNNING\s+" + first, status), status

    # A new watermark delay changes the SQL, not the state: stop with a savepoint, resume.
    defs = tmp_path / "defs.yaml"
    defs.write_text(defs.read_text().replace("watermark_delay: 10s", "watermark_delay: 12s"))
    assert "resubmit job" in cli("plan").stdout
    out = cli("apply").stdout
    second = re.findall(r"resubmitted job '[^']+' from savepoint \S+ \((\w+)\)", out)
    assert second, out
    states = job_states(address)
    assert states[first] == "FINISHED" and states[second[0]] == "RUNNING"

    # A new slide changes the panes: the old state means nothing to the new job.
    defs.write_text(defs.read_text().replace("{column: size, function: sum, time_window: 2m}",
                                             "{column: size, function: sum, time_window: 2m, "
                                             "slide_interval: 30s}"))
    assert "restart job" in cli("plan").stdout
    out = cli("apply").stdout
    assert "to start it afresh, without window state" in out, out
    third = re.findall(r"submitted job '[^']+' \((\w+)\)", out)[0]
    assert job_states(address)[second[0]] == "CANCELED" and job_states(address)[third] == "RUNNING"

    # The view goes: so does its job.
    text = defs.read_text()
    defs.write_text(text[:text.index("feature_views:")])
    out = cli("apply").stdout
    assert f"flink: cancelled job 'headwater-{project_of(topic)}-ticker_windows' ({third})" \
        in out, out
    deadline = time.time() + 30
    while job_states(address)[third] != "CANCELED":
        assert time.time() < deadline
        time.sleep(0.2)


def test_flink_unreachable_is_a_clear_error_and_a_failing_health_detail(flink, broker, tmp_path,
                                                                        cli):
    from test_kafka import create_topic
    from test_server import Server, free_port
    topic = create_topic(broker)
    dead = f"http://127.0.0.1:{free_port()}"
    flink_repo(tmp_path, broker, topic, flink, rest_address=dead)
    failed = cli("apply", ok=False)
    assert f"Flink at {dead}/jobs/overview is unreachable" in failed.stderr, failed.stderr
    assert "nothing changed" in failed.stderr
    assert not (tmp_path / "data" / "registry.json").exists()
    # Applied while Flink answered, served while it does not: /health says so.
    flink_repo(tmp_path, broker, topic, flink)
    cli("apply")
    flink_repo(tmp_path, broker, topic, flink, rest_address=dead)
    server = Server(tmp_path)
    try:
        deadline = time.time() + 15
        while True:
            health = server.get("/health")[1]
            health = json.loads(health) if isinstance(health, str) else health
            if "flink" in health:
                break
            assert time.time() < deadline, health
            time.sleep(0.2)
        assert health["status"] == "degraded" and health["flink"]["ok"] is False
        assert "unreachable" in health["flink"]["error"]
    finally:
        server.stop()


def test_a_definition_flink_cannot_run_fails_at_compile_time(flink, broker, tmp_path, cli):
    from test_kafka import create_topic
    topic = create_topic(broker)
    flink_repo(tmp_path, broker, topic, flink)
    defs = tmp_path / "defs.yaml"
    defs.write_text(defs.read_text().replace(
        "{column: size, function: sum, time_window: 2m}",
        "{column: size, function: sum, time_window: 180s, slide_interval: 90s}"))
    for command in (["compile", "flink"], ["apply"]):
        failed = cli(*command, ok=False)
        assert "defs.yaml:8: stream feature view 'ticker_windows': cannot run on Flink: the " \
               "slides' greatest " \
               "common divisor (30s) must be one of its slides" in failed.stderr, failed.stderr
    assert not (tmp_path / "data" / "registry.json").exists()


@pytest.mark.slow
def test_the_compiled_pipeline_runs_by_hand(flink, broker, tmp_path, cli):
    """pipeline.sql, as `compile flink` writes it, runs in Flink's own sql-client and writes
    committed tiles Headwater can read."""
    from test_kafka import create_topic, produce
    directory, address = flink
    topic = create_topic(broker)
    flink_repo(tmp_path, broker, topic, flink)
    produce(broker, topic, [json.dumps(e).encode() for e in engine_events(seed=3, count=200)])
    cli("compile", "flink", "-o", tmp_path / "out")
    assert (tmp_path / "out" / "jars.txt").read_text().startswith(
        "org.apache.flink:flink-sql-connector-kafka:")
    jobs = submit(directory, tmp_path / "out" / "pipeline.sql")
    try:
        consumer = confluent_kafka.Consumer({
            "bootstrap.servers": broker, "group.id": "by-hand", "auto.offset.reset": "earliest",
            "isolation.level": "read_committed"})
        consumer.subscribe([f"headwater-{project_of(topic)}-ticker_windows-tiles"])
        messages = []
        deadline = time.time() + 60
        while not any("ticker" in m for m in messages) and time.time() < deadline:
            messages += [json.loads(m.value()) for m in consumer.consume(100, 1)
                         if m.error() is None]
        consumer.close()
        tiles = [m for m in messages if "headwater_reject" not in m]
        assert tiles and {"ticker", "event_time", "price__n", "price__m2_bits",
                          "size__last_bits"} <= set(tiles[0])
        # Late events come back as rejects, in the same topic, with the source message.
        rejects = [m for m in messages if "headwater_reject" in m]
        assert all(list(m) == ["headwater_reject", "headwater_partition", "headwater_offset",
                               "headwater_payload"] for m in rejects)
    finally:
        for job in jobs:
            cancel(address, job)


@pytest.mark.slow
def test_kill_9_of_headwater_and_of_a_taskmanager_leaves_the_stores_of_an_uninterrupted_run(
        flink, broker, tmp_path, cli):
    """Exactly once end to end: Headwater killed -9 twice while merging tiles, and Flink's
    TaskManager killed -9 (then started again; the job restores its checkpoint and aborts the
    Kafka transactions it had open), end with the online values and offline rows of the
    embedded engine on the same events."""
    import os
    import signal
    from test_kafka import create_topic, produce
    from test_server import Server
    directory, address = flink
    topic = create_topic(broker)
    embedded, on_flink = tmp_path / "embedded", tmp_path / "flink"
    stream_repo(embedded, broker, topic)
    flink_repo(on_flink, broker, topic, flink)
    events = engine_events(seed=29, count=3000)
    produce(broker, topic, [json.dumps(e).encode() for e in events])
    cli("-c", embedded, "apply")
    cli("-c", on_flink, "apply")
    reference = Server(embedded)
    try:
        final = steady_answer(reference)
    finally:
        reference.stop()
    # Headwater dies twice while tiles arrive.
    for _ in range(2):
        server = Server(on_flink)
        time.sleep(1.5)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    # A TaskManager dies; a new one takes its place.
    pid = int(next(directory.glob("flink-*-taskexecutor*.pid")).read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    home = directory / "flink"
    subprocess.run([home / "bin" / "taskmanager.sh", "start"], env={
        **flink_env(directory), "FLINK_PID_DIR": str(directory)}, check=True,
        capture_output=True, timeout=60)
    server = Server(on_flink)
    try:
        deadline = time.time() + 180
        while server.post("/get-online-features", REQUEST)[1]["results"] != final:
            assert time.time() < deadline, "the Flink path never reached the embedded values"
            time.sleep(1)
    finally:
        server.stop()
        for job in [j["jid"] for j in rest(address, "/jobs/overview")["jobs"]
                    if j["state"] == "RUNNING"]:
            cancel(address, job)
    dumps = [compared(cli("-c", r, "online-dump", "--view", "ticker_windows").stdout)
             for r in (embedded, on_flink)]
    assert dumps[0] == dumps[1]
    until = datetime.fromtimestamp((events[-3]["timestamp"] + 12 * 60_000) / 1000, timezone.utc)
    assert offline_rows(embedded, until) == offline_rows(on_flink, until)


@pytest.mark.slow
def test_a_lost_cluster_resumes_from_the_jobs_last_checkpoint(broker, tmp_path, cli):
    """The JobManager and TaskManager killed -9 (a standalone cluster without HA forgets its
    jobs) while Headwater serves and events keep coming: /health says Flink is down; a new
    cluster, `apply` resumes the job from the last checkpoint it retained, and the stores end
    as the embedded engine's on the same events — the windows in progress kept, nothing that
    arrived during the outage lost."""
    import os
    import signal
    from test_kafka import create_topic, produce
    from test_server import Server

    def start(directory):
        started = subprocess.run([ROOT / "scripts" / "start_flink", directory],
                                 capture_output=True, text=True, timeout=1800)
        assert started.returncode == 0, started.stderr
        return directory, started.stdout.strip().splitlines()[-1]

    topic = create_topic(broker)
    embedded, on_flink = tmp_path / "embedded", tmp_path / "flink"
    events = engine_events(seed=31, count=2000)
    half = len(events) // 2
    first = start(tmp_path / "cluster1")
    second = None
    try:
        stream_repo(embedded, broker, topic)
        flink_repo(on_flink, broker, topic, first)
        produce(broker, topic, [json.dumps(e).encode() for e in events[:half]])
        cli("-c", embedded, "apply")
        job = re.findall(r"submitted job '[^']+' \((\w+)\)", cli("-c", on_flink, "apply").stdout)[0]
        deadline = time.time() + 60
        while rest(first[1], f"/jobs/{job}/checkpoints")["counts"]["completed"] < 3:
            assert time.time() < deadline
            time.sleep(0.5)
        for pidfile in first[0].glob("flink-*.pid"):
            for pid in pidfile.read_text().split():
                os.kill(int(pid), signal.SIGKILL)
        server = Server(on_flink)
        try:
            deadline = time.time() + 30
            while "flink" not in (health := server.get("/health")[1]):
                assert time.time() < deadline, health
                time.sleep(0.2)
            health = json.loads(health) if isinstance(health, str) else health
            assert health["status"] == "degraded" and "unreachable" in health["flink"]["error"]
            # The rest of the events arrive while Flink is down.
            produce(broker, topic, [json.dumps(e).encode() for e in events[half:]])
        finally:
            server.stop()
        second = start(tmp_path / "cluster2")
        flink_repo(on_flink, broker, topic, second)  # the new cluster's addresses
        out = cli("-c", on_flink, "apply").stdout
        assert f"flink: resumed job 'headwater-{project_of(topic)}-ticker_windows' from its " \
            "last checkpoint" \
            in out, out

        def diagnose(server):
            tiles = f"headwater-{project_of(topic)}-ticker_windows-tiles"
            offsets = {}
            for level in ("read_committed", "read_uncommitted"):
                c = confluent_kafka.Consumer({"bootstrap.servers": broker, "group.id": level,
                                              "isolation.level": level})
                offsets[level] = c.get_watermark_offsets(
                    confluent_kafka.TopicPartition(tiles, 0), timeout=10)
                c.close()
            return (f"{offsets} {cli('-c', on_flink, 'flink', 'status').stdout}" + "\n".join(
                line for line in server.get("/metrics")[1].splitlines() if "flink-" in line))

        reach_embedded(embedded, on_flink, timeout=180, diagnose=diagnose)
        until = datetime.fromtimestamp((events[-3]["timestamp"] + 12 * 60_000) / 1000,
                                       timezone.utc)
        assert offline_rows(embedded, until) == offline_rows(on_flink, until)
    finally:
        for cluster in (first, second):
            if cluster is not None:
                subprocess.run([ROOT / "scripts" / "stop_flink", cluster[0]], timeout=120)

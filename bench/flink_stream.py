"""Flink stream engine benchmark (issue 13): the ticker job (min/max/mean of price over 5, 10 and
60 minute windows sliding by 1 minute) with 10k tickers, JSON in a real Kafka topic of two
partitions, run four ways in the same run on this machine's real Flink cluster
(scripts/start_flink) and broker (scripts/start_kafka):

1. embedded: `headwater serve` reads the topic itself;
2. Flink at parallelism 1 and 2: `headwater apply` submits the compiled tile job, `headwater
   serve` merges the tiles into windows;
3. Flink's own SQL for the same windows (HOP, MIN/MAX/AVG) at parallelism 1 and 2, writing
   final windows to Kafka, without Headwater: the peer.

Throughput: events / wall second until the source is read (Flink: its consumer group's committed
offsets reach the end, and for Headwater every tile merged; Headwater: every event read),
counted on Flink from the job's first checkpoint (its group's first commit), so that job
submission and start-up — an HTTP call for `apply`, a new JVM for sql-client — are left out; and
events per CPU-second of the processes involved over the same time (Flink's TaskManager,
Headwater's server), with Headwater's share of the CPU. Freshness: with event time = wall time and a paced producer, a
1-second tumbling count view; each time a key's window row appears online, the delay after its
window end + watermark delay (the earliest any engine can finalise it).
"""
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from historical_retrieval import ROOT, common_arguments, write_results
from stream import cpu_seconds, metrics, percentile, post, produce

sys.path.insert(0, str(ROOT / "tests"))
from test_server import free_port  # noqa: E402

DEFINITIONS = """
entities: [{{name: ticker, join_keys: [ticker], value_type: STRING}}]
sources:
  - {{name: trades, path: data/trades, timestamp_field: timestamp}}
  - {{name: trades_kafka, type: kafka, bootstrap_servers: '{broker}', topic: {topic},
     batch_source: trades, watermark_delay: 5s}}
feature_views:
  - name: {view}
    entities: [ticker]
    source: trades_kafka
    aggregations:
{aggregations}
"""
TICKER = "\n".join(f"      - {{column: price, function: {f}, time_window: {m}m, slide_interval: 1m}}"
                   for f in ("min", "max", "mean") for m in (5, 10, 60))
FRESH = "      - {column: price, function: count, time_window: 1s}"


def write_repo(root, broker, topic, project, engine="", aggregations=TICKER, view="ticker_windows"):
    (root / "data" / "trades").mkdir(parents=True)
    schema = pa.schema([("ticker", pa.string()), ("price", pa.float64()),
                        ("timestamp", pa.timestamp("ms", tz="UTC"))])
    pq.write_table(schema.empty_table(), root / "data" / "trades" / "0000.parquet")
    (root / "feature_store.yaml").write_text(
        f"project: {project}\nstream: {{checkpoint_interval: 1s}}\n{engine}")
    (root / "defs.yaml").write_text(DEFINITIONS.format(broker=broker, topic=topic, view=view,
                                                       aggregations=aggregations))


def group_lag(broker, topic, group):
    """Messages of `topic` the consumer group has not committed (None before any commit)."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = [TopicPartition(topic, p) for p in metadata.partitions]
        committed = consumer.committed(partitions, timeout=10)
        if any(c.offset < 0 for c in committed):
            return None
        return sum(consumer.get_watermark_offsets(c, timeout=10)[1] - c.offset for c in committed)
    finally:
        consumer.close()


def taskmanager_pid(flink_dir):
    for pidfile in flink_dir.glob("flink-*-taskexecutor*.pid"):
        return int(pidfile.read_text().split()[0])
    raise RuntimeError("no TaskManager pid file in " + str(flink_dir))


def serve(build, repo):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([build / "headwater", "-c", repo, "serve", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            metrics(url)
            return process, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def run_embedded(args, broker, topic, work, rep):
    repo = work / f"embedded{rep}"
    write_repo(repo, broker, topic, f"embedded{rep}")
    subprocess.run([args.build / "headwater", "-c", repo, "apply"], check=True, capture_output=True)
    server, url = serve(args.build, repo)
    try:
        began, cpu0 = time.perf_counter(), cpu_seconds(server.pid)
        while True:
            values = metrics(url)
            done = sum(v for k, v in values.items()
                       if k.startswith('headwater_stream_position{source="trades_kafka"'))
            if done >= args.events:
                break
            time.sleep(0.01)
        wall, cpu = time.perf_counter() - began, cpu_seconds(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"seconds": wall, "events_per_second": args.events / wall,
            "cpu_seconds": cpu, "headwater_cpu_seconds": cpu,
            "cpu_seconds_per_million_events": cpu / args.events * 1e6}


def first_commit(broker, topic, group, timeout=300):
    """Waits for the job's first checkpoint (its group's first commit): when it runs. Returns
    (then, the messages it had yet to read)."""
    deadline = time.time() + timeout
    while (lag := group_lag(broker, topic, group)) is None:
        if time.time() > deadline:
            raise RuntimeError(f"group {group} never committed")
        time.sleep(0.05)
    return time.perf_counter(), lag


def wait_drained(broker, topic, group, timeout=900):
    deadline = time.time() + timeout
    while True:
        lag = group_lag(broker, topic, group)
        if lag == 0:
            return
        if time.time() > deadline:
            raise RuntimeError(f"group {group} still {lag} behind")
        time.sleep(0.2)


def run_flink(args, broker, topic, work, flink_dir, address, gateway, parallelism, rep):
    project = f"flink{parallelism}r{rep}"
    repo = work / project
    engine = (f"stream_engine: {{type: flink, rest_address: '{address}', sql_gateway: "
              f"'{gateway}', parallelism: {parallelism}, checkpoint_interval: 1s}}\n")
    write_repo(repo, broker, topic, project, engine)
    tm = taskmanager_pid(flink_dir)
    applied = subprocess.run([args.build / "headwater", "-c", repo, "apply"], check=True,
                             capture_output=True, text=True).stdout
    job = re.findall(r"submitted job '[^']+' \((\w+)\)", applied)[0]
    server, url = serve(args.build, repo)
    try:
        # Steady state: from the job's first checkpoint (submission and start-up left out, as
        # for Flink's own SQL, whose sql-client starts a JVM) until the topic is drained.
        group = f"headwater-{project}-ticker_windows"
        began, left = first_commit(broker, topic, group)
        hw0, tm0 = cpu_seconds(server.pid), cpu_seconds(tm)
        wait_drained(broker, topic, group)
        # Then every committed tile merged: Headwater's tile count stops moving.
        source = 'headwater_stream_events_total{source="flink-ticker_windows"}'
        last, steady = -1, 0
        while steady < 10:
            now = metrics(url).get(source, 0)
            steady = steady + 1 if now == last else 0
            last = now
            time.sleep(0.1)
        wall = time.perf_counter() - began - 1.0  # less the steady wait
        hw, tmcpu = cpu_seconds(server.pid) - hw0, cpu_seconds(tm) - tm0
        events = left
        urllib.request.urlopen(urllib.request.Request(f"{address}/jobs/{job}?mode=cancel",
                                                      method="PATCH"), timeout=10).close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"seconds": wall, "events": events, "events_per_second": events / wall,
            "tiles": last, "cpu_seconds": hw + tmcpu, "headwater_cpu_seconds": hw,
            "headwater_cpu_share": hw / (hw + tmcpu),
            "cpu_seconds_per_million_events": (hw + tmcpu) / events * 1e6}


def run_flink_sql(args, broker, topic, work, flink_dir, address, parallelism, rep):
    """Flink's own SQL for the same windows, final rows to Kafka, no Headwater."""
    name = f"flink-sql-{parallelism}-{rep}"
    hops = [f"""INSERT INTO windows_{m}
SELECT ticker, window_end, MIN(price), MAX(price), AVG(price)
FROM TABLE(HOP(TABLE trades, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE, INTERVAL '{m}' MINUTE))
GROUP BY ticker, window_start, window_end;""" for m in (5, 10, 60)]
    sinks = "\n".join(f"""CREATE TEMPORARY TABLE windows_{m} (ticker STRING, window_end TIMESTAMP(3),
  mn DOUBLE, mx DOUBLE, av DOUBLE) WITH ('connector' = 'kafka', 'topic' = '{name}-{m}',
  'properties.bootstrap.servers' = '{broker}', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{name}-{m}',
  'properties.transaction.timeout.ms' = '900000');""" for m in (5, 10, 60))
    script = work / f"{name}.sql"
    script.write_text(f"""SET 'table.local-time-zone' = 'UTC';
SET 'execution.checkpointing.interval' = '1000 ms';
SET 'parallelism.default' = '{parallelism}';
SET 'pipeline.name' = '{name}';
CREATE TEMPORARY TABLE trades (ticker STRING, price DOUBLE, `timestamp` BIGINT,
  rowtime AS TO_TIMESTAMP_LTZ(`timestamp`, 3),
  WATERMARK FOR rowtime AS rowtime - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{broker}',
  'properties.group.id' = '{name}', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
{sinks}
EXECUTE STATEMENT SET BEGIN
{chr(10).join(hops)}
END;
""")
    home = flink_dir / "flink"
    env = {"FLINK_HOME": str(home), "FLINK_CONF_DIR": str(home / "conf"),
           "FLINK_LOG_DIR": str(home / "log"), "PATH": "/usr/bin:/bin"}
    tm = taskmanager_pid(flink_dir)
    out = subprocess.run([home / "bin" / "sql-client.sh", "-f", script], env=env, check=True,
                         capture_output=True, text=True).stdout
    job = re.findall(r"Job ID: (\w+)", out)[0]
    began, events = first_commit(broker, topic, name)
    tm0 = cpu_seconds(tm)
    wait_drained(broker, topic, name)
    wall, cpu = time.perf_counter() - began, cpu_seconds(tm) - tm0
    urllib.request.urlopen(urllib.request.Request(f"{address}/jobs/{job}?mode=cancel",
                                                  method="PATCH"), timeout=10).close()
    return {"seconds": wall, "events": events, "events_per_second": events / wall,
            "cpu_seconds": cpu, "cpu_seconds_per_million_events": cpu / events * 1e6}


def freshness(args, broker, work, address, gateway, on_flink):
    """A paced producer at wall-clock event times; samples the delay from a 1-second window's
    end + the 5 s watermark delay to its row readable online."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    topic = "fresh-" + ("flink" if on_flink else "embedded")
    admin = AdminClient({"bootstrap.servers": broker})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(timeout=30)
    project = "freshflink" if on_flink else "freshembedded"
    repo = work / project
    engine = (f"stream_engine: {{type: flink, rest_address: '{address}', sql_gateway: "
              f"'{gateway}', checkpoint_interval: 1s}}\n") if on_flink else ""
    write_repo(repo, broker, topic, project, engine, FRESH, "fresh")
    subprocess.run([args.build / "headwater", "-c", repo, "apply"], check=True,
                   capture_output=True)
    server, url = serve(args.build, repo)
    stop = threading.Event()

    def load():
        producer = Producer({"bootstrap.servers": broker, "linger.ms": 1})
        while not stop.is_set():
            now = int(time.time() * 1000)
            for k in range(20):
                producer.produce(topic, f'{{"ticker":"K{k}","price":1.0,"timestamp":{now}}}')
            producer.poll(0)
            time.sleep(0.01)
        producer.flush(10)

    thread = threading.Thread(target=load)
    thread.start()
    samples = []
    try:
        seen = None
        deadline = time.time() + args.freshness_seconds
        while time.time() < deadline:
            got = post(url + "/get-online-features", {"features": ["fresh:count_price_1s"],
                                                      "entities": {"ticker": ["K0"]}})
            stamp = got["results"][1]["event_timestamps"][0]
            if stamp and stamp != seen and not stamp.startswith("1970"):
                if seen is not None:
                    end = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                    samples.append(time.time() - (end + 5.0))
                seen = stamp
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join()
        server.terminate()
        server.wait(timeout=60)
    return {"samples": len(samples), "p50_ms": percentile(samples, 0.5) * 1e3,
            "p99_ms": percentile(samples, 0.99) * 1e3}


def main():
    parser = common_arguments("Flink stream engine benchmark", "flink_stream.json")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--freshness-seconds", type=float, default=40)
    args = parser.parse_args()
    from confluent_kafka.admin import AdminClient, NewTopic
    work = Path(tempfile.mkdtemp(prefix="headwater-bench-flink-"))
    broker = subprocess.run([ROOT / "scripts" / "start_kafka", work / "kafka"], check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]
    flink_dir = work / "flink-cluster"
    address = subprocess.run([ROOT / "scripts" / "start_flink", flink_dir], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
    gateway = (flink_dir / "sql_gateway_address").read_text().strip()
    results = {"events": args.events, "keys": args.keys}
    try:
        topic = "trades"
        admin = AdminClient({"bootstrap.servers": broker})
        for future in admin.create_topics([NewTopic(topic, 2, 1)]).values():
            future.result(timeout=30)
        print(f"== producing {args.events:,} JSON messages to a 2-partition topic", flush=True)
        produce(broker, topic, args.events, args.keys)
        runs = [("embedded", lambda r: run_embedded(args, broker, topic, work, r))]
        for p in (1, 2):
            runs.append((f"flink_p{p}", lambda r, p=p: run_flink(
                args, broker, topic, work, flink_dir, address, gateway, p, r)))
            runs.append((f"flink_sql_p{p}", lambda r, p=p: run_flink_sql(
                args, broker, topic, work, flink_dir, address, p, r)))
        # Round robin, so that the JVM's warm-up and the machine's noise fall on every
        # configuration alike; each figure is the median of the repetitions.
        measured = {name: [] for name, _ in runs}
        for rep in range(args.repeat):
            for name, run in runs:
                result = run(rep)
                measured[name].append(result)
                share = result.get("headwater_cpu_share")
                print(f"== {name} (run {rep + 1}): {result['events_per_second'] / 1e3:.0f}k "
                      f"events/s, {result['cpu_seconds_per_million_events']:.1f} CPU-s per M "
                      "events" + (f", Headwater's share of the CPU {share:.1%}"
                                  if share is not None else ""), flush=True)
        for name, _ in runs:
            results[name] = {key: statistics.median(r[key] for r in measured[name])
                             for key in measured[name][0]}
            results[name]["runs_events_per_second"] = [
                r["events_per_second"] for r in measured[name]]
            share = results[name].get("headwater_cpu_share")
            print(f"== {name} (median of {args.repeat}): "
                  f"{results[name]['events_per_second'] / 1e3:.0f}k events/s, "
                  f"{results[name]['cpu_seconds_per_million_events']:.1f} CPU-s per M events"
                  + (f", Headwater's share of the CPU {share:.1%}" if share is not None else ""),
                  flush=True)
        for name, on_flink in (("freshness_embedded", False), ("freshness_flink", True)):
            results[name] = freshness(args, broker, work, address, gateway, on_flink)
            print(f"== {name}: window end + delay -> online p50 {results[name]['p50_ms']:.0f} ms, "
                  f"p99 {results[name]['p99_ms']:.0f} ms ({results[name]['samples']} windows)",
                  flush=True)
        results["ratios"] = {
            "flink_p1_vs_flink_sql_p1": results["flink_p1"]["events_per_second"] /
            results["flink_sql_p1"]["events_per_second"],
            "flink_p2_vs_p1": results["flink_p2"]["events_per_second"] /
            results["flink_p1"]["events_per_second"],
            "embedded_vs_flink_sql_per_cpu_second":
                results["flink_sql_p1"]["cpu_seconds_per_million_events"] /
                results["embedded"]["cpu_seconds_per_million_events"]}
        print("== ratios: " + json.dumps({k: round(v, 2) for k, v in results["ratios"].items()}),
              flush=True)
    finally:
        subprocess.run([ROOT / "scripts" / "stop_flink", flink_dir], check=False)
        subprocess.run([ROOT / "scripts" / "stop_kafka", work / "kafka"], check=False)
        shutil.rmtree(work, ignore_errors=True)
    write_results(args.results, results)


if __name__ == "__main__":
    main()

"""Stream benchmark: the ticker job (min/max/mean of price over 5, 10 and 60 minute windows
sliding by 1 minute) with 10k tickers.

1. Engine: build/bench/window_benchmark on pre-decoded Arrow batches, one thread.
2. End to end: JSON messages in a real Kafka topic (one partition, KRaft broker from
   scripts/start_kafka) read by `headwater serve` with checkpoints every second; events per
   second of wall time and per CPU-second of the server process.
3. Freshness at 50 % and 80 % of that rate (a paced producer): a pushed row of a plain view,
   from the push's acknowledgement to readable through /get-online-features; and a window, from
   processing the input that moved the watermark past its end to its row online (the server's
   headwater_stream_window_publish_seconds).
4. Peer: the same events as CSV through the equivalent Flink SQL HOP-window job in PyFlink
   (local mini-cluster, parallelism 1, from .venv-flink), in the same run.
"""
import http.client
import json
import multiprocessing
import os
import random
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

sys.path.insert(0, str(ROOT / "tests"))
from test_server import free_port  # noqa: E402

START_MILLIS = 1_770_000_000_000


def events(count, keys, seed=42):
    """One event per key per second of event time, up to 2 s out of order."""
    rng = random.Random(seed)
    step = 1000 / keys
    for i in range(count):
        yield (f"T{rng.randrange(keys)}", round(100 + rng.random() * 100, 2),
               START_MILLIS + int(i * step) - rng.randrange(2000))


def produce(broker, topic, count, keys):
    """`count` events as JSON messages (event times in epoch milliseconds)."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": broker, "linger.ms": 20,
                         "batch.num.messages": 10000, "queue.buffering.max.messages": 1000000})
    for ticker, price, millis in events(count, keys):
        payload = f'{{"ticker":"{ticker}","price":{price},"timestamp":{millis}}}'
        while True:
            try:
                producer.produce(topic, payload)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


DEFINITIONS = """
entities: [{{name: ticker, join_keys: [ticker], value_type: STRING}}]
sources:
  - {{name: trades, path: data/trades, timestamp_field: timestamp}}
  - {{name: trades_kafka, type: kafka, bootstrap_servers: '{broker}', topic: {topic},
     batch_source: trades, watermark_delay: 5s}}
  - {{name: quotes, path: data/quotes, timestamp_field: timestamp}}
  - {{name: quotes_push, type: push, batch_source: quotes}}
feature_views:
  - name: ticker_windows
    entities: [ticker]
    source: trades_kafka
    aggregations:
{aggregations}
  - name: last_quote
    entities: [ticker]
    source: quotes_push
    schema: [{{name: price, dtype: Float64}}]
"""


def write_repo(root, broker, topic):
    aggregations = "\n".join(
        f"      - {{column: price, function: {f}, time_window: {m}m, slide_interval: 1m}}"
        for f in ("min", "max", "mean") for m in (5, 10, 60))
    schema = pa.schema([("ticker", pa.string()), ("price", pa.float64()),
                        ("timestamp", pa.timestamp("ms", tz="UTC"))])
    for name in ("trades", "quotes"):
        (root / "data" / name).mkdir(parents=True)
        pq.write_table(schema.empty_table(), root / "data" / name / "0000.parquet")
    (root / "feature_store.yaml").write_text("project: bench\nstream: {checkpoint_interval: 1s}\n")
    (root / "defs.yaml").write_text(DEFINITIONS.format(broker=broker, topic=topic,
                                                       aggregations=aggregations))


def post(url, body):
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


class Client:
    """One keep-alive connection, as a model server's client keeps."""

    def __init__(self, url):
        self.connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)

    def post(self, path, body):
        self.connection.request("POST", path, json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        return json.loads(response.read())


def metrics(url):
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1)))]


def main():
    parser = common_arguments("Stream engine benchmark", "stream.json")
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--flink-events", type=int, default=1_000_000)
    parser.add_argument("--flink-python", type=Path, default=ROOT / ".venv-flink" / "bin" / "python")
    parser.add_argument("--skip-flink", action="store_true")
    args = parser.parse_args()
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    results = {"events": args.events, "keys": args.keys}

    print("== stream engine, pre-decoded batches, one thread", flush=True)
    engine_runs = []
    for _ in range(args.repeat):
        out = subprocess.run([args.build / "bench" / "window_benchmark", str(args.events * 5),
                              str(args.keys)], check=True, capture_output=True, text=True).stdout
        engine_runs.append(json.loads(out))
    engine = statistics.median(r["events_per_second"] for r in engine_runs)
    results["engine"] = {"events_per_second": engine, "runs": engine_runs}
    runs = ", ".join(f"{r['events_per_second'] / 1e6:.2f}" for r in engine_runs)
    print(f"  {engine / 1e6:.2f} M events/s (runs: {runs}), "
          f"peak RSS {engine_runs[0]['peak_rss_mib']:.0f} MiB", flush=True)

    work = Path(tempfile.mkdtemp(prefix="headwater-bench-stream-"))
    started = subprocess.run([ROOT / "scripts" / "start_kafka", work / "kafka"], check=True,
                             capture_output=True, text=True)
    broker = started.stdout.strip().splitlines()[-1]
    server = None
    try:
        topic = "trades"
        admin = AdminClient({"bootstrap.servers": broker})
        for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
            future.result(timeout=30)
        print(f"== producing {args.events:,} JSON messages to Kafka", flush=True)
        t = time.perf_counter()
        produce(broker, topic, args.events, args.keys)
        print(f"  produced in {time.perf_counter() - t:.1f} s", flush=True)

        repo = work / "repo"
        write_repo(repo, broker, topic)
        subprocess.run([args.build / "headwater", "-c", repo, "apply"], check=True,
                       capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([args.build / "headwater", "-c", repo, "serve", "--port",
                                   str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        position = 'headwater_stream_position{source="trades_kafka",partition="0"}'
        first = None
        while True:
            try:
                values = metrics(url)
            except OSError:
                time.sleep(0.01)
                continue
            now = time.perf_counter()
            at = values.get(position, 0)
            if first is None and at > 0:
                first = (now, at, cpu_seconds(server.pid))
            if at >= args.events:
                break
            time.sleep(0.01)
        wall = now - first[0]
        cpu = cpu_seconds(server.pid) - first[2]
        done = args.events - first[1]
        e2e = {"events": done, "seconds": wall, "cpu_seconds": cpu,
               "events_per_second": done / wall, "events_per_cpu_second": done / cpu,
               "peak_rss_mib": peak_rss_mib(server.pid),
               "checkpoints": values.get('headwater_stream_checkpoints_total{source="trades_kafka"}'),
               "rows": values.get('headwater_stream_rows_total{source="trades_kafka"}')}
        results["kafka_end_to_end"] = e2e
        print(f"== Kafka JSON end to end (checkpoints every 1 s): {done:,.0f} events in "
              f"{wall:.2f} s = {e2e['events_per_second'] / 1e3:.0f}k events/s wall, "
              f"{e2e['events_per_cpu_second'] / 1e3:.0f}k events per CPU-second, "
              f"peak RSS {e2e['peak_rss_mib']:.0f} MiB", flush=True)

        # Freshness under load: a paced producer continues the stream at a share of the rate.
        sustained = e2e["events_per_second"]
        results["freshness"] = []
        offset = args.events
        for share in (0.5, 0.8):
            rate = share * sustained
            # The producer runs in its own process: a thread of this one would hold the GIL
            # (switched every 5 ms) while the probe below waits for its answers.
            fork = multiprocessing.get_context("fork")
            stop = fork.Event()
            produced = fork.Value("q", 0, lock=False)

            def load(start=offset, rate=rate):
                paced = Producer({"bootstrap.servers": broker, "linger.ms": 2})
                source = events(start + 10_000_000, args.keys)
                for _ in range(start):
                    next(source)
                began = time.perf_counter()
                count = 0
                while not stop.is_set():
                    due = int((time.perf_counter() - began) * rate) - count
                    for _ in range(min(due, 20000)):
                        ticker, price, millis = next(source)
                        paced.produce(topic, f'{{"ticker":"{ticker}","price":{price},'
                                             f'"timestamp":{millis}}}')
                        count += 1
                    produced.value = count
                    paced.poll(0)
                    time.sleep(0.001)
                paced.flush(30)

            thread = fork.Process(target=load)
            thread.start()
            time.sleep(1.0)
            push_latency, ack_latency, polls = [], [], []
            client = Client(url)
            for i in range(300):
                value = float(i) + share
                sent = time.perf_counter()
                client.post("/push", {"push_source_name": "quotes_push", "df": {
                    "ticker": ["PROBE"], "price": [value],
                    "timestamp": [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{i:06d}Z"]}})
                acked = time.perf_counter()
                ack_latency.append(acked - sent)
                for poll in range(1, 1_000_000):
                    got = client.post("/get-online-features", {"features": ["last_quote:price"],
                                                              "entities": {"ticker": ["PROBE"]}})
                    if got["results"][1]["values"][0] == value:
                        push_latency.append(time.perf_counter() - acked)
                        polls.append(poll)
                        break
                time.sleep(0.01)
            values = metrics(url)
            stop.set()
            thread.join()
            seconds = time.perf_counter() - acked
            offset += produced.value
            window = {q: values.get('headwater_stream_window_publish_seconds{source="trades_kafka",'
                                    f'quantile="{q}"}}') for q in ("0.5", "0.99")}
            row = {"share": share, "target_rate": rate,
                   "push_ack_to_readable_p50_ms": percentile(push_latency, 0.5) * 1e3,
                   "push_ack_to_readable_p99_ms": percentile(push_latency, 0.99) * 1e3,
                   "push_ack_p50_ms": percentile(ack_latency, 0.5) * 1e3,
                   "push_ack_p99_ms": percentile(ack_latency, 0.99) * 1e3,
                   "reads_until_readable_max": max(polls),
                   "window_publish_p50_ms": (window["0.5"] or 0) * 1e3,
                   "window_publish_p99_ms": (window["0.99"] or 0) * 1e3,
                   "produced": produced.value}
            results["freshness"].append(row)
            print(f"== freshness at {share:.0%} load ({rate / 1e3:.0f}k events/s target, "
                  f"{produced.value:,} produced): push ack->readable p50 "
                  f"{row['push_ack_to_readable_p50_ms']:.2f} ms p99 "
                  f"{row['push_ack_to_readable_p99_ms']:.2f} ms (push ack p50 "
                  f"{row['push_ack_p50_ms']:.2f} ms p99 {row['push_ack_p99_ms']:.2f} ms, "
                  f"reads until readable at most {row['reads_until_readable_max']}); "
                  f"window watermark->online p50 "
                  f"{row['window_publish_p50_ms']:.2f} ms p99 {row['window_publish_p99_ms']:.2f} ms",
                  flush=True)
        server.terminate()
        server.wait(timeout=60)
        server = None
    finally:
        if server is not None:
            server.kill()
        subprocess.run([ROOT / "scripts" / "stop_kafka", work / "kafka"], check=False)

    if not args.skip_flink:
        print(f"== PyFlink: the same job as Flink SQL HOP windows on {args.flink_events:,} events",
              flush=True)
        if not args.flink_python.exists():
            subprocess.run([sys.executable, "-m", "venv", ROOT / ".venv-flink"], check=True)
            subprocess.run([args.flink_python, "-m", "pip", "install", "-q", "-r",
                            ROOT / "bench" / "requirements-flink.txt"], check=True)
        csv = work / "events.csv"
        with open(csv, "w") as out:
            for ticker, price, millis in events(args.flink_events, args.keys):
                out.write(f"{ticker},{price},{millis}\n")
        flink = json.loads(subprocess.run(
            [args.flink_python, ROOT / "bench" / "peers" / "flink_windows.py", csv],
            check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        processing = flink["job_seconds"] - flink["empty_job_seconds"]
        flink["events_per_second"] = args.flink_events / flink["job_seconds"]
        flink["events_per_second_after_startup"] = args.flink_events / processing
        results["pyflink"] = flink
        e2e = results["kafka_end_to_end"]["events_per_cpu_second"]
        results["ratios"] = {
            "kafka_end_to_end_vs_flink": e2e / flink["events_per_second_after_startup"],
            "engine_vs_flink": engine / flink["events_per_second_after_startup"]}
        print(f"  PyFlink job {flink['job_seconds']:.1f} s (an empty job: "
              f"{flink['empty_job_seconds']:.1f} s) = {flink['events_per_second'] / 1e3:.0f}k "
              f"events/s, {flink['events_per_second_after_startup'] / 1e3:.0f}k after start-up; "
              f"Headwater Kafka end to end {results['ratios']['kafka_end_to_end_vs_flink']:.1f}x, "
              f"engine {results['ratios']['engine_vs_flink']:.0f}x", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    write_results(args.results, results)


if __name__ == "__main__":
    main()

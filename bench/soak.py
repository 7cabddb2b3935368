"""Soak: `headwater serve` under a steady mix for a long time — pushes into a stream view, Kafka
messages into another, online reads of both — sampling the server's RSS every 10 s and reporting
latencies and errors per slice. Pass: no error response, every push and read answered, RSS after
the first slice (warm-up) growing at most 5 %.

    .venv/bin/python bench/soak.py --minutes 30      # make chaos
    .venv/bin/python bench/soak.py --minutes 3 --slice 1

The online store's bounded buffers (memtables, block cache, row cache) are 4 MiB each
(--memory-mb), so they are full within minutes: at their defaults (64, 256 and 256 MiB) they
fill for hours at these rates, which is growth up to a bound, not a leak, but would hide one.
Rates are fixed (defaults: 100 pushes/s of 20 events, 20,000 Kafka messages/s, 400 reads/s);
the Python clients and the broker share the machine with the server, as in bench/stream.py.
"""
import argparse
import http.client
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

DEFINITIONS = """
entities: [{{name: ticker, join_keys: [ticker], value_type: STRING}}]
sources:
  - {{name: trades, path: data/trades, timestamp_field: timestamp}}
  - {{name: trades_push, type: push, batch_source: trades, watermark_delay: 5s}}
  - {{name: quotes, path: data/quotes, timestamp_field: timestamp}}
  - {{name: quotes_kafka, type: kafka, bootstrap_servers: '{broker}', topic: {topic},
     batch_source: quotes, watermark_delay: 5s}}
feature_views:
  - name: trade_windows
    entities: [ticker]
    source: trades_push
    ttl: 0
    aggregations:
      - {{column: price, function: mean, time_window: 1m, slide_interval: 10s}}
      - {{column: size, function: sum, time_window: 1m}}
  - name: quote_windows
    entities: [ticker]
    source: quotes_kafka
    ttl: 0
    aggregations:
      - {{column: price, function: max, time_window: 1m, slide_interval: 10s}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_by_mapping(pid):
    """RSS in KiB per kind of mapping: [heap], [stack], anonymous, or the mapped file's name."""
    kinds, kind = {}, None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            name = fields[5] if len(fields) > 5 else "anonymous"
            kind = "[stack]" if name.startswith("[stack") else name
        elif fields and fields[0] == "Rss:":
            kinds[kind] = kinds.get(kind, 0) + int(fields[1])
    return kinds


def quantile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Client:
    """One keep-alive connection; records latency and errors."""

    def __init__(self, port):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path, body):
        data = json.dumps(body)
        started = time.perf_counter()
        try:
            self.connection.request("POST", path, data, {"Content-Type": "application/json"})
            response = self.connection.getresponse()
            text = response.read()
            return response.status, time.perf_counter() - started, text
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return 0, time.perf_counter() - started, str(error).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--slice", type=float, default=5, help="minutes per reported slice")
    parser.add_argument("--pushes", type=float, default=100, help="pushes per second")
    parser.add_argument("--messages", type=float, default=20000, help="Kafka messages per second")
    parser.add_argument("--reads", type=float, default=400, help="online reads per second")
    parser.add_argument("--memory-mb", type=int, default=4,
                        help="the online store's memtable budget, block cache and row cache, each "
                        "(online_store.memtable_mb, block_cache_mb, row_cache_mb)")
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--wrap", default="", help="a command to run the server under, e.g. "
                        "heaptrack (its report is kept where it says)")
    args = parser.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, NewTopic

    work = Path(tempfile.mkdtemp(prefix="headwater-soak-"))
    broker_dir = work / "kafka"
    broker = subprocess.run([ROOT / "scripts" / "start_kafka", broker_dir], check=True,
                            capture_output=True, text=True).stdout.strip()
    server = None
    try:
        topic = "quotes"
        admin = AdminClient({"bootstrap.servers": broker})
        for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
            future.result(timeout=30)
        for _ in range(300):  # until the partition has a leader
            found = admin.list_topics(topic, timeout=5).topics.get(topic)
            if found and found.error is None and all(p.leader >= 0 for p in found.partitions.values()):
                break
            time.sleep(0.1)
        repo = work / "repo"
        for name in ("trades", "quotes"):
            (repo / "data" / name).mkdir(parents=True)
        (repo / "feature_store.yaml").write_text(
            "project: soak\nstream: {checkpoint_interval: 1s}\n"
            f"online_store: {{type: rocksdb, memtable_mb: {args.memory_mb}, "
            f"block_cache_mb: {args.memory_mb}, row_cache_mb: {args.memory_mb}}}\n")
        (repo / "defs.yaml").write_text(DEFINITIONS.format(broker=broker, topic=topic))
        us = pa.timestamp("us", tz="UTC")
        old = datetime(2001, 1, 1, tzinfo=timezone.utc)
        pq.write_table(pa.table({"ticker": ["OLD"], "price": [1.0], "size": [1],
                                 "timestamp": pa.array([old], us)}), repo / "data/trades/0.parquet")
        pq.write_table(pa.table({"ticker": ["OLD"], "price": [1.0], "timestamp": pa.array([old], us)}),
                       repo / "data/quotes/0.parquet")
        headwater = args.build / "headwater"
        subprocess.run([headwater, "-c", repo, "apply"], check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([*args.wrap.split(), headwater, "-c", repo, "serve",
                                   "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)

        stop = threading.Event()
        lock = threading.Lock()
        samples = {"push": [], "read": []}  # (time, latency, status)
        errors = []
        tickers = [f"T{i}" for i in range(1000)]
        start = time.monotonic()

        def paced(rate, work_once):
            period = 1.0 / rate
            next_at = time.monotonic()
            while not stop.is_set():
                work_once()
                next_at += period
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -1:
                    next_at = time.monotonic()  # fell behind by a second: do not burst

        def pusher():
            client = Client(port)
            rng = random.Random(1)

            def once():
                now = datetime.now(timezone.utc)
                df = {"ticker": [rng.choice(tickers) for _ in range(20)],
                      "price": [round(rng.uniform(90, 110), 2) for _ in range(20)],
                      "size": [rng.randrange(1, 100) for _ in range(20)],
                      "timestamp": [(now - timedelta(milliseconds=rng.randrange(0, 2000)))
                                    .strftime("%Y-%m-%dT%H:%M:%S.%fZ") for _ in range(20)]}
                status, latency, text = client.post("/push", {"push_source_name": "trades_push",
                                                              "df": df})
                with lock:
                    samples["push"].append((time.monotonic() - start, latency, status))
                    if status != 200:
                        errors.append(("push", status, text[:200]))
            paced(args.pushes, once)

        def reader():
            client = Client(port)
            rng = random.Random(2)

            def once():
                body = {"features": ["trade_windows:mean_price_1m", "quote_windows:max_price_1m"],
                        "entities": {"ticker": [rng.choice(tickers) for _ in range(10)]}}
                status, latency, text = client.post("/get-online-features", body)
                with lock:
                    samples["read"].append((time.monotonic() - start, latency, status))
                    if status != 200:
                        errors.append(("read", status, text[:200]))
            paced(args.reads, once)

        def producer():
            kafka = confluent_kafka.Producer({"bootstrap.servers": broker, "linger.ms": 20})
            rng = random.Random(3)
            batch = max(1, int(args.messages / 50))

            def once():
                now = datetime.now(timezone.utc)
                for _ in range(batch):
                    t = now - timedelta(milliseconds=rng.randrange(0, 2000))
                    kafka.produce(topic, json.dumps({
                        "ticker": rng.choice(tickers), "price": round(rng.uniform(90, 110), 2),
                        "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}).encode())
                kafka.poll(0)
            paced(50, once)
            kafka.flush(30)

        threads = [threading.Thread(target=f) for f in (pusher, reader, producer)]
        for thread in threads:
            thread.start()
        rss = []
        warm_mappings = end_mappings = None  # RSS per kind of mapping after warm-up, at the end
        deadline = start + args.minutes * 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                errors.append(("server", server.returncode, server.stderr.read()[-500:]))
                break
            rss.append((time.monotonic() - start, rss_mib(server.pid)))
            end_mappings = rss_by_mapping(server.pid)
            if warm_mappings is None and rss[-1][0] >= args.slice * 60:
                warm_mappings = end_mappings
            time.sleep(min(10, max(0, deadline - time.monotonic())))
        stop.set()
        for thread in threads:
            thread.join()

        slice_seconds = args.slice * 60
        slices = []
        for k in range(int(args.minutes * 60 // slice_seconds)):
            lo, hi = k * slice_seconds, (k + 1) * slice_seconds
            row = {"slice": f"{lo / 60:.0f}-{hi / 60:.0f} min"}
            for kind in ("push", "read"):
                got = [s for s in samples[kind] if lo <= s[0] < hi]
                latencies = [s[1] * 1e3 for s in got]
                row[kind] = {"count": len(got), "per_s": len(got) / slice_seconds,
                             "p50_ms": quantile(latencies, 0.5), "p99_ms": quantile(latencies, 0.99),
                             "errors": sum(1 for s in got if s[2] != 200)}
            in_slice = [m for t, m in rss if lo <= t < hi]
            row["rss_mib"] = max(in_slice) if in_slice else float("nan")
            slices.append(row)
            print(f"{row['slice']:>10}: push {row['push']['per_s']:.0f}/s p50 "
                  f"{row['push']['p50_ms']:.2f} p99 {row['push']['p99_ms']:.2f} ms, "
                  f"read {row['read']['per_s']:.0f}/s p50 {row['read']['p50_ms']:.2f} "
                  f"p99 {row['read']['p99_ms']:.2f} ms, errors {row['push']['errors'] + row['read']['errors']}, "
                  f"RSS {row['rss_mib']:.0f} MiB")
        warm = [m for t, m in rss if t >= slice_seconds]
        growth = (max(warm) / warm[0] - 1) * 100 if len(warm) > 1 else 0.0
        metrics = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        metrics.request("GET", "/metrics")
        text = metrics.getresponse().read().decode()
        events = {line.split()[0]: line.split()[1] for line in text.splitlines()
                  if line.startswith("headwater_stream_events_total")}
        print(f"RSS after warm-up: {warm[0] if warm else float('nan'):.0f} -> "
              f"{max(warm) if warm else float('nan'):.0f} MiB ({growth:+.1f} %); stream events {events}; "
              f"error responses {len(errors)}")
        if warm_mappings:
            change = {k: end_mappings.get(k, 0) - warm_mappings.get(k, 0)
                      for k in set(end_mappings) | set(warm_mappings)}
            grown = sorted(change.items(), key=lambda kv: -abs(kv[1]))[:5]
            print("RSS change after warm-up by mapping: " +
                  ", ".join(f"{Path(k).name or k} {v / 1024:+.1f} MiB" for k, v in grown))
        results = {"minutes": args.minutes, "rates": {"pushes": args.pushes, "messages": args.messages,
                                                      "reads": args.reads},
                   "slices": slices, "rss": rss, "rss_growth_percent": growth,
                   "errors": [list(map(str, e)) for e in errors[:20]], "stream_events": events}
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "soak.json").write_text(json.dumps(results, indent=1))
        ok = not errors and growth <= 5
        print("soak:", "pass" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
        subprocess.run([ROOT / "scripts" / "stop_kafka", broker_dir], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

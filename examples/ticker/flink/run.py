"""The ticker pipeline with its windows computed on Apache Flink: trades as JSON in a Kafka
topic, the same `ticker_windows` view as ../definitions.yaml compiled to a Flink job that
`headwater apply` submits, and `headwater serve` merging the job's tiles into the windows it
serves — the values the embedded engine gives (docs/flink.md).

    python run.py HEADWATER_BINARY [WORK_DIRECTORY]

Starts a Kafka broker and a Flink cluster with the repository's scripts (stopped at the end),
copies this directory's repository to WORK_DIRECTORY/repo (default ./ticker-flink-run), and
works there.
"""
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
from run import SCHEMA, TICKERS, free_port, post, trades  # noqa: E402


def main():
    headwater = str(Path(sys.argv[1]).resolve())
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "ticker-flink-run").resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print("$ scripts/start_kafka && scripts/start_flink", flush=True)
    broker = subprocess.run([ROOT / "scripts" / "start_kafka", work / "kafka"], check=True,
                            capture_output=True, text=True).stdout.split()[-1]
    flink = subprocess.run([ROOT / "scripts" / "start_flink", work / "flink"], check=True,
                           capture_output=True, text=True).stdout.split()[-1]
    gateway = (work / "flink" / "sql_gateway_address").read_text().strip()
    print(f"Kafka at {broker}, Flink at {flink} (SQL Gateway {gateway})")
    server = None
    try:
        repo = work / "repo"
        shutil.copytree(HERE.parent, repo, ignore=shutil.ignore_patterns("*.py", "flink", "data"))
        (repo / "data" / "trades").mkdir(parents=True)
        pq.write_table(SCHEMA.empty_table(), repo / "data" / "trades" / "0000-schema.parquet")
        (repo / "feature_store.yaml").write_text(
            (HERE / "feature_store.yaml").read_text())
        definitions = (repo / "definitions.yaml").read_text().replace(
            "  - name: trades_push\n    type: push\n",
            "  - name: trades_push\n    type: kafka\n"
            f"    bootstrap_servers: '{broker}'\n    topic: trades\n")
        (repo / "definitions.yaml").write_text(definitions)
        env = {"FLINK_REST": flink, "FLINK_GATEWAY": gateway, "PATH": "/usr/bin:/bin"}

        def hw(*args):
            print(f"\n$ headwater {' '.join(map(str, args))}", flush=True)
            subprocess.run([headwater, "-c", repo, *map(str, args)], check=True, env=env)

        # An hour of trades, ending now, as Kafka messages (event times in epoch milliseconds).
        from confluent_kafka import Producer
        now = datetime.now(timezone.utc).replace(microsecond=0)
        events = list(trades(now - timedelta(hours=1), 3600))
        producer = Producer({"bootstrap.servers": broker, "linger.ms": 20})
        for e in events:
            producer.produce("trades", json.dumps({
                "ticker": e["ticker"], "price": e["price"],
                "timestamp": int(e["timestamp"].timestamp() * 1000)}))
        producer.flush(60)
        del producer  # no reconnection noise when the broker stops
        print(f"Produced {len(events):,} trades of {', '.join(TICKERS)} to topic 'trades'")

        hw("compile", "flink", "-o", work / "compiled")
        print((work / "compiled" / "pipeline.sql").read_text()[:1200] + "...")
        hw("apply")  # submits the view's Flink job
        hw("flink", "status")
        port = free_port()
        print(f"\n$ headwater serve --port {port} &", flush=True)
        server = subprocess.Popen([headwater, "-c", repo, "serve", "--port", str(port)], env=env)
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        # Windows arrive as Flink commits its tiles (every checkpoint, 2 s here); the newest
        # final one ends a few minutes before the last trade (the watermark trails it by 5 s,
        # and a pane is final in Headwater when the next pane's tile arrives).
        newest = (events[-1]["timestamp"] - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        deadline = time.time() + 120
        while time.time() < deadline:
            got = post(url + "/get-online-features", {"feature_service": "price_model",
                                                      "entities": {"ticker": list(TICKERS)}})
            stamps = got["results"][1]["event_timestamps"]
            if all(s and s >= newest for s in stamps):
                break
            time.sleep(1)
        names = got["metadata"]["feature_names"]
        print(f"\n{'ticker':>8}  {'window end':>20}  " + "  ".join(f"{n:>13}" for n in names[1:]))
        for i, ticker in enumerate(TICKERS):
            cells = [got["results"][f]["values"][i] for f in range(1, len(names))]
            print(f"{ticker:>8}  {got['results'][1]['event_timestamps'][i]:>20}  " +
                  "  ".join(f"{c:13.2f}" if isinstance(c, float) else f"{str(c):>13}"
                            for c in cells))
        print("\n$ curl /health")
        print(json.dumps(json.loads(urllib.request.urlopen(url + "/health").read()), indent=1))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        subprocess.run([ROOT / "scripts" / "stop_flink", work / "flink"], check=False)
        subprocess.run([ROOT / "scripts" / "stop_kafka", work / "kafka"], check=False)


if __name__ == "__main__":
    main()

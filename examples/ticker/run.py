"""The ticker pipeline end to end: synthetic ETH-USD (and BTC-USD, SOL-USD) trades pushed to a
running `headwater serve`, windowed features read online while it runs, then a training set
built from the offline store.

    python run.py HEADWATER_BINARY [REPOSITORY_COPY]

Copies this directory to REPOSITORY_COPY (default ./ticker-run) and works there.
"""
import json
import math
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TICKERS = {"ETH-USD": 3000.0, "BTC-USD": 60000.0, "SOL-USD": 150.0}
SCHEMA = pa.schema([("ticker", pa.string()), ("price", pa.float64()),
                    ("timestamp", pa.timestamp("us", tz="UTC"))])


def trades(start, seconds, seed=7):
    """A random walk per ticker, about one trade per ticker per second."""
    rng = random.Random(seed)
    prices = dict(TICKERS)
    t = start
    end = start + timedelta(seconds=seconds)
    while t < end:
        t += timedelta(milliseconds=rng.randrange(100, 600))
        ticker = rng.choice(list(TICKERS))
        prices[ticker] *= math.exp(rng.gauss(0, 0.0008))
        yield {"ticker": ticker, "price": round(prices[ticker], 2), "timestamp": t}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body):
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main():
    headwater = str(Path(sys.argv[1]).resolve())
    repo = Path(sys.argv[2] if len(sys.argv) > 2 else "ticker-run").resolve()
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(Path(__file__).parent, repo, ignore=shutil.ignore_patterns("run.py", "data"))
    (repo / "data" / "trades").mkdir(parents=True)
    pq.write_table(SCHEMA.empty_table(), repo / "data" / "trades" / "0000-schema.parquet")

    def hw(*args, **kwargs):
        print(f"\n$ headwater {' '.join(map(str, args))}", flush=True)
        return subprocess.run([headwater, "-c", repo, *map(str, args)], check=True, **kwargs)

    hw("apply")
    port = free_port()
    print(f"\n$ headwater serve --port {port} &", flush=True)
    server = subprocess.Popen([headwater, "-c", repo, "serve", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.05)

    # Two hours of trades, ending now, pushed 1,000 at a time.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    events = list(trades(now - timedelta(hours=2), 2 * 3600))
    print(f"\nPushing {len(events):,} trades of {', '.join(TICKERS)} "
          f"({events[0]['timestamp']:%H:%M} to {events[-1]['timestamp']:%H:%M} UTC)")
    print(f"{'trade time':>10}  {'ETH-USD window':>14}  {'min 5m':>9} {'max 5m':>9} "
          f"{'mean 5m':>9} {'mean 1h':>9} {'trades 5m':>9}")
    started = time.perf_counter()
    for i in range(0, len(events), 1000):
        chunk = events[i:i + 1000]
        post(url + "/push", {
            "push_source_name": "trades_push", "to": "online_and_offline",
            "df": {"ticker": [e["ticker"] for e in chunk], "price": [e["price"] for e in chunk],
                   "timestamp": [e["timestamp"].isoformat() for e in chunk]}})
        if (i // 1000) % 3 == 0:
            got = post(url + "/get-online-features", {"feature_service": "price_model",
                                                      "entities": {"ticker": ["ETH-USD"]}})
            values = {name: result["values"][0] for name, result in
                      zip(got["metadata"]["feature_names"], got["results"])}
            window = got["results"][1]["event_timestamps"][0][11:16]
            fmt = lambda v: f"{v:9.2f}" if isinstance(v, float) else f"{str(v):>9}"
            print(f"{chunk[-1]['timestamp']:%H:%M:%S}  {window:>14}  "
                  f"{fmt(values['price_min_5m'])} {fmt(values['price_max_5m'])} "
                  f"{fmt(values['price_mean_5m'])} {fmt(values['price_mean_1h'])} "
                  f"{fmt(values['trades_5m'])}")
    seconds = time.perf_counter() - started
    print(f"\nPushed {len(events):,} trades in {seconds:.2f} s, reading features as it went")
    server.terminate()  # a last checkpoint commits the window rows to the offline store
    server.wait(timeout=30)

    # Training data: label rows at arbitrary times get the windows as they were online then.
    label_times = [now - timedelta(minutes=m, seconds=17) for m in (100, 75, 50, 25, 5)]
    entity_rows = pa.table({
        "ticker": ["ETH-USD"] * len(label_times) + ["SOL-USD"] * len(label_times),
        "event_timestamp": pa.array(label_times * 2, pa.timestamp("us", tz="UTC")),
        "label": [1, 0, 1, 1, 0, 0, 1, 0, 0, 1]})
    pq.write_table(entity_rows, repo / "labels.parquet")
    hw("get-historical-features", "--entities", repo / "labels.parquet", "--feature-service",
       "price_model", "--output", repo / "training.parquet")
    table = pq.read_table(repo / "training.parquet")
    print("\n== training.parquet: label rows with the windows as of each row's time")
    columns = ["ticker", "event_timestamp", "label", "price_min_5m", "price_max_5m",
               "price_mean_5m", "price_mean_1h", "trades_5m"]
    print("  ".join(f"{c:>14}" for c in columns))
    for row in table.select(columns).to_pylist():
        cells = [row["ticker"], f"{row['event_timestamp']:%H:%M:%S}", row["label"]] + \
                [f"{row[c]:.2f}" if isinstance(row[c], float) else row[c] for c in columns[3:]]
        print("  ".join(f"{str(c):>14}" for c in cells))


if __name__ == "__main__":
    main()

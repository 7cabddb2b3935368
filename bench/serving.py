"""Serving benchmark: `headwater serve` under wrk (saturated) and h2load (fixed rate), on RocksDB
and Redis, against Feast's Python feature server (`feast serve`) on the same data, same run.

Server and load generator share this 2-core machine (stated in every result). The server runs
with its default workers (one per core on RocksDB, two per core on Redis). Saturated runs:
wrk, 1 thread, 32 connections, 10 s, requests drawn from a pool of 10,000 random bodies
(bench/wrk_online.lua). Fixed rate: h2load at 10k req/s for 10 s as 2 connections x 5,000/s and
as 10 x 1,000/s, one body, latency percentiles computed from its per-request log; and vegeta
(scripts/vegeta) at 1,000 req/s for 10 s of 100-entity requests, each with its own random keys.
"""
import base64
import csv
import io
import random
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from historical_retrieval import (HERE, ROOT, common_arguments, ensure_data, redis_server,
                                  write_results)
from materialize import END, START, configure


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port, process, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("server did not start")


def wrk(port, entities, keys, seconds=10):
    env = dict(os.environ, ENTITIES=str(entities), KEYS=str(keys))
    out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", HERE / "wrk_online.lua",
                          f"http://127.0.0.1:{port}"], env=env, check=True, capture_output=True,
                         text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["requests_per_second"] = result["requests"] / result["duration_s"]
    return result


def h2load_fixed_rate(port, body, rate_per_client=1000, clients=10, seconds=10):
    with tempfile.TemporaryDirectory() as scratch:
        body_file, log = Path(scratch) / "body.json", Path(scratch) / "log.tsv"
        body_file.write_text(json.dumps(body))
        subprocess.run(["h2load", "--h1", "-c", str(clients), "--rps", str(rate_per_client),
                        "-n", str(rate_per_client * clients * seconds), "-d", body_file,
                        "-H", "Content-Type: application/json", "--log-file", log,
                        f"http://127.0.0.1:{port}/get-online-features"],
                       check=True, capture_output=True)
        rows = [line.split("\t") for line in log.read_text().splitlines()]
    micros = sorted(int(row[2]) for row in rows)
    statuses = {row[1] for row in rows}
    pick = lambda q: micros[min(len(micros) - 1, int(q * len(micros)))]
    return {"rate": rate_per_client * clients, "requests": len(micros), "statuses": sorted(statuses),
            "p50_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999)}


def vegeta_fixed_rate(port, entities, keys, rate=1000, seconds=10):
    """`rate` req/s for `seconds`, every request with its own random keys; latency quantiles
    from vegeta's per-request results."""
    vegeta = subprocess.run([ROOT / "scripts" / "vegeta"], check=True, capture_output=True,
                            text=True).stdout.strip()
    url = f"http://127.0.0.1:{port}/get-online-features"
    features = [f"driver_stats:f{i}" for i in range(10)]
    generator = random.Random(7)
    targets = io.StringIO()
    for _ in range(rate * seconds):
        body = json.dumps({"features": features, "entities": {
            "driver_id": [generator.randrange(keys) for _ in range(entities)]}})
        targets.write(json.dumps({"method": "POST", "url": url,
                                  "header": {"Content-Type": ["application/json"]},
                                  "body": base64.b64encode(body.encode()).decode()}) + "\n")
    attack = subprocess.run([vegeta, "attack", "-format=json", f"-rate={rate}/s",
                             f"-duration={seconds}s"], input=targets.getvalue().encode(),
                            check=True, capture_output=True).stdout
    rows = subprocess.run([vegeta, "encode", "--to", "csv"], input=attack, check=True,
                          capture_output=True).stdout.decode()
    results = list(csv.reader(io.StringIO(rows)))
    micros = sorted(int(row[2]) / 1000 for row in results)
    pick = lambda q: round(micros[min(len(micros) - 1, int(q * len(micros)))])
    return {"rate": rate, "entities": entities, "requests": len(micros),
            "statuses": sorted({row[1] for row in results}),
            "p50_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999)}


def serve_headwater(binary, repo, port):
    return subprocess.Popen([binary, "serve", "--port", str(port)], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def prepare(binary, data, store, redis_port):
    repo = configure(data, store, redis_port)
    subprocess.run([binary, "teardown"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "materialize", START, END], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    return repo


def report(label, result):
    print(f"  {label:<44} {result['requests_per_second']:>9,.0f} req/s  p50 {result['p50_us']:>6} us"
          f"  p99 {result['p99_us']:>6} us  p99.9 {result['p999_us']:>6} us", flush=True)


def main():
    parser = common_arguments(__doc__, "serving.json")
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    results = {"machine": f"{os.cpu_count()} cores, server (2 workers) and load generator on it"}
    one = {"features": [f"driver_stats:f{i}" for i in range(10)], "entities": {"driver_id": [12345]}}
    with redis_server() as redis_port:
        big = ensure_data(args.data / "materialize_10m_1m", 1_000, 10_000_000, 1_000_000)
        print("serving: 1M keys x 10 Float64 features (10M source rows)", flush=True)
        for store in ("rocksdb", "redis"):
            repo = prepare(binary, big, store, redis_port)
            port = free_port()
            server = serve_headwater(binary, repo, port)
            try:
                wait_until_up(port, server)
                for entities in (1, 100):
                    result = wrk(port, entities, 1_000_000)
                    results[f"headwater_{store}_{entities}x10"] = result
                    report(f"headwater {store} {entities} x 10 (wrk, saturated)", result)
                # Twice: the first pass reads 1M random keys the caches have not seen yet; the
                # second is the steady state of a server whose caches hold its keys.
                for run in ("first pass", "steady"):
                    fixed = vegeta_fixed_rate(port, 100, 1_000_000)
                    results[f"headwater_{store}_100x10_at_1k" +
                            ("_first_pass" if run == "first pass" else "")] = fixed
                    print(f"  headwater {store} 100 x 10 at 1,000 req/s (vegeta, random keys, "
                          f"{run}): p50 {fixed['p50_us']} us, p99 {fixed['p99_us']} us, "
                          f"p99.9 {fixed['p999_us']} us, statuses {fixed['statuses']}",
                          flush=True)
                # 10k req/s two ways: 2 connections x 5,000/s, and 10 x 1,000/s, whose
                # per-connection timers fire together, so requests arrive in bursts of 10.
                for clients in (2, 10):
                    fixed = h2load_fixed_rate(port, one, 10_000 // clients, clients)
                    results[f"headwater_{store}_1x10_at_10k_{clients}_connections"] = fixed
                    print(f"  headwater {store} 1 x 10 at {fixed['rate']} req/s, {clients} "
                          f"connections (h2load): p50 {fixed['p50_us']} us, p99 {fixed['p99_us']} us, "
                          f"p99.9 {fixed['p999_us']} us, statuses {fixed['statuses']}", flush=True)
            finally:
                server.terminate()
                server.wait()
        if not args.skip_feast:
            print("feast comparison: 100k keys x 10 Float64 (1M source rows), 1 x 10, wrk", flush=True)
            small = ensure_data(args.data / "materialize_1m_100k", 1_000, 1_000_000, 100_000)
            repo = prepare(binary, small, "rocksdb", redis_port)
            port = free_port()
            server = serve_headwater(binary, repo, port)
            try:
                wait_until_up(port, server)
                results["headwater_small_1x10"] = wrk(port, 1, 100_000)
                report("headwater rocksdb 1 x 10", results["headwater_small_1x10"])
            finally:
                server.terminate()
                server.wait()
            port = free_port()
            feast = subprocess.Popen([args.peer_python, HERE / "peers" / "feast_serve.py",
                                      args.data / "feast_serve_repo", small / "features.parquet",
                                      str(port), "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_until_up(port, feast, seconds=900)
                time.sleep(3)  # let its workers finish starting
                results["feast_small_1x10"] = wrk(port, 1, 100_000)
                report("feast serve (sqlite, 2 workers) 1 x 10", results["feast_small_1x10"])
            finally:
                feast.terminate()
                feast.wait()
            ratio = (results["headwater_small_1x10"]["requests_per_second"] /
                     results["feast_small_1x10"]["requests_per_second"])
            results["feast_ratio"] = ratio
            print(f"  Headwater / Feast req/s = {ratio:.0f}x", flush=True)
    write_results(args.results, results)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

"""Materialization and online read benchmark: Headwater into RocksDB and Redis vs Feast's
materialize into its SQLite and Redis online stores, same data, same run.

Default size: 10M feature rows x 10 Float64 features over 1M keys, 30 days (every row in range,
so 1M keys are written). Feast runs on a 10x smaller set (1M rows over 100k keys); Headwater runs
on it too for the ratio. Each Headwater run starts from an empty store (teardown, apply). Then the
in-process read latency (bench/online_read_benchmark.cc) on the materialized stores.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from historical_retrieval import (HERE, ROOT, common_arguments, ensure_data, measure,
                                  redis_server, write_results)

START, END = "2024-04-01T00:00:00Z", "2024-07-01T00:00:00Z"


def configure(data, store, redis_port):
    repo = data / "repo"
    online = {"rocksdb": "online_store: {type: rocksdb, path: data/online}\n",
              "sqlite": "online_store: {type: sqlite, path: data/online.db}\n",
              "redis": f"online_store: {{type: redis, connection_string: '127.0.0.1:{redis_port}'}}\n"}[store]
    (repo / "feature_store.yaml").write_text(
        f"project: bench_{store}\nregistry: data/registry_{store}.json\n" + online)
    return repo


def headwater_materialize(binary, data, store, redis_port, repeat, threads, rows):
    repo = configure(data, store, redis_port)
    runs = []
    for _ in range(repeat):
        subprocess.run([binary, "teardown"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([binary, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
        runs.append(measure(f"headwater -> {store}", [binary, "materialize", START, END,
                                                      "--threads", str(threads)], 1, cwd=repo))
    seconds = sorted(r["seconds"] for r in runs)[len(runs) // 2]
    result = {"seconds": seconds, "runs": [r["seconds"] for r in runs],
              "rows_per_second": rows / seconds, "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
    print(f"  headwater -> {store}: median {seconds:.2f} s, {rows / seconds:,.0f} rows/s", flush=True)
    return result


def read_latency(build, data, store, redis_port, keys):
    repo = configure(data, store, redis_port)
    out = subprocess.run([build / "bench" / "online_read_benchmark", repo, "driver_stats", str(keys)],
                         check=True, capture_output=True, text=True).stdout
    results = [json.loads(line) for line in out.splitlines()]
    for r in results:
        print(f"  read {store} {r['entities']} x {r['features']}: p50 {r['p50_us']:.1f} us, "
              f"p99 {r['p99_us']:.1f} us, p99.9 {r['p999_us']:.1f} us", flush=True)
    return results


def main():
    parser = common_arguments(__doc__, "materialize.json",
                              "also materialize 100M rows (~10 GB) under a memory cap")
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    build = args.build.resolve()
    results = {"machine": f"{os.cpu_count()} cores", "threads": args.threads}
    with redis_server() as port:
        print("materialize: 10M rows x 10 Float64 over 1M keys", flush=True)
        big = ensure_data(args.data / "materialize_10m_1m", 1_000, 10_000_000, 1_000_000)
        for store in ("rocksdb", "redis"):
            results[f"headwater_{store}"] = headwater_materialize(
                binary, big, store, port, args.repeat, args.threads, 10_000_000)
            results[f"read_{store}"] = read_latency(build, big, store, port, 1_000_000)
        if not args.skip_feast:
            print("feast comparison: 1M rows x 10 Float64 over 100k keys", flush=True)
            small = ensure_data(args.data / "materialize_1m_100k", 1_000, 1_000_000, 100_000)
            for store in ("sqlite", "redis"):  # like for like: the same store on both sides
                hw_store = store
                hw = headwater_materialize(binary, small, hw_store, port, args.repeat, args.threads,
                                           1_000_000)
                subprocess.run(["redis-cli", "-p", port, "flushall"], check=True,
                               stdout=subprocess.DEVNULL)
                feast = measure(f"feast materialize -> {store}", [
                    args.peer_python, HERE / "peers" / "feast_materialize.py",
                    small / "features.parquet", store, port], 1, timeout=3600)
                feast["rows_per_second"] = 1_000_000 / feast["seconds"]
                results[f"headwater_small_{hw_store}"] = hw
                results[f"feast_{store}"] = feast
                results[f"feast_{store}_ratio"] = feast["seconds"] / hw["seconds"]
                print(f"  Feast ({store}) / Headwater ({hw_store}) time = "
                      f"{results[f'feast_{store}_ratio']:.1f}x", flush=True)
        if args.large:
            print(f"larger than memory: 100M rows x 10 Float64 over 100k keys (~10 GB decoded) "
                  f"into RocksDB, address space capped at {args.memory_cap_mib} MiB", flush=True)
            large = ensure_data(args.data / "retrieval_1m_100m", 1_000_000, 100_000_000, 100_000)
            repo = configure(large, "rocksdb", port)
            subprocess.run([binary, "teardown"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([binary, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
            capped = measure("headwater -> rocksdb (capped)", [
                "prlimit", f"--as={args.memory_cap_mib * 1024 * 1024}", binary, "materialize",
                START, END, "--threads", str(args.threads)], 1, cwd=repo)
            capped["rows_per_second"] = 100_000_000 / capped["seconds"]
            results["headwater_large_rocksdb"] = capped
            results["memory_cap_mib"] = args.memory_cap_mib
    write_results(args.results, results)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

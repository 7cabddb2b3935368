"""Historical retrieval benchmark: Headwater vs DuckDB's ASOF JOIN vs Feast, same data, same run.

Default size: 1M entity rows x 10M feature rows x 10 Float64 features, 100k entities, 30 days,
ttl 7 days. Feast runs on a 10x smaller set (it cannot finish the default size in reasonable
time); Headwater runs on that set too, so the Feast ratio compares equal work. Every number is
wall time of a whole process (start, Parquet reads, join, Parquet write) and its peak RSS.
Medians over --repeat runs.
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run(command, cwd=None, timeout=None):
    """Runs a command; returns (seconds, peak RSS in MiB, CPU seconds)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = None if timeout is None else started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise TimeoutError(f"{command[0]} took longer than {timeout} s")
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(name, command, repeat, cwd=None, timeout=None):
    runs = [run(command, cwd=cwd, timeout=timeout) for _ in range(repeat)]
    seconds = statistics.median(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    print(f"  {name:<28} median {seconds:7.3f} s  (runs: {', '.join(f'{r[0]:.2f}' for r in runs)})"
          f"  peak RSS {rss:7.0f} MiB", flush=True)
    return {"seconds": seconds, "runs": [r[0] for r in runs], "peak_rss_mib": rss}


def common_arguments(description, results_name, large_help=None):
    """The arguments every benchmark driver takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--peer-python", type=Path, default=ROOT / ".venv-bench" / "bin" / "python")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-feast", action="store_true")
    if large_help:
        parser.add_argument("--large", action="store_true", help=large_help)
        parser.add_argument("--memory-cap-mib", type=int, default=2048)
    parser.add_argument("--results", type=Path, default=HERE / "results" / results_name)
    return parser


@contextlib.contextmanager
def redis_server():
    """A throwaway redis-server on a free loopback port (scripts/start_redis); yields the port."""
    directory = Path(tempfile.mkdtemp(prefix="headwater-bench-redis-"))
    port = subprocess.run([ROOT / "scripts" / "start_redis", directory], check=True,
                          capture_output=True, text=True).stdout.strip()
    try:
        yield port
    finally:
        subprocess.run([ROOT / "scripts" / "stop_redis", directory], check=False)


def write_results(path, results):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {path}")


def ensure_data(directory, entity_rows, feature_rows, entities, features=10, views=1):
    """The data set of generate_retrieval_data.py in `directory`, generated once."""
    if not (directory / "entities.parquet").exists():
        print(f"generating {directory.name} ...", flush=True)
        subprocess.run([sys.executable, HERE / "generate_retrieval_data.py", directory,
                        "--entity-rows", str(entity_rows), "--feature-rows", str(feature_rows),
                        "--entities", str(entities), "--features", str(features),
                        "--views", str(views)], check=True)
    return directory


def headwater(binary, data, threads, repeat):
    repo = data / "repo"
    subprocess.run([binary, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    return measure("headwater", [binary, "get-historical-features", "--entities",
                                 data / "entities.parquet", "--feature-service", "all_features",
                                 "--output", data / "out_headwater.parquet",
                                 "--threads", str(threads)], repeat, cwd=repo)


def main():
    parser = common_arguments(__doc__, "historical_retrieval.json",
                              "also run 10x the feature rows (100M, ~10 GB) under a memory cap")
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    results = {"machine": f"{os.cpu_count()} cores", "threads": args.threads}

    print("historical retrieval: 1M entity rows x 10M feature rows x 10 Float64, 100k entities, "
          "30 days, ttl 7d", flush=True)
    big = ensure_data(args.data / "retrieval_1m_10m", 1_000_000, 10_000_000, 100_000)
    results["headwater"] = headwater(binary, big, args.threads, args.repeat)
    results["duckdb"] = measure("duckdb ASOF JOIN", [
        args.peer_python, HERE / "peers" / "duckdb_retrieval.py", big / "entities.parquet",
        big / "features.parquet", big / "out_duckdb.parquet", "7", str(args.threads)], args.repeat)
    hw = results["headwater"]["seconds"]
    results["duckdb_ratio"] = results["duckdb"]["seconds"] / hw
    results["headwater_rows_per_second"] = 1_000_000 / hw
    print(f"  headwater: {1_000_000 / hw:,.0f} entity rows/s, "
          f"{10_000_000 / hw:,.0f} feature rows/s; DuckDB / Headwater time = "
          f"{results['duckdb_ratio']:.2f}x", flush=True)

    if not args.skip_feast:
        print("feast comparison: 100k entity rows x 1M feature rows x 10 Float64, 10k entities",
              flush=True)
        small = ensure_data(args.data / "retrieval_100k_1m", 100_000, 1_000_000, 10_000)
        results["headwater_small"] = headwater(binary, small, args.threads, args.repeat)
        results["feast_small"] = measure("feast get_historical_features", [
            args.peer_python, HERE / "peers" / "feast_retrieval.py", small / "entities.parquet",
            small / "features.parquet", small / "out_feast.parquet", "7"], 1, timeout=1800)
        results["feast_ratio"] = results["feast_small"]["seconds"] / results["headwater_small"]["seconds"]
        print(f"  Feast / Headwater time = {results['feast_ratio']:.1f}x", flush=True)

    if args.large:
        print(f"larger than memory: 1M entity rows x 100M feature rows (~10 GB Parquet, ~10 GB "
              f"decoded), address space capped at {args.memory_cap_mib} MiB", flush=True)
        large = ensure_data(args.data / "retrieval_1m_100m", 1_000_000, 100_000_000, 100_000)
        subprocess.run([binary, "apply"], cwd=large / "repo", check=True, stdout=subprocess.DEVNULL)
        results["headwater_large"] = measure("headwater (capped)", [
            "prlimit", f"--as={args.memory_cap_mib * 1024 * 1024}", binary,
            "get-historical-features", "--entities", large / "entities.parquet",
            "--feature-service", "all_features", "--output", large / "out_headwater.parquet",
            "--threads", str(args.threads)], 1, cwd=large / "repo")
        results["memory_cap_mib"] = args.memory_cap_mib

    write_results(args.results, results)


if __name__ == "__main__":
    main()

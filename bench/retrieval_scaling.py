"""Training data at every shape (issue 20): Headwater against DuckDB's ASOF JOIN as entity rows and
feature rows grow, in one run, with the exponent of each one's cost.

Shapes: entity rows x feature rows from --entity-rows and --feature-rows (default 100k, 1M, 10M
x 1M, 10M), 10 Float64 features, entities = entity rows / 10, 30 days, ttl 7 days (the data of
bench/generate_retrieval_data.py, generated once per shape into bench/data/). Each process is
timed whole (start-up, reads, join, Parquet output to local disk), `sync` before every run,
Headwater and DuckDB alternating; medians of --repeat runs, peak RSS, busy cores (CPU time /
wall). The exponent is the least-squares slope of log(time) on log(entity rows + feature rows).
"""
import math
import os
import statistics
import subprocess
import sys

from historical_retrieval import HERE, common_arguments, ensure_data, run, write_results


def synced_run(command, cwd=None):
    """historical_retrieval.run after `sync`, so one run's dirty output is not the next's cost."""
    subprocess.run(["sync"], check=False)
    return run(command, cwd=cwd)


def summary(runs):
    seconds = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    return {"seconds": seconds, "runs": [r[0] for r in runs],
            "peak_rss_mib": max(r[1] for r in runs), "busy_cores": cpu / seconds}


def slope(points):
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def label(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def main():
    parser = common_arguments(__doc__, "retrieval_scaling.json")
    parser.add_argument("--entity-rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--feature-rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    results = {"machine": f"{os.cpu_count()} cores", "threads": args.threads, "shapes": []}
    print(f"{'entity x feature rows':<22} {'headwater':>10} {'duckdb':>10} {'ratio':>6} "
          f"{'RSS hw/dd MiB':>15} {'busy cores hw/dd':>17}", flush=True)
    for features in args.feature_rows:
        for entities in args.entity_rows:
            name = f"retrieval_{label(entities).lower()}_{label(features).lower()}"
            data = ensure_data(args.data / name, entities, features, max(entities // 10, 1000))
            subprocess.run([binary, "apply"], cwd=data / "repo", check=True, stdout=subprocess.DEVNULL)
            ours, peer = [], []
            for _ in range(args.repeat):
                ours.append(synced_run([binary, "get-historical-features", "--entities",
                                 data / "entities.parquet", "--feature-service", "all_features",
                                 "--output", data / "out_headwater.parquet", "--threads",
                                 str(args.threads)], cwd=data / "repo"))
                peer.append(synced_run([args.peer_python, HERE / "peers" / "duckdb_retrieval.py",
                                 data / "entities.parquet", data / "features.parquet",
                                 data / "out_duckdb.parquet", "7", str(args.threads)]))
            shape = {"entity_rows": entities, "feature_rows": features,
                     "headwater": summary(ours), "duckdb": summary(peer)}
            shape["duckdb_over_headwater"] = shape["duckdb"]["seconds"] / shape["headwater"]["seconds"]
            results["shapes"].append(shape)
            print(f"{label(entities) + ' x ' + label(features):<22} "
                  f"{shape['headwater']['seconds']:9.2f}s {shape['duckdb']['seconds']:9.2f}s "
                  f"{shape['duckdb_over_headwater']:5.2f}x "
                  f"{shape['headwater']['peak_rss_mib']:7.0f}/{shape['duckdb']['peak_rss_mib']:<7.0f} "
                  f"{shape['headwater']['busy_cores']:8.2f}/{shape['duckdb']['busy_cores']:.2f}",
                  flush=True)
    for engine in ("headwater", "duckdb"):
        points = [(s["entity_rows"] + s["feature_rows"], s[engine]["seconds"])
                  for s in results["shapes"]]
        if len(points) > 1:
            results[f"{engine}_exponent"] = slope(points)
            print(f"{engine}: time grows as (rows)^{results[f'{engine}_exponent']:.2f}", flush=True)
    write_results(args.results, results)


if __name__ == "__main__":
    sys.exit(main())

"""Training data at every shape (issue 20): Headwater against DuckDB's ASOF JOIN as entity rows and
feature rows grow, in one run, with the exponent of each one's cost.

Shapes: entity rows x feature rows from --entity-rows and --feature-rows (default 100k, 1M, 10M
x 1M, 10M, 100M), 10 Float64 features, entities = entity rows / 10, 30 days, ttl 7 days; then a
wide shape (1M x 1M, 100 features) and a multi-view shape (1M entity rows; 3 views of 10M, 5M and
10M rows, the third keyed by (driver_id, customer_id)). The data of
bench/generate_retrieval_data.py, generated once per shape into bench/data/ (the 100M shapes take
~10 GB each). Each process is timed whole (start-up, reads, join, Parquet output to local disk),
`sync` before every run, Headwater and DuckDB alternating; medians of --repeat runs (one run at
100M feature rows), peak RSS, busy cores (CPU time / wall). The exponent is the least-squares
slope of log(time) on log(entity rows + feature rows) over the 10-feature, one-view shapes.
--only NAME... runs the named shapes only (e.g. 1m_10m wide multi_view).
"""
import math
import os
import statistics
import subprocess
import sys

from historical_retrieval import HERE, common_arguments, ensure_data, run, write_results


def synced_run(command, inputs, cwd=None):
    """historical_retrieval.run after `sync`, so one run's dirty output is not the next's cost,
    and after reading the input files through once, so every run starts from the page cache: a
    100M-row source (10 GB) does not stay cached across shapes, and the engine run first would
    otherwise read it from disk and the second from memory."""
    subprocess.run(["sync"], check=False)
    for path in inputs:
        with open(path, "rb", buffering=0) as f:
            while f.read(16 << 20):
                pass
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


def shapes(entity_rows, feature_rows):
    """(name, entity rows, feature rows, entities, features, views) of every shape."""
    grid = [(f"{label(e)}_{label(f)}".lower(), e, f, max(e // 10, 1000), 10, 1)
            for f in feature_rows for e in entity_rows]
    return grid + [("wide", 1_000_000, 1_000_000, 100_000, 100, 1),
                   ("multi_view", 1_000_000, 10_000_000, 100_000, 10, 3)]


def main():
    parser = common_arguments(__doc__, "retrieval_scaling.json")
    parser.add_argument("--entity-rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--feature-rows", type=int, nargs="+",
                        default=[1_000_000, 10_000_000, 100_000_000])
    parser.add_argument("--only", nargs="+", help="names of the shapes to run")
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    results = {"machine": f"{os.cpu_count()} cores", "threads": args.threads, "shapes": []}
    print(f"{'shape':<22} {'headwater':>10} {'duckdb':>10} {'ratio':>6} "
          f"{'RSS hw/dd MiB':>15} {'busy cores hw/dd':>17}", flush=True)
    for name, entities, rows, keys, features, views in shapes(args.entity_rows, args.feature_rows):
        if args.only and name not in args.only:
            continue
        data = ensure_data(args.data / f"retrieval_{name}", entities, rows, keys, features, views)
        subprocess.run([binary, "apply"], cwd=data / "repo", check=True, stdout=subprocess.DEVNULL)
        sources = ("features.parquet",) if views == 1 else (
            "driver_stats.parquet", "customer_stats.parquet", "pair_stats.parquet")
        ours, peer = [], []
        inputs = [data / "entities.parquet"] + [data / s for s in sources]
        for _ in range(1 if rows >= 100_000_000 else args.repeat):
            ours.append(synced_run([binary, "get-historical-features", "--entities",
                                    data / "entities.parquet", "--feature-service", "all_features",
                                    "--output", data / "out_headwater.parquet", "--threads",
                                    str(args.threads)], inputs, cwd=data / "repo"))
            peer.append(synced_run([args.peer_python, HERE / "peers" / "duckdb_retrieval.py",
                                    data / "entities.parquet",
                                    ",".join(str(data / s) for s in sources),
                                    data / "out_duckdb.parquet", "7", str(args.threads)], inputs))
        shape = {"name": name, "entity_rows": entities, "feature_rows": rows, "features": features,
                 "views": views, "headwater": summary(ours), "duckdb": summary(peer)}
        shape["duckdb_over_headwater"] = shape["duckdb"]["seconds"] / shape["headwater"]["seconds"]
        results["shapes"].append(shape)
        title = f"{label(entities)} x {label(rows)}" + (
            f", {features} features" if features != 10 else "") + (f", {views} views" if views > 1 else "")
        print(f"{title:<22} "
              f"{shape['headwater']['seconds']:9.2f}s {shape['duckdb']['seconds']:9.2f}s "
              f"{shape['duckdb_over_headwater']:5.2f}x "
              f"{shape['headwater']['peak_rss_mib']:7.0f}/{shape['duckdb']['peak_rss_mib']:<7.0f} "
              f"{shape['headwater']['busy_cores']:8.2f}/{shape['duckdb']['busy_cores']:.2f}",
              flush=True)
    grid = [s for s in results["shapes"] if s["features"] == 10 and s["views"] == 1]
    for engine in ("headwater", "duckdb"):
        points = [(s["entity_rows"] + s["feature_rows"], s[engine]["seconds"]) for s in grid]
        if len(points) > 1:
            results[f"{engine}_exponent"] = slope(points)
            print(f"{engine}: time grows as (rows)^{results[f'{engine}_exponent']:.2f}", flush=True)
    write_results(args.results, results)


if __name__ == "__main__":
    sys.exit(main())

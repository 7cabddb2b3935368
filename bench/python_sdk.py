"""Python SDK benchmark: Headwater's FeatureStore vs Feast's, same data, same run.

Online: get_online_features(...).to_dict() for 1 x 10 and 100 x 10 features, p50/p99 over
--iterations calls (Feast on its SQLite online store, Headwater on RocksDB), 100k feature rows
over 10k keys. Historical: get_historical_features(...).to_df() for 1M entity rows x 10M feature
rows from Python, against the CLI's get-historical-features on the same repository.
"""
import json
import os
import subprocess
import sys

from historical_retrieval import ROOT, HERE, common_arguments, ensure_data, measure, write_results


def online(python, engine, features, iterations):
    result = subprocess.run([python, HERE / "online_sdk.py", engine, features, str(iterations)],
                            check=True, capture_output=True, text=True, timeout=3600)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = common_arguments(__doc__, "python_sdk.json")
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    python = ROOT / ".venv" / "bin" / "python"
    binary = (args.build / "headwater").resolve()
    results = {"machine": f"{os.cpu_count()} cores"}

    print("python sdk, online: get_online_features().to_dict(), 10 Float64 features, "
          "100k rows over 10k keys", flush=True)
    small = ensure_data(args.data / "online_100k_10k", 1_000, 100_000, 10_000)
    engines = [("headwater", python)] + ([] if args.skip_feast else [("feast", args.peer_python)])
    for engine, interpreter in engines:
        results[f"online_{engine}"] = online(interpreter, engine, small / "features.parquet",
                                             args.iterations)
        for case in ("1x10", "100x10"):
            r = results[f"online_{engine}"][case]
            print(f"  {engine:<10} {case:<7} p50 {r['p50_us']:9.1f} us  p99 {r['p99_us']:9.1f} us"
                  f"  ({r['calls_per_second']:,.0f} calls/s)", flush=True)
    if not args.skip_feast:
        for case in ("1x10", "100x10"):
            for q in ("p50_us", "p99_us"):
                ratio = results["online_feast"][case][q] / results["online_headwater"][case][q]
                results[f"online_ratio_{case}_{q[:3]}"] = ratio
            print(f"  Feast / Headwater {case}: p50 {results[f'online_ratio_{case}_p50']:.1f}x, "
                  f"p99 {results[f'online_ratio_{case}_p99']:.1f}x", flush=True)

    print("python sdk, historical: 1M entity rows x 10M feature rows x 10 Float64", flush=True)
    big = ensure_data(args.data / "retrieval_1m_10m", 1_000_000, 10_000_000, 100_000)
    repo = big / "repo"
    subprocess.run([binary, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    results["historical_cli"] = measure("cli get-historical-features", [
        binary, "get-historical-features", "--entities", big / "entities.parquet",
        "--feature-service", "all_features", "--output", big / "out_headwater.parquet"],
        args.repeat, cwd=repo)
    results["historical_python"] = measure("python ...to_df()", [
        python, HERE / "sdk_historical.py", repo, big / "entities.parquet"], args.repeat)
    splits = [json.loads(subprocess.run([python, HERE / "sdk_historical.py", repo,
                                         big / "entities.parquet"], check=True,
                                        capture_output=True, text=True).stdout)]
    results["historical_python_split"] = splits[0]
    ratio = results["historical_python"]["seconds"] / results["historical_cli"]["seconds"]
    results["historical_python_over_cli"] = ratio
    s = splits[0]
    print(f"  python / cli time = {ratio:.2f}x  (in python: read {s['read_seconds']:.2f} s, "
          f"join {s['join_seconds']:.2f} s, to_df {s['to_df_seconds']:.2f} s)", flush=True)
    write_results(args.results, results)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

"""On-demand feature views benchmark (issue 14): what 5 expression features cost a read.

HTTP: `headwater serve` on RocksDB, 100k keys x 10 Float64 features; wrk (1 thread, 32
connections, 10 s per round) posts 1 x 10 and 100 x 10 plain reads and the same reads with 5
on-demand features of an expression view over the same view and a request value sent with each
entity (1 x (10 + 5), 100 x (10 + 5)). The answer to those carries 15 features, so a third
read of the same shape isolates what computing costs: 10 features + the same 5 expressions
stored by a write_to_online_store view (over f8 instead of the request value) at materialize.
Plain, on-demand and stored rounds alternate, --repeat times; medians and the ratios on-demand /
plain (the goal: at most 10 % slower) and on-demand / stored are reported.

Python SDK: get_online_features(...).to_dict() of 1 x (10 + 5) and 100 x (10 + 5) with the view
in expression, substrait, pandas and python modes, against Feast 0.67's pandas and python modes
on the same data, same run (bench/online_sdk.py).
"""
import json
import os
import statistics
import subprocess
import sys

from historical_retrieval import HERE, ROOT, common_arguments, ensure_data, write_results
from serving import free_port, prepare, serve_headwater, wait_until_up, wrk

VIEW = """
  - name: {name}
    sources: {sources}
    write_to_online_store: {stored}
    schema: [{{name: o0, dtype: Float64}}, {{name: o1, dtype: Float64}}, {{name: o2, dtype: Float64}},
             {{name: o3, dtype: Float64}}, {{name: o4, dtype: Float64}}]
    expressions:
      o0: f0 + {add}
      o1: f1 * f2
      o2: f3 / (f4 + 1)
      o3: sqrt(abs(f5))
      o4: greatest(f6, f7)
"""
# The same five expressions computed when read (over a request value) and when written.
ON_DEMAND = ("sources: [{name: request, type: request, schema: [{name: val, dtype: Float64}]}]\n"
             "on_demand_feature_views:" +
             VIEW.format(name="odfv", sources="[driver_stats, request]", stored="false", add="val") +
             VIEW.format(name="odfv_stored", sources="[driver_stats]", stored="true", add="f8"))
EXTRA = ",".join(f"odfv:o{i}" for i in range(5))
STORED = ",".join(f"odfv_stored:o{i}" for i in range(5))


def http(binary, data, repeat):
    repo = data / "repo"
    (repo / "on_demand.yaml").write_text(ON_DEMAND)
    try:
        repo = prepare(binary, data, "rocksdb", None)
        port = free_port()
        server = serve_headwater(binary, repo, port)
        results = {}
        try:
            wait_until_up(port, server)
            for entities in (1, 100):
                runs = {"plain": [], "on_demand": [], "stored": []}
                for _ in range(repeat):
                    runs["plain"].append(wrk(port, entities, 100_000))
                    for kind, extra in (("on_demand", {"EXTRA": EXTRA, "REQUEST": "val"}),
                                        ("stored", {"EXTRA": STORED})):
                        os.environ.update(extra)
                        try:
                            runs[kind].append(wrk(port, entities, 100_000))
                        finally:
                            for name in extra:
                                del os.environ[name]
                case = {}
                for kind, rounds in runs.items():
                    assert all(r["non2xx"] == 0 and r["errors"] == 0 for r in rounds), rounds
                    case[kind] = {q: statistics.median(r[q] for r in rounds)
                                  for q in ("requests_per_second", "p50_us", "p99_us")}
                case["ratio_req_per_s"] = (case["on_demand"]["requests_per_second"] /
                                           case["plain"]["requests_per_second"])
                case["ratio_p99"] = case["on_demand"]["p99_us"] / case["plain"]["p99_us"]
                case["ratio_to_stored_req_per_s"] = (case["on_demand"]["requests_per_second"] /
                                                     case["stored"]["requests_per_second"])
                case["ratio_to_stored_p99"] = case["on_demand"]["p99_us"] / case["stored"]["p99_us"]
                results[f"{entities}x10"] = case
                for kind, label in (("plain", f"{entities} x 10"),
                                    ("on_demand", f"{entities} x (10 + 5)"),
                                    ("stored", f"{entities} x (10 + 5 stored)")):
                    r = case[kind]
                    print(f"  http {label:<20} {r['requests_per_second']:>9,.0f} req/s  "
                          f"p50 {r['p50_us']:>6.0f} us  p99 {r['p99_us']:>6.0f} us", flush=True)
                print(f"  http {entities} x (10 + 5) / {entities} x 10: req/s "
                      f"{case['ratio_req_per_s']:.3f}, p99 {case['ratio_p99']:.3f}", flush=True)
                print(f"  http {entities} x (10 + 5) / {entities} x (10 + 5 stored): req/s "
                      f"{case['ratio_to_stored_req_per_s']:.3f}, p99 "
                      f"{case['ratio_to_stored_p99']:.3f}", flush=True)
        finally:
            server.terminate()
            server.wait()
    finally:
        (data / "repo" / "on_demand.yaml").unlink()
    return results


def sdk(args):
    out = {}
    engines = [("headwater", ROOT / ".venv" / "bin" / "python",
                ["expression", "substrait", "pandas", "python"])]
    if not args.skip_feast:
        engines.append(("feast", args.peer_python, ["pandas", "python"]))
    data = ensure_data(args.data / "online_100k_10k", 1_000, 100_000, 10_000)
    for engine, python, modes in engines:
        result = subprocess.run([python, HERE / "online_sdk.py", engine, data / "features.parquet",
                                 str(args.iterations), *modes],
                                check=True, capture_output=True, text=True, timeout=3600)
        out[engine] = json.loads(result.stdout.strip().splitlines()[-1])
        for case in ["1x10"] + [f"1x10+5_{m}" for m in modes] + ["100x10"] + \
                [f"100x10+5_{m}" for m in modes]:
            r = out[engine][case]
            print(f"  sdk {engine:<10} {case:<20} p50 {r['p50_us']:9.1f} us  "
                  f"p99 {r['p99_us']:9.1f} us", flush=True)
    if not args.skip_feast:
        for rows in (1, 100):
            for feast_mode in ("pandas", "python"):
                ratio = (out["feast"][f"{rows}x10+5_{feast_mode}"]["p50_us"] /
                         out["headwater"][f"{rows}x10+5_expression"]["p50_us"])
                out[f"ratio_{rows}_feast_{feast_mode}_over_headwater_expression"] = ratio
                print(f"  Feast {feast_mode} / Headwater expression, {rows} x (10 + 5): "
                      f"p50 {ratio:.1f}x", flush=True)
    return out


def main():
    parser = common_arguments(__doc__, "on_demand.json")
    parser.add_argument("--iterations", type=int, default=1000)
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    results = {"machine": f"{os.cpu_count()} cores, server (2 workers) and wrk on it"}
    print("on-demand views: 100k keys x 10 Float64 + 5 expression features", flush=True)
    data = ensure_data(args.data / "materialize_1m_100k", 1_000, 1_000_000, 100_000)
    results["http"] = http(binary, data, args.repeat)
    results["sdk"] = sdk(args)
    write_results(args.results, results)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

"""Feast's own clients against Headwater and against Feast's servers, in the same run (issue 16).

Feast 0.67's SDK (from .venv-bench) runs unchanged on Feast's `feast init -t local` repository
with `online_store: type: remote` and `offline_store: type: remote`, pointed once at Feast's
servers (`feast serve`, `feast serve_offline`) and once at Headwater's (`headwater serve
--error-body feast`, `headwater serve-offline`). Measured in the client process:

- online: `get_online_features` latency for 1 entity row and for 100, five features (three
  stored, two on-demand), after warm-up; median and p99 of the calls;
- offline: `get_historical_features(...).to_df()` wall time for 20,000 entity rows, median of 3.

The answers from both servers are compared (Float32 values at float32 precision) before any
figure is printed.

Usage: .venv/bin/python bench/feast_clients.py --build build
"""
import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEAST_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
FEAST = ROOT / ".venv-bench" / "bin" / "feast"

CLIENT = r"""
import json, sys, time
import numpy as np
import pandas as pd
from feast import FeatureStore
store = FeatureStore(repo_path=".")
mode, out = sys.argv[1], sys.argv[2]
features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips", "transformed_conv_rate:conv_rate_plus_val1",
            "transformed_conv_rate:conv_rate_plus_val2"]
result = {}
if mode == "online":
    for rows in (1, 100):
        entity_rows = [{"driver_id": 1001 + i % 5, "val_to_add": i, "val_to_add_2": 2 * i}
                       for i in range(rows)]
        for _ in range(20):
            answer = store.get_online_features(features=features, entity_rows=entity_rows).to_dict()
        times = []
        for _ in range(300 if rows == 1 else 100):
            started = time.perf_counter()
            store.get_online_features(features=features, entity_rows=entity_rows).to_dict()
            times.append(time.perf_counter() - started)
        result[f"{rows}"] = {"p50_ms": float(np.percentile(times, 50)) * 1e3,
                             "p99_ms": float(np.percentile(times, 99)) * 1e3,
                             "answer": answer}
else:
    entity_df = pd.read_parquet(sys.argv[3])
    walls = []
    for _ in range(3):
        started = time.perf_counter()
        df = store.get_historical_features(entity_df=entity_df, features=features).to_df()
        walls.append(time.perf_counter() - started)
    result = {"wall_s": sorted(walls)[1], "rows": len(df),
              "answer": df[["driver_id", "conv_rate", "conv_rate_plus_val1"]]
                        .astype(float).round(5).fillna(-1).values.tolist()}
    result["answer"].sort()
with open(out, "w") as f:
    json.dump(result, f)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, cwd):
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        sys.exit(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done


def wait_for_port(port: int, process) -> None:
    for _ in range(600):
        if process.poll() is not None:
            sys.exit(f"server exited: {process.stderr.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit("server did not start")


def client_repo(template: Path, where: Path, store_yaml: str) -> Path:
    shutil.copytree(template, where)
    project = (template / "feature_store.yaml").read_text().split()[1]
    (where / "feature_store.yaml").write_text(
        f"project: {project}\nregistry: data/registry.db\nprovider: local\n{store_yaml}"
        "entity_key_serialization_version: 3\nauth:\n  type: no_auth\n")
    run([FEAST, "apply"], where)
    return where


def float32(values):
    import numpy as np
    return [None if v is None else float(np.float32(v)) for v in values]


def same_online(a, b) -> bool:
    for name in a:
        left, right = a[name], b[name]
        if name in ("conv_rate", "acc_rate"):
            left, right = float32(left), float32(right)
        if left != right:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    args = parser.parse_args()
    headwater = ROOT / args.build / "headwater"
    work = Path(tempfile.mkdtemp(prefix="hw_feast_clients_"))
    run([FEAST, "init", "-t", "local", "demo"], work)
    template = work / "demo" / "feature_repo"
    (work / "client.py").write_text(CLIENT)
    end = datetime.now().astimezone().replace(microsecond=0).isoformat()

    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    source = pq.read_table(template / "data" / "driver_stats.parquet").to_pandas()
    rng = np.random.default_rng(7)
    # Entity times over the template's last 14 days of hourly data. Earlier, where a driver has
    # rows but none within the view's 1-day TTL, Feast's file store drops the entity row (its
    # join filters the TTL after the merge) while Headwater keeps it with null features.
    hi = source["event_timestamp"].max()
    lo = hi - pd.Timedelta(days=14)
    n = 20_000
    pd.DataFrame({
        "driver_id": rng.integers(1001, 1006, n),
        "event_timestamp": lo + (hi - lo) * rng.random(n),
        "val_to_add": rng.integers(0, 100, n), "val_to_add_2": rng.integers(0, 100, n),
    }).to_parquet(work / "entities.parquet")

    feast_repo = work / "feast_server"
    shutil.copytree(template, feast_repo)
    run([FEAST, "apply"], feast_repo)
    run([FEAST, "materialize-incremental", end], feast_repo)
    ours = work / "headwater_server"
    shutil.copytree(template, ours)
    run([headwater, "apply"], ours)
    run([headwater, "materialize-incremental", end], ours)

    ports = {name: free_port() for name in ("feast", "feast_offline", "ours", "ours_offline")}
    servers = {
        "feast": subprocess.Popen([str(FEAST), "serve", "-p", str(ports["feast"]),
                                   "--no-access-log"], cwd=feast_repo,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
        "feast_offline": subprocess.Popen([str(FEAST), "serve_offline", "-p",
                                           str(ports["feast_offline"])], cwd=feast_repo,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          text=True),
        "ours": subprocess.Popen([str(headwater), "serve", "--port", str(ports["ours"]),
                                  "--error-body", "feast"], cwd=ours,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
        "ours_offline": subprocess.Popen([str(headwater), "serve-offline", "--port",
                                          str(ports["ours_offline"])], cwd=ours,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True),
    }
    try:
        for name, process in servers.items():
            wait_for_port(ports[name], process)
        results = {}
        for name in ("feast", "ours"):
            online = client_repo(template, work / f"{name}_online_client",
                                 f"online_store:\n  type: remote\n  path: "
                                 f"http://127.0.0.1:{ports[name]}\n")
            offline = client_repo(template, work / f"{name}_offline_client",
                                  "online_store:\n  type: sqlite\n  path: data/online.db\n"
                                  f"offline_store:\n  type: remote\n  host: 127.0.0.1\n"
                                  f"  port: {ports[name + '_offline']}\n")
            run([FEAST_PYTHON, work / "client.py", "online", work / f"{name}_online.json"], online)
            run([FEAST_PYTHON, work / "client.py", "offline", work / f"{name}_offline.json",
                 work / "entities.parquet"], offline)
            results[name] = {kind: json.loads((work / f"{name}_{kind}.json").read_text())
                             for kind in ("online", "offline")}
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=30)

    feast, mine = results["feast"], results["ours"]
    for rows in ("1", "100"):
        if not same_online(feast["online"][rows]["answer"], mine["online"][rows]["answer"]):
            sys.exit(f"online answers differ ({rows} rows)")
    if feast["offline"]["answer"] != mine["offline"]["answer"]:
        pairs = zip(feast["offline"]["answer"], mine["offline"]["answer"])
        sys.exit(f"training data differs ({feast['offline']['rows']} vs {mine['offline']['rows']}"
                 f" rows), first: {next((p for p in pairs if p[0] != p[1]), None)}")

    print("\n## Feast 0.67 clients: Feast's servers vs Headwater's (same client, same run)")
    print("| call | Feast's server | Headwater | ratio |")
    print("|---|---|---|---|")
    for rows in ("1", "100"):
        for q in ("p50_ms", "p99_ms"):
            f, h = feast["online"][rows][q], mine["online"][rows][q]
            print(f"| get_online_features {rows} row(s) × 5, {q[:3]} | {f:.2f} ms | {h:.2f} ms "
                  f"| {f / h:.1f}× |")
    f, h = feast["offline"]["wall_s"], mine["offline"]["wall_s"]
    print(f"| get_historical_features {n:,} rows × 5, median of 3 | {f:.2f} s | {h:.2f} s "
          f"| {f / h:.1f}× |")
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    for side in results.values():
        for kind in side.values():
            for value in (kind.values() if "wall_s" not in kind else [kind]):
                value.pop("answer", None)
    (results_dir / "feast_clients.json").write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The batch engine on Flink against the embedded engine, same data, same run (issue 15).

Historical retrieval 1M entity rows x 10M feature rows x 10 Float64 (100k entities, ttl 7d) and
materialization of the same 10M rows (100k keys), on the embedded engine and on a real Flink
cluster (scripts/start_flink: one JobManager, one TaskManager with 2 slots, the SQL Gateway) at
parallelism 1 and 2. For each: wall time, CPU-seconds and peak RSS of the Headwater process, and
of Flink's three JVMs (CPU-seconds used during the run; peak RSS, VmHWM, of a cluster started
fresh for each parallelism). Answers are checked equal to the embedded engine's.
"""
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from historical_retrieval import HERE, ROOT, common_arguments, ensure_data, write_results

TICKS = os.sysconf("SC_CLK_TCK")


def jvms(directory):
    """The cluster's JVM pids: processes whose command line names its directory."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(directory).encode() in cmdline and b"java" in cmdline:
            pids.append(int(entry.name))
    return pids


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def peak_rss_mib(pids):
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def run(command, cwd, cluster=()):
    """Wall seconds, Headwater's CPU-seconds and peak RSS, the cluster's CPU-seconds."""
    before = cpu_seconds(cluster)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command} failed:\n{process.stderr.read().decode()}")
    return {"seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024,
            "flink_cpu_seconds": cpu_seconds(cluster) - before if cluster else 0.0}


def median(runs):
    out = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    out["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    out["runs"] = [round(r["seconds"], 2) for r in runs]
    return out


def workloads(binary, repo, data, engine, repeat, cluster=()):
    """Training data, then materialization into an empty online store, `repeat` times each."""
    out = {}
    subprocess.run([binary, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    retrieval = [binary, "get-historical-features", "--entities", data / "entities.parquet",
                 "--feature-service", "all_features", "--output", repo / f"out_{engine}.parquet",
                 "--engine", engine.split("-")[0]]
    out["retrieval"] = median([run(retrieval, repo, cluster) for _ in range(repeat)])
    runs = []
    for _ in range(repeat):
        shutil.rmtree(repo / "data" / "online", ignore_errors=True)
        (repo / "data" / "registry.json").unlink(missing_ok=True)
        subprocess.run([binary, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
        runs.append(run([binary, "materialize", "2000-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
                         "--engine", engine.split("-")[0]], repo, cluster))
    out["materialize"] = median(runs)
    out["online_dump"] = subprocess.run([binary, "online-dump", "--view", "driver_stats"], cwd=repo,
                                        check=True, capture_output=True).stdout
    return out


def show(name, result, embedded=None):
    for work in ("retrieval", "materialize"):
        r = result[work]
        line = (f"  {name:<22} {work:<12} {r['seconds']:7.2f} s  headwater {r['cpu_seconds']:6.2f} "
                f"CPU-s {r['peak_rss_mib']:6.0f} MiB")
        if "flink_cpu_seconds" in r and r["flink_cpu_seconds"]:
            line += f"  flink {r['flink_cpu_seconds']:6.1f} CPU-s"
        if embedded:
            total = r["cpu_seconds"] + r.get("flink_cpu_seconds", 0)
            base = embedded[work]["cpu_seconds"]
            line += (f"  time {r['seconds'] / embedded[work]['seconds']:5.1f}x  "
                     f"CPU {total / base:5.1f}x embedded")
        print(line, flush=True)


def main():
    parser = common_arguments(__doc__, "flink_batch.json")
    parser.set_defaults(repeat=1)
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    data = ensure_data(args.data / "retrieval_1m_10m", 1_000_000, 10_000_000, 100_000)
    work = Path(tempfile.mkdtemp(prefix="headwater-bench-flink-batch-"))
    repo = work / "repo"
    repo.mkdir()
    (repo / "definitions.yaml").write_text((data / "repo" / "definitions.yaml").read_text().replace(
        "../features.parquet", str(data / "features.parquet")))
    base = "project: bench\nregistry: data/registry.json\n"
    (repo / "feature_store.yaml").write_text(base)
    print("batch engine on Flink: 1M x 10M retrieval, 10M-row materialization (100k keys)",
          flush=True)
    results = {"machine": f"{os.cpu_count()} cores"}
    results["embedded"] = workloads(binary, repo, data, "embedded", max(args.repeat, 3))
    show("embedded", results["embedded"])
    for parallelism in (1, 2):
        cluster_dir = work / f"flink-{parallelism}"
        cluster_dir.mkdir()
        subprocess.run([ROOT / "scripts" / "start_flink", cluster_dir], check=True,
                       capture_output=True, timeout=1800)
        try:
            rest = (cluster_dir / "rest_address").read_text().strip()
            gateway = (cluster_dir / "sql_gateway_address").read_text().strip()
            (repo / "feature_store.yaml").write_text(
                base + f"batch_engine: {{type: flink, rest_address: '{rest}', "
                f"sql_gateway: '{gateway}', parallelism: {parallelism}}}\n")
            cluster = jvms(cluster_dir)
            name = f"flink-p{parallelism}"
            result = workloads(binary, repo, data, name, args.repeat, cluster)
            result["flink_peak_rss_mib"] = peak_rss_mib(cluster)
            result["flink_jvms"] = len(cluster)
        finally:
            subprocess.run([ROOT / "scripts" / "stop_flink", cluster_dir], check=False,
                           capture_output=True)
        same = pq.read_table(repo / f"out_{name}.parquet").equals(
            pq.read_table(repo / "out_embedded.parquet"))
        same_online = result.pop("online_dump") == results["embedded"]["online_dump"]
        assert same and same_online, f"{name}: answers differ from the embedded engine's"
        results[name] = result
        show(name, result, results["embedded"])
        print(f"  {name}: Flink JVMs ({result['flink_jvms']}) peak RSS "
              f"{result['flink_peak_rss_mib']:.0f} MiB; answers equal the embedded engine's",
              flush=True)
    results["embedded"].pop("online_dump")
    shutil.rmtree(work, ignore_errors=True)
    write_results(args.results, results)


if __name__ == "__main__":
    main()

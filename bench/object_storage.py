"""Historical retrieval from S3 against the same files on local disk, and DuckDB reading the same
objects, in one run.

Data: the historical-retrieval set (1M entity rows x 10M feature rows x 10 Float64, 100k
entities), uploaded to a SeaweedFS S3 server on loopback (scripts/start_s3). Headwater reads the
entity file and the features from s3:// and writes its output to local disk, as the local run
does; DuckDB (1.5.5 with httpfs, from PyPI) runs its ASOF JOIN on the same objects. Wall time
(median of --repeat runs), peak RSS, and bytes read: for local files the process's read calls
(/proc/PID/io rchar, sampled every 20 ms), for S3 the bytes the server sent, counted by a relay
in one extra, untimed run. The S3 server shares the machine's two cores.
"""
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.fs as pafs

from historical_retrieval import HERE, ROOT, common_arguments, ensure_data, write_results

KEY, SECRET, BUCKET = "headwater", "headwater-secret", "bench"


def peer_python(requirements, venv):
    """A venv holding the peers of `requirements` (cached in the clone, like .venv-bench)."""
    if not (venv / "bin" / "python").exists():
        subprocess.run(["python3", "-m", "venv", venv], check=True)
    stamp = venv / ".headwater-requirements"
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "-r", requirements],
                       check=True)
        shutil.copy(requirements, stamp)
    return venv / "bin" / "python"


class Relay:
    """A TCP relay in front of the S3 server that counts the bytes the server sends."""

    def __init__(self, endpoint):
        host, port = endpoint.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.sent = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.target)
            threading.Thread(target=self.pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, True), daemon=True).start()

    def pipe(self, source, sink, count):
        try:
            while data := source.recv(1 << 20):
                sink.sendall(data)
                if count:
                    with self.lock:
                        self.sent += len(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def bytes_for(self, command, env, cwd=None):
        before = self.sent
        run(command, {**env, "AWS_ENDPOINT_URL": self.endpoint}, cwd)
        return self.sent - before


def run(command, env, cwd=None):
    """(seconds, peak RSS MiB, bytes read) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    read = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        try:
            text = Path(f"/proc/{process.pid}/io").read_text()
            read = int(next(line for line in text.splitlines() if line.startswith("rchar")).split()[1])
        except (OSError, StopIteration):
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024, read


def measure(name, command, repeat, env, cwd=None, relay=None):
    runs = [run(command, env, cwd) for _ in range(repeat)]
    seconds = statistics.median(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    read = relay.bytes_for(command, env, cwd) if relay else statistics.median(r[2] for r in runs)
    print(f"  {name:<30} median {seconds:7.3f} s  (runs: {', '.join(f'{r[0]:.2f}' for r in runs)})"
          f"  peak RSS {rss:6.0f} MiB  read {read / 2**20:7.0f} MiB", flush=True)
    return {"seconds": seconds, "runs": [r[0] for r in runs], "peak_rss_mib": rss,
            "bytes_read": read}


def main():
    parser = common_arguments(__doc__, "object_storage.json")
    args = parser.parse_args()
    binary = (args.build / "headwater").resolve()
    duckdb = peer_python(HERE / "requirements-s3.txt", ROOT / ".venv-bench-s3")
    data = ensure_data(args.data / "retrieval_1m_10m", 1_000_000, 10_000_000, 100_000)
    server = Path(tempfile.mkdtemp(prefix="headwater-bench-s3-"))
    endpoint = subprocess.run([ROOT / "scripts" / "start_s3", server], check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": KEY,
           "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"}
    results = {"machine": f"{os.cpu_count()} cores", "threads": args.threads}
    try:
        store = pafs.S3FileSystem(endpoint_override=endpoint.removeprefix("http://"),
                                  scheme="http", region="us-east-1", access_key=KEY,
                                  secret_key=SECRET, allow_bucket_creation=True)
        store.create_dir(BUCKET)
        started = time.perf_counter()
        for name in ("features.parquet", "entities.parquet"):
            pafs.copy_files(str(data / name), f"{BUCKET}/{name}", destination_filesystem=store)
        print(f"uploaded the data set to {endpoint} in {time.perf_counter() - started:.1f} s",
              flush=True)
        repo = data / "repo_s3"
        repo.mkdir(exist_ok=True)
        (repo / "feature_store.yaml").write_text("project: bench\nregistry: data/registry.json\n")
        (repo / "definitions.yaml").write_text((data / "repo" / "definitions.yaml").read_text()
                                               .replace("../features.parquet",
                                                        f"s3://{BUCKET}/features.parquet"))
        for directory in (data / "repo", repo):
            subprocess.run([binary, "apply"], cwd=directory, env=env, check=True,
                           stdout=subprocess.DEVNULL)

        print("historical retrieval, 1M entity rows x 10M feature rows x 10 Float64: local disk "
              "against S3 (SeaweedFS on loopback)", flush=True)
        retrieve = [binary, "get-historical-features", "--feature-service", "all_features",
                    "--threads", str(args.threads), "--entities"]
        results["headwater_local"] = measure(
            "headwater, local disk", retrieve + [data / "entities.parquet", "--output",
                                                 data / "out_headwater.parquet"],
            args.repeat, env, cwd=data / "repo")
        relay = Relay(endpoint)
        results["headwater_s3"] = measure(
            "headwater, S3", retrieve + [f"s3://{BUCKET}/entities.parquet", "--output",
                                         data / "out_headwater_s3.parquet"],
            args.repeat, env, cwd=repo, relay=relay)
        peer = [duckdb, HERE / "peers" / "duckdb_retrieval.py"]
        results["duckdb_local"] = measure(
            "duckdb 1.5.5 ASOF, local disk", peer + [data / "entities.parquet",
                                                     data / "features.parquet",
                                                     data / "out_duckdb.parquet", "7",
                                                     str(args.threads)], args.repeat, env)
        results["duckdb_s3"] = measure(
            "duckdb 1.5.5 ASOF, S3", peer + [f"s3://{BUCKET}/entities.parquet",
                                             f"s3://{BUCKET}/features.parquet",
                                             data / "out_duckdb_s3.parquet", "7",
                                             str(args.threads)], args.repeat, env, relay=relay)
        s3, local = results["headwater_s3"]["seconds"], results["headwater_local"]["seconds"]
        results["s3_over_local"] = s3 / local
        results["duckdb_s3_over_headwater_s3"] = results["duckdb_s3"]["seconds"] / s3
        print(f"  headwater S3 / local disk = {s3 / local:.2f}x (goal <= 1.5x); "
              f"DuckDB S3 / Headwater S3 = {results['duckdb_s3_over_headwater_s3']:.2f}x", flush=True)
    finally:
        subprocess.run([ROOT / "scripts" / "stop_s3", server], check=False)
        shutil.rmtree(server, ignore_errors=True)
    write_results(args.results, results)


if __name__ == "__main__":
    main()

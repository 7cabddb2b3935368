"""Sources, datasets, entity and output files on S3 (issue 19), against a real S3 server on
loopback (SeaweedFS, scripts/start_s3): the same answers as the same files on local disk, pushes
that land whole, and clear errors that change nothing for wrong credentials, a missing bucket and
an unreachable endpoint."""
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from conftest import HEADWATER, ROOT, started_service

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
US = pa.timestamp("us", tz="UTC")
KEY, SECRET = "headwater", "headwater-secret"  # the identity scripts/start_s3 knows
BUCKET = "lake"
SERVER = {}  # the S3 server's directory (scripts/start_s3 keeps its pid there)

DEFINITIONS = """
entities:
  - {{name: driver, join_keys: [driver_id], value_type: INT64}}
sources:
  - {{name: driver_src, path: {root}/driver_stats, timestamp_field: event_timestamp}}
  - {{name: rides_push, type: push, batch_source: rides_src}}
  - {{name: rides_src, path: {root}/rides, timestamp_field: event_timestamp}}
feature_views:
  - name: driver_stats
    entities: [driver]
    ttl: 2h
    source: driver_src
    schema:
      - {{name: conv_rate, dtype: Float64}}
      - {{name: trips, dtype: Int64}}
  - name: rides
    entities: [driver]
    ttl: 1d
    source: rides_push
    schema:
      - {{name: fare, dtype: Float64}}
"""

SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", US),
                    ("conv_rate", pa.float64()), ("trips", pa.int64())])
RIDES = pa.schema([("driver_id", pa.int64()), ("event_timestamp", US), ("fare", pa.float64())])


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A SeaweedFS S3 server with a bucket; its endpoint, with the AWS variables set for every
    process the tests start."""
    for directory, endpoint in started_service(tmp_path_factory, "s3", 900):
        SERVER["directory"] = directory
        saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                                "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}
        os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=KEY,
                          AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1")
        bucket_fs(endpoint).create_dir(BUCKET)
        yield endpoint
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bucket_fs(endpoint, key=KEY, secret=SECRET):
    return pafs.S3FileSystem(endpoint_override=endpoint.removeprefix("http://"), scheme="http",
                             region="us-east-1", access_key=key, secret_key=secret,
                             allow_bucket_creation=True)


def driver_tables():
    rng = random.Random(7)
    parts = []
    for _ in range(3):
        rows = [dict(driver_id=rng.randint(1, 40), event_timestamp=T0 + timedelta(minutes=rng.randint(0, 600)),
                     conv_rate=rng.random(), trips=rng.randint(0, 99)) for _ in range(2000)]
        parts.append(pa.Table.from_pylist(rows, schema=SCHEMA))
    entities = pa.Table.from_pylist(
        [dict(driver_id=rng.randint(1, 42), event_timestamp=T0 + timedelta(minutes=rng.randint(-30, 700)))
         for _ in range(3000)], schema=pa.schema([("driver_id", pa.int64()), ("event_timestamp", US)]))
    return parts, entities


def make_repo(path, root):
    path.mkdir(parents=True, exist_ok=True)
    (path / "feature_store.yaml").write_text("project: lake\n")
    (path / "definitions.yaml").write_text(DEFINITIONS.format(root=root))


@pytest.fixture(scope="module")
def repos(s3, tmp_path_factory):
    """The same data twice: a repository reading local files, and one reading s3://lake/<run>/."""
    base = tmp_path_factory.mktemp("lake")
    prefix = f"{BUCKET}/run-{random.randrange(1 << 30)}"
    parts, entities = driver_tables()
    local, remote = base / "local", base / "remote"
    make_repo(local, "data")
    make_repo(remote, f"s3://{prefix}")
    (local / "data" / "driver_stats").mkdir(parents=True)
    (local / "data" / "rides").mkdir(parents=True)
    store = bucket_fs(s3)
    for i, part in enumerate(parts):
        pq.write_table(part, local / "data" / "driver_stats" / f"part-{i}.parquet", row_group_size=500)
        pq.write_table(part, f"{prefix}/driver_stats/part-{i}.parquet", filesystem=store,
                       row_group_size=500)
    # A push source's dataset starts with one part (its schema is read at apply).
    rides = pa.Table.from_pylist([dict(driver_id=1, event_timestamp=T0, fare=3.5)], schema=RIDES)
    pq.write_table(rides, local / "data" / "rides" / "part-0.parquet")
    pq.write_table(rides, f"{prefix}/rides/part-0.parquet", filesystem=store)
    pq.write_table(entities, base / "entities.parquet")
    pq.write_table(entities, f"{prefix}/entities.parquet", filesystem=store)
    return dict(local=local, remote=remote, prefix=prefix, base=base, store=store)


def run(*args, cwd, ok=True, env=None):
    done = subprocess.run([HEADWATER, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def test_training_data_from_s3_equals_the_same_files_on_disk(repos):
    local, remote, prefix, base = repos["local"], repos["remote"], repos["prefix"], repos["base"]
    run("apply", cwd=local)
    run("apply", cwd=remote)
    run("get-historical-features", "--entities", base / "entities.parquet",
        "--features", "driver_stats:conv_rate,driver_stats:trips",
        "--output", base / "local_out.parquet", cwd=local)
    # Entity file and output on S3 too.
    run("get-historical-features", "--entities", f"s3://{prefix}/entities.parquet",
        "--features", "driver_stats:conv_rate,driver_stats:trips",
        "--output", f"s3://{prefix}/out/training.parquet", cwd=remote)
    expected = pq.read_table(base / "local_out.parquet")
    got = pq.read_table(f"{prefix}/out/training.parquet", filesystem=repos["store"])
    assert expected.num_rows == 3000 and expected.column("trips").null_count < 3000
    assert got.equals(expected)


def test_materialized_values_from_s3_equal_those_from_disk(repos):
    local, remote = repos["local"], repos["remote"]
    for repo in (local, remote):
        run("apply", cwd=repo)
        run("materialize", "2024-04-30T00:00:00", "2024-05-02T00:00:00", "--views", "driver_stats",
            cwd=repo)
    dumps = [run("online-dump", "--view", "driver_stats", cwd=repo).stdout for repo in (local, remote)]
    assert dumps[0].count("\n") == 40 and dumps[0] == dumps[1]


def test_pushed_rows_land_on_s3_whole_and_are_read_back(repos):
    """Offline pushes append a Parquet part under the dataset's prefix; the part is visible only
    once its upload completes. Processes killed mid-upload leave no partial object."""
    remote, prefix, store = repos["remote"], repos["prefix"], repos["store"]
    run("apply", cwd=remote)
    script = f"""
import sys, pyarrow as pa
from datetime import datetime, timezone
from headwater import FeatureStore
from headwater.data_source import PushMode
rows = int(sys.argv[1])
table = pa.table({{"driver_id": pa.array([7] * rows, pa.int64()),
                   "event_timestamp": pa.array([datetime(2024, 5, 1, 3, tzinfo=timezone.utc)] * rows,
                                               pa.timestamp("us", tz="UTC")),
                   "fare": pa.array([float(i) for i in range(rows)])}})
FeatureStore({str(remote)!r}).push("rides_push", table, to=PushMode.OFFLINE)
print("pushed")
"""
    python = str(ROOT / ".venv" / "bin" / "python")
    done = subprocess.run([python, "-c", script, "1000"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "pushed" in done.stdout, done.stderr
    # Large pushes (multipart uploads) killed at random moments.
    rng = random.Random(3)
    for _ in range(4):
        child = subprocess.Popen([python, "-c", script, "3000000"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.5, 3.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
    parts = store.get_file_info(pafs.FileSelector(f"{prefix}/rides"))
    assert parts, "the first push wrote nothing"
    for info in parts:
        table = pq.read_table(info.path, filesystem=store)  # every visible object is whole
        assert table.num_rows in (1, 1000, 3000000), info.path
    # Training data reads the pushed rows from S3.
    entities = pa.table({"driver_id": pa.array([7], pa.int64()),
                         "event_timestamp": pa.array([T0 + timedelta(hours=4)], US)})
    pq.write_table(entities, repos["base"] / "rides_entities.parquet")
    run("get-historical-features", "--entities", repos["base"] / "rides_entities.parquet",
        "--features", "rides:fare", "--output", repos["base"] / "rides_out.parquet", cwd=remote)
    assert pq.read_table(repos["base"] / "rides_out.parquet").column("fare").to_pylist()[0] is not None


def test_wrong_credentials_missing_bucket_and_no_server_are_clear_errors(repos, s3, tmp_path):
    remote, prefix = repos["remote"], repos["prefix"]
    run("apply", cwd=remote)
    args = ["get-historical-features", "--entities", f"s3://{prefix}/entities.parquet",
            "--features", "driver_stats:trips", "--output", f"s3://{prefix}/out/refused.parquet"]
    wrong = {**os.environ, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    refused = run(*args, cwd=remote, ok=False, env=wrong)
    assert f"s3://{prefix}/entities.parquet" in refused.stderr
    assert "not-the-secret" not in refused.stdout + refused.stderr  # never printed
    down = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    unreachable = run(*args, cwd=remote, ok=False, env=down)
    assert f"s3://{prefix}/entities.parquet" in unreachable.stderr
    missing = run("get-historical-features", "--entities", "s3://no-such-bucket/entities.parquet",
                  "--features", "driver_stats:trips", "--output", tmp_path / "out.parquet",
                  cwd=remote, ok=False)
    assert "s3://no-such-bucket/entities.parquet" in missing.stderr
    assert not (tmp_path / "out.parquet").exists()
    outputs = repos["store"].get_file_info(pafs.FileSelector(f"{prefix}/out", allow_not_found=True))
    assert "refused.parquet" not in {info.base_name for info in outputs}


def test_a_registry_on_s3_keeps_every_concurrent_update(repos, s3, tmp_path):
    """The registry on S3 is written by compare-and-swap: materializations of two views running at
    once each add their interval, none lost; teardown removes the object."""
    prefix = repos["prefix"]
    repo = tmp_path / "shared"
    make_repo(repo, f"s3://{prefix}")
    (repo / "feature_store.yaml").write_text(
        f"project: lake\nregistry: s3://{prefix}/registry/registry.json\n")
    applied = run("apply", cwd=repo)
    assert f"written to s3://{prefix}/registry/registry.json" in applied.stdout
    assert "No changes" in run("apply", cwd=repo).stdout  # read back from S3
    days = [(f"2024-05-01T{h:02d}:00:00", f"2024-05-01T{h + 1:02d}:00:00") for h in range(6)]
    # Each materialization holds the online store, so the two run in two repositories that
    # share the registry on S3 (as two machines would) with their own online stores.
    other = tmp_path / "other"
    other.mkdir()
    for name in ("feature_store.yaml", "definitions.yaml"):
        (other / name).write_text((repo / name).read_text())
    procs = [subprocess.Popen(
        [sys.executable, "-c", (
            "import subprocess, sys\n"
            f"for start, end in {days!r}:\n"
            f"    subprocess.run([{HEADWATER!r}, 'materialize', start, end, '--views', sys.argv[1]],"
            " check=True, capture_output=True)\n"), view], cwd=cwd, stderr=subprocess.PIPE)
        for view, cwd in (("driver_stats", repo), ("rides", other))]
    for proc in procs:
        assert proc.wait(timeout=600) == 0, proc.stderr.read()
    import json
    dump = json.loads(run("registry-dump", cwd=repo).stdout)
    assert len(dump["materializations"]["driver_stats"]) == len(days)
    assert len(dump["materializations"]["rides"]) == len(days)
    torn = run("teardown", cwd=repo)
    assert f"Removed registry s3://{prefix}/registry/registry.json" in torn.stdout
    assert repos["store"].get_file_info(f"{prefix}/registry/registry.json").type == \
        pafs.FileType.NotFound


def test_a_sources_own_endpoint_needs_no_environment(repos, s3, tmp_path):
    """Feast's s3_endpoint_override on a file source serves its bucket."""
    prefix = repos["prefix"]
    repo = tmp_path / "own"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text("project: lake\n")
    (repo / "definitions.yaml").write_text(
        "entities:\n  - {name: driver, join_keys: [driver_id], value_type: INT64}\n"
        f"sources:\n  - {{name: driver_src, path: s3://{prefix}/driver_stats, "
        f"timestamp_field: event_timestamp, s3_endpoint_override: '{s3}'}}\n"
        "feature_views:\n  - {name: driver_stats, entities: [driver], ttl: 2h, source: driver_src}\n")
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    run("apply", cwd=repo, env=env)
    run("get-historical-features", "--entities", repos["base"] / "entities.parquet",
        "--features", "driver_stats:trips", "--output", tmp_path / "own.parquet", cwd=repo, env=env)
    local = tmp_path / "local.parquet"
    run("get-historical-features", "--entities", repos["base"] / "entities.parquet",
        "--features", "driver_stats:trips", "--output", local, cwd=repos["local"])
    assert pq.read_table(tmp_path / "own.parquet").equals(pq.read_table(local))
    bad = repo / "definitions.yaml"
    bad.write_text(bad.read_text().replace(f"s3://{prefix}/driver_stats", "data/x"))
    refused = run("plan", cwd=repo, ok=False, env=env)
    assert "definitions.yaml:4" in refused.stderr and "s3_endpoint_override is for a path on S3" \
        in refused.stderr


def test_stream_windows_checkpointed_to_s3_equal_those_on_disk(s3, tmp_path):
    """A stream view's offline dataset on S3 (offline_store.path): the part files each checkpoint
    writes land there, and training data read from them equals the same run on local disk."""
    from test_server import Server
    from test_stream import FEATURES, T0 as STREAM_T0, push_all, trades, write_repo
    prefix = f"{BUCKET}/stream-{random.randrange(1 << 30)}"
    events = trades(400, seed=5)
    outputs = []
    for name, offline in (("local", None), ("remote", f"s3://{prefix}/offline")):
        repo = tmp_path / name
        write_repo(repo)
        if offline:
            config = repo / "feature_store.yaml"
            config.write_text(config.read_text() + f"offline_store: {{path: {offline}}}\n")
        run("apply", cwd=repo)
        server = Server(repo)
        try:
            push_all(server, events, to="online_and_offline")
        finally:
            server.stop()  # the last checkpoint commits the offline rows
        entity_rows = [dict(ticker=t, event_timestamp=STREAM_T0 + timedelta(minutes=m), label=m)
                       for t in ("ETH-USD", "SOL-USD") for m in range(0, 25, 3)]
        pq.write_table(pa.Table.from_pylist(entity_rows), tmp_path / "entities.parquet")
        run("get-historical-features", "--entities", tmp_path / "entities.parquet", "--features",
            ",".join(f"ticker_windows:{f}" for f in FEATURES), "--output",
            tmp_path / f"{name}.parquet", cwd=repo)
        outputs.append(pq.read_table(tmp_path / f"{name}.parquet"))
    parts = bucket_fs(s3).get_file_info(pafs.FileSelector(f"{prefix}/offline/ticker_windows"))
    assert parts and all(p.base_name.startswith("part-") for p in parts)
    assert outputs[0].num_rows == 18 and outputs[0].column(FEATURES[0]).null_count < 18
    assert outputs[1].equals(outputs[0])


def test_credentials_from_the_shared_credentials_file(repos, tmp_path):
    """No keys in the environment: the shared credentials file's profile serves every S3 call
    (Arrow's reads and writes, and the registry's compare-and-swap)."""
    prefix = repos["prefix"]
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n"
        f"[lake]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_PROFILE="lake")
    repo = tmp_path / "repo"
    make_repo(repo, f"s3://{prefix}")
    (repo / "feature_store.yaml").write_text(
        f"project: lake\nregistry: s3://{prefix}/profile/registry.json\n")
    run("apply", cwd=repo, env=env)
    run("get-historical-features", "--entities", f"s3://{prefix}/entities.parquet",
        "--features", "driver_stats:trips", "--output", tmp_path / "out.parquet", cwd=repo, env=env)
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 3000
    env["AWS_PROFILE"] = "default"
    refused = run("plan", cwd=repo, env=env, ok=False)
    assert f"s3://{prefix}/profile/registry.json" in refused.stderr
    assert "wrong" not in refused.stderr.replace("wrong credentials", "")


def test_a_stalled_server_is_a_clear_error_in_seconds_and_changes_nothing(repos, tmp_path):
    """The S3 server stops answering (SIGSTOP: the network drops): the command fails within
    seconds naming the URI, writes nothing, and succeeds once the server answers again."""
    remote = repos["remote"]
    run("apply", cwd=remote)
    pid = int((SERVER["directory"] / "weed.pid").read_text())
    args = ["get-historical-features", "--entities", repos["base"] / "entities.parquet",
            "--features", "driver_stats:trips", "--output", tmp_path / "out.parquet"]
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        stalled = run(*args, cwd=remote, ok=False)
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert elapsed < 60, elapsed
    assert f"s3://{repos['prefix']}/driver_stats" in stalled.stderr
    assert "Timeout" in stalled.stderr or "timed out" in stalled.stderr.lower()
    assert not (tmp_path / "out.parquet").exists()
    run(*args, cwd=remote)
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 3000


def test_the_flink_batch_engine_refuses_s3_sources_before_submitting(repos, tmp_path):
    """Flink reads s3:// only with its S3 plugin, which is not installed here: refused clearly,
    with the way out (the embedded engine reads S3)."""
    remote = repos["remote"]
    run("apply", cwd=remote)
    refused = run("get-historical-features", "--engine", "flink", "--entities",
                  repos["base"] / "entities.parquet", "--features", "driver_stats:trips",
                  "--output", tmp_path / "out.parquet", cwd=remote, ok=False)
    assert "the batch engine on Flink reads local paths only" in refused.stderr, refused.stderr
    assert f"s3://{repos['prefix']}/driver_stats" in refused.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_a_server_follows_a_registry_on_s3(repos, tmp_path):
    """`headwater serve` checks a registry on S3 for a new version (a HEAD at most once a second)
    and serves an apply made from another machine's checkout."""
    import json
    from test_server import Server
    prefix = repos["prefix"]
    checkouts = [tmp_path / "server", tmp_path / "laptop"]
    for checkout in checkouts:
        make_repo(checkout, f"s3://{prefix}")
        (checkout / "feature_store.yaml").write_text(
            f"project: lake\nregistry: s3://{prefix}/served/registry.json\n")
    run("apply", cwd=checkouts[0])
    server = Server(checkouts[0])
    try:
        assert json.loads(server.get("/health")[1])["registry_version"] == 1
        definitions = checkouts[1] / "definitions.yaml"
        definitions.write_text(definitions.read_text() + "feature_services:\n"
                               "  - {name: everything, features: [driver_stats, rides]}\n")
        assert "Registry version 2 written" in run("apply", cwd=checkouts[1]).stdout
        deadline = time.monotonic() + 10
        while json.loads(server.get("/health")[1])["registry_version"] != 2:
            assert time.monotonic() < deadline, "the server did not see version 2"
            time.sleep(0.1)
    finally:
        server.stop()

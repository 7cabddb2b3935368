"""kill -9 during materialization: rerunning gives the store an uninterrupted run gives, the
marker never claims unwritten rows, and reads keep working while a run is in progress."""
import json
import signal
import subprocess
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import HEADWATER

ROWS, KEYS = 4_000_000, 400_000
START, END = "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"


def make_repo(root, seed=3):
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text("project: crash\n")
    (root / "defs.yaml").write_text(
        "entities: [{name: driver, join_keys: [driver_id]}]\n"
        "sources: [{name: s, path: data/f.parquet, timestamp_field: ts}]\n"
        "feature_views: [{name: v, entities: [driver], ttl: 0, source: s}]\n")
    rng = np.random.default_rng(seed)
    start_us = 1_714_521_600_000_000
    columns = {"driver_id": pa.array(rng.integers(0, KEYS, ROWS)),
               "ts": pa.array(start_us + rng.integers(0, 86_400_000_000, ROWS), pa.timestamp("us"))}
    for i in range(8):
        columns[f"f{i}"] = pa.array(rng.random(ROWS))
    pq.write_table(pa.table(columns), root / "data" / "f.parquet", row_group_size=250_000)
    return len(np.unique(columns["driver_id"].to_numpy()))


def dump(root):
    return subprocess.run([HEADWATER, "-c", root, "online-dump", "--view", "v"], check=True,
                          capture_output=True, text=True).stdout


def test_kill_nine_then_rerun_gives_the_uninterrupted_store(tmp_path):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    distinct_keys = make_repo(reference)
    make_repo(crashed)
    for root in (reference, crashed):
        subprocess.run([HEADWATER, "-c", root, "apply"], check=True, capture_output=True)

    began = time.monotonic()
    subprocess.run([HEADWATER, "-c", reference, "materialize", START, END], check=True,
                   capture_output=True)
    full_run = time.monotonic() - began
    expected = dump(reference)
    assert len(expected.splitlines()) == distinct_keys

    killed_mid_run = 0
    for fraction in (0.1, 0.25, 0.4, 0.55, 0.7):
        run = subprocess.Popen([HEADWATER, "-c", crashed, "materialize", START, END],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full_run * fraction)
        # Reads work while the run is in progress (a RocksDB secondary instance).
        reader = subprocess.run(
            [HEADWATER, "-c", crashed, "get-online-features", "--features", "v:f0",
             "--entities", json.dumps({"driver_id": [1, 2, 3]})], capture_output=True, text=True)
        assert reader.returncode == 0, reader.stderr
        run.send_signal(signal.SIGKILL)
        if run.wait() != -signal.SIGKILL:
            continue
        killed_mid_run += 1
        registry = json.loads(subprocess.run([HEADWATER, "-c", crashed, "registry-dump"],
                                             check=True, capture_output=True, text=True).stdout)
        if "v" in registry["materializations"]:
            # Killed after recording the run (while closing the store): it must be whole.
            assert dump(crashed) == expected, "the marker claims rows that were not written"
            break
    assert killed_mid_run >= 2, "the runs finished before they could be killed"

    subprocess.run([HEADWATER, "-c", crashed, "materialize", START, END], check=True,
                   capture_output=True)
    assert dump(crashed) == expected
    registry = json.loads(subprocess.run([HEADWATER, "-c", crashed, "registry-dump"], check=True,
                                         capture_output=True, text=True).stdout)
    assert (START, END) in [(i["start"], i["end"]) for i in registry["materializations"]["v"]]

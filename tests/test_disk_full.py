"""The disk fills up under a running server (a small tmpfs holds the repository): pushes, the
offline append, the write-ahead log, RocksDB and checkpoints fail with a clear error, no file is
left half-written, nothing acknowledged is lost, and once space returns the same requests
(retried with their idempotency keys) succeed and the stores equal a run that never ran out.
Needs root to mount the tmpfs; skipped, saying so, without."""
import os
import subprocess
import time

import pyarrow.parquet as pq
import pytest

from test_idempotency import assert_same_stores, post, push_body, uninterrupted_run
from test_server import Server
from test_stream import trades, write_repo


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk):
    """Fills the disk to the last byte; returns the filler to delete."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass
    return [filler]


def test_a_full_disk_is_a_clear_error_and_loses_nothing(small_disk, tmp_path, cli):
    repo = small_disk / "repo"
    repo.mkdir()
    write_repo(repo)
    cli("-c", repo, "apply")
    events = trades(900, seed=7)
    batches = [events[i:i + 100] for i in range(0, len(events), 100)]
    server = Server(repo)
    try:
        for i, batch in enumerate(batches[:3]):
            assert post(server.url, "/push", push_body(batch), key=f"b{i}")[0] == 200
        fillers = fill(small_disk)
        refused = []
        for i, batch in enumerate(batches[3:6], start=3):
            status, error = post(server.url, "/push", push_body(batch), key=f"b{i}")
            assert status >= 500, (status, error)
            assert "No space left on device" in error["detail"] or "space" in error["detail"], error
            refused.append(i)
        time.sleep(0.5)  # checkpoints come due (every 100 ms) and fail on the full disk
        assert server.process.poll() is None  # still running
        # No half-written file is visible to readers.
        for f in (repo / "data" / "trades").glob("*.parquet"):
            pq.read_metadata(f)
        for f in fillers:
            f.unlink()
        # Space is back: the refused pushes, retried with their keys, and the rest.
        for i in refused:
            status, response = post(server.url, "/push", push_body(batches[i]), key=f"b{i}")
            assert status == 200, response
        for i, batch in enumerate(batches[6:], start=6):
            assert post(server.url, "/push", push_body(batch), key=f"b{i}")[0] == 200
    finally:
        server.stop()

    assert_same_stores(repo, uninterrupted_run(tmp_path / "clean", cli, batches), cli)

"""The examples run as documented."""
import subprocess
import sys

from conftest import HEADWATER, ROOT


def test_ticker_example_runs_end_to_end(tmp_path):
    result = subprocess.run([sys.executable, ROOT / "examples" / "ticker" / "run.py", HEADWATER,
                             tmp_path / "ticker"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pushed 20,618 trades" in result.stdout
    training = result.stdout.split("== training.parquet")[1].splitlines()
    rows = [line.split() for line in training[2:] if line.strip()]
    assert len(rows) == 10
    assert all(row[3] != "None" and float(row[3]) <= float(row[4]) for row in rows)  # min <= max

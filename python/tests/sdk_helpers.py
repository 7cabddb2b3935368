"""Helpers of the Python package's tests (a module of its own: tests/ has a conftest too)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "driver_stats"
# The CLI as built (`make build`); the package's own `headwater` entry point is tested too.
HEADWATER = os.environ.get("HEADWATER_BIN", str(ROOT / "build" / "headwater"))


def run(args, cwd, ok=True):
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    if ok and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    if not ok and result.returncode == 0:
        raise AssertionError(f"{args} should have failed:\n{result.stdout}\n{result.stderr}")
    return result

"""Fixtures for the Python package's tests: throwaway repositories with driver data."""
import shutil
import sys

import pytest

from sdk_helpers import EXAMPLE, run


@pytest.fixture
def driver_repo(tmp_path):
    """The driver_stats example with its data generated, not applied."""
    repo = tmp_path / "driver_stats"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    run([sys.executable, "generate_data.py"], cwd=repo)
    return repo

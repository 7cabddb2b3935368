"""Shared fixtures for the end-to-end tests: the CLI binary and throwaway repositories."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADWATER = os.environ.get("HEADWATER_BIN", str(ROOT / "build" / "headwater"))


class Cli:
    """Runs `headwater` in a repository directory and keeps the result."""

    def __init__(self, cwd: Path):
        self.cwd = cwd

    def __call__(self, *args, ok=True, cwd=None):
        result = subprocess.run([HEADWATER, *map(str, args)], cwd=cwd or self.cwd,
                                capture_output=True, text=True, timeout=300)
        if ok and result.returncode != 0:
            raise AssertionError(f"headwater {' '.join(map(str, args))} failed "
                                 f"({result.returncode}):\n{result.stdout}\n{result.stderr}")
        if not ok and result.returncode == 0:
            raise AssertionError(f"headwater {' '.join(map(str, args))} should have failed:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: needs minutes (a Flink job, chaos); `make chaos` "
                            "runs them, `make test` skips them")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("HEADWATER_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with `make chaos` (HEADWATER_SLOW=1)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def started_service(tmp_path_factory, name, timeout):
    """Runs scripts/start_<name> in a fresh directory and yields (directory, the address it
    printed); scripts/stop_<name> stops it."""
    directory = tmp_path_factory.mktemp(name)
    started = subprocess.run([ROOT / "scripts" / f"start_{name}", directory], capture_output=True,
                             text=True, timeout=timeout)
    assert started.returncode == 0, started.stderr
    yield directory, started.stdout.strip().splitlines()[-1]
    subprocess.run([ROOT / "scripts" / f"stop_{name}", directory], timeout=120)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A throwaway Kafka broker (scripts/start_kafka) for a test module: its host:port."""
    for _, address in started_service(tmp_path_factory, "kafka", 600):
        yield address


@pytest.fixture(scope="session")
def flink(tmp_path_factory):
    """A throwaway Flink cluster (scripts/start_flink), shared by the test modules that need one:
    (its directory, the JobManager's REST address)."""
    yield from started_service(tmp_path_factory, "flink", 1800)


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


@pytest.fixture
def driver_repo(tmp_path, cli):
    """A repository made by `headwater init`, applied."""
    cli("init", "driver_repo")
    repo = tmp_path / "driver_repo"
    cli("apply", cwd=repo)
    return repo

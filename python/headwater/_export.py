"""Runs Python definition files for ``headwater apply`` and prints their definitions.

    python -m headwater._export FILE...

prints {"files": [{"yaml": ..., "lines": [...]}, ...]} (one entry per file, in order), or
{"error": "file.py:LINE: what went wrong"} with exit status 1. Each file runs as Feast runs
repository files: as a module whose __name__ is not "__main__", with the repository root on
sys.path. The objects it defines at module level (and the entities and sources they reference)
are its definitions; objects imported from another file belong to that file.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import traceback
from typing import Any, Dict, List

from . import feast_compat
from .definitions import (DataSource, Entity, FeatureService, FeatureView, OnDemandFeatureView,
                          _referenced, to_yaml)

_KINDS = (Entity, DataSource, FeatureView, FeatureService, OnDemandFeatureView)


def _repo_root(path: str) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    probe = directory
    while True:
        if os.path.exists(os.path.join(probe, "feature_store.yaml")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return directory
        probe = parent


def export_file(path: str) -> Dict[str, Any]:
    """The definitions of one file, as YAML with its Python line per YAML line."""
    root = _repo_root(path)
    if root not in sys.path:
        sys.path.insert(0, root)
    # What the file prints must not mix with the JSON on stdout.
    with contextlib.redirect_stdout(sys.stderr):
        namespace = runpy.run_path(path, run_name="headwater_definitions")
    here = os.path.abspath(path)
    defined = [value for value in namespace.values() if isinstance(value, _KINDS)]
    mine = [obj for obj in _referenced(defined) if os.path.abspath(obj._location[0]) == here]
    yaml, lines = to_yaml(mine, here)
    return {"yaml": yaml, "lines": lines}


def _error_line(path: str, error: BaseException) -> int:
    here = os.path.abspath(path)
    line = getattr(error, "lineno", 0) if isinstance(error, SyntaxError) else 0
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.abspath(frame.filename) == here:
            line = frame.lineno or line
    return line or 0


def main(argv: List[str]) -> int:
    # Definition files written for Feast import feast: they get Headwater's objects.
    feast_compat.install()
    files = []
    for path in argv:
        try:
            files.append(export_file(path))
        except BaseException as error:  # the user's code may raise anything, SystemExit included
            name = os.path.relpath(path, _repo_root(path))
            message = f"{name}:{_error_line(path, error)}: {type(error).__name__}: {error}"
            print(json.dumps({"error": message}))
            return 1
    print(json.dumps({"files": files}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

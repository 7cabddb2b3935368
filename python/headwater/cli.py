"""The ``headwater`` command installed by pip: the same C++ command line as build/headwater."""

from __future__ import annotations

import os
import sys


def main() -> None:
    # Python definition files run in this interpreter, which has this package.
    os.environ["HEADWATER_PYTHON"] = sys.executable
    from . import _headwater

    sys.stdout.flush()
    sys.exit(_headwater.main(["headwater", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

"""Helpers for the ``limits`` hardening tests (issue 17, item 8).

* ``cli``: one ``behest-local`` command as a real process.
* ``modes``: every folder and file under a state dir with its permission bits.

``behest-local serve`` itself runs as ``tests.serve_process.ServeProcess``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

PY = [sys.executable, "-m", "behest_local"]


def cli(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*PY, *args, "--home", str(home)], input=stdin, capture_output=True,
                          text=True, timeout=60)


def modes(home: Path) -> dict[str, int]:
    """``{path relative to home: permission bits}`` for every folder and file under ``home``."""
    found = {}
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = Path(root, name)
            found[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    return found

"""Run a Node script against a live gateway, for tests that drive Node client libraries.

The scripts live in ``tests/node/`` beside the pinned ``package.json`` that ``.ci/run``
installs with ``npm ci``. Where Node.js or the installed packages are missing (a laptop that
never ran ``npm ci``), :func:`require_node_packages` skips the test with the command that fixes
it, so a skip always says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")


def require_node_packages(*packages: str) -> None:
    """Skip the calling test unless Node.js and each named package are installed."""
    if NODE is None:
        pytest.skip("Node.js is not installed (.ci/run uses the machine's node)")
    for package in packages:
        if not (NODE_DIR / "node_modules" / package / "package.json").exists():
            pytest.skip(f"{package} is not installed: run `npm ci --prefix tests/node`")


def run_node(script: str, env: dict[str, str], timeout_s: float = 60.0) -> dict:
    """Run ``tests/node/SCRIPT`` with ``env`` added and return the JSON it prints last.

    A script reports its findings as one JSON object on its last stdout line; anything it
    printed before, and its stderr, come back in the assertion message when it fails.
    """
    assert NODE is not None
    completed = subprocess.run(
        [NODE, str(NODE_DIR / script)],
        cwd=NODE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    output = completed.stdout.strip().splitlines()
    assert completed.returncode == 0 and output, (
        f"{script} exited {completed.returncode}\n"
        f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    )
    return json.loads(output[-1])

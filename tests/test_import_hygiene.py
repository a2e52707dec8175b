"""The core never imports the UI: a headless import must not load textual or rich.

Static linting cannot see imports deferred into functions, so this checks at run time
in a fresh interpreter, as harlequin's import-hygiene test does.
"""

from __future__ import annotations

import subprocess
import sys

CORE = ["behest_local.cli.main", "behest_local.runtime.serve", "behest_local.runtime.running", "behest_local.server.app",
        "behest_local.providers.emulated.provider", "behest_local.exchange.bus", "behest_local.sse"]


def test_core_modules_do_not_import_textual():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in CORE)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_providers_do_not_import_the_server():
    code = ("import sys\nimport behest_local.providers.emulated.provider\n"
            "print(sorted(m for m in sys.modules if m.startswith('behest_local.server')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

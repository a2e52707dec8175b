"""The trace, export and probe modules are core: importing them must not load Textual.

Only ``behest_local.tui.app`` and what it imports may; ``behest_local.tui`` itself only
defers to it (``run_tui`` imports the app when called), so ``runtime`` can import it.
"""

from __future__ import annotations

import subprocess
import sys

CORE = ["behest_local.capture", "behest_local.record", "behest_local.scrub",
        "behest_local.assemble", "behest_local.timing", "behest_local.trace_db",
        "behest_local.export", "behest_local.fixtures", "behest_local.probe",
        "behest_local.probe_cli", "behest_local.probe_verdict", "behest_local.traces_cli",
        "behest_local.server.inspect_routes", "behest_local.tui"]


def test_trace_modules_do_not_import_textual():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in CORE)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

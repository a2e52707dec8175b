"""The trace, export and probe modules are core: importing them must not load Textual.

Only ``behest_local.tui.app`` and what it imports may; ``behest_local.tui`` itself only
defers to it (``run_tui`` imports the app when called), so ``runtime`` can import it.
"""

from __future__ import annotations

import subprocess
import sys

CORE = ["behest_local.exchange.capture", "behest_local.observe.record", "behest_local.exchange.scrub",
        "behest_local.observe.assemble", "behest_local.exchange.timing", "behest_local.observe.trace_db",
        "behest_local.observe.export", "behest_local.observe.fixtures", "behest_local.probe.measure",
        "behest_local.cli.probe_cmd", "behest_local.probe.verdict", "behest_local.cli.traces_cmd",
        "behest_local.server.routes.inspect", "behest_local.tui"]


def test_trace_modules_do_not_import_textual():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in CORE)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

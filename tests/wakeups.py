"""Counting wake-ups from ``/proc``: how idle tests (issue 23, "idle means idle") measure.

The context switches (voluntary and involuntary) of every thread of a process and of its
children, read from ``/proc/PID/task/*/status`` before and after a window. A count rather
than a timing, so a busy machine does not make it flaky: a thread that sleeps until there
is work switches zero times however slow the machine is. The budget, ``BUDGET`` in
``WINDOW_S``, is the issue's "at most 2 wake-ups a second". Used by the headless gateway's
test (tests/runtime/test_idle.py), the TUI's (tests/tui/test_tui_idle.py) and the OTLP
exporter's (tests/observe/test_telemetry.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

ON_LINUX_PROC = Path("/proc/self/task").is_dir()
WINDOW_S = 10
BUDGET = 20
"""Wake-ups allowed in ``WINDOW_S``: 2 a second."""


def _pids(root: int) -> list[int]:
    """``root`` and its descendants."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def switches(root: int) -> dict[str, int]:
    """Context switches so far of every thread of ``root`` and its descendants, by
    ``pid/tid name``."""
    counts: dict[str, int] = {}
    for pid in _pids(root):
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
            except OSError:  # the thread ended meanwhile
                continue
            counts[f"{pid}/{status.parent.name} {fields['Name'].strip()}"] = (
                int(fields["voluntary_ctxt_switches"]) +
                int(fields["nonvoluntary_ctxt_switches"]))
    return counts


def wake_ups(root: int, seconds: float, during: Callable[[float], None] = time.sleep
             ) -> tuple[int, dict[str, int]]:
    """Context switches of the whole tree during ``seconds``: the total and, per thread,
    those that switched. ``during(seconds)`` fills the window (by default a sleep: the
    measurement window itself, not a synchronisation; a pty's reader passes its own)."""
    before = switches(root)
    during(seconds)
    after = switches(root)
    per_thread = {name: n - before.get(name, 0) for name, n in after.items()
                  if n != before.get(name, 0)}
    return sum(per_thread.values()), per_thread


def settle(root: int, timeout: float = 30, during: Callable[[float], None] = time.sleep
           ) -> None:
    """Until a whole second passes with at most 2 switches (start-up and warm-up done),
    or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        total, per_thread = wake_ups(root, 1.0, during)
        if total <= 2:
            return
    raise AssertionError(f"never settled: {total} switches in the last second: {per_thread}")

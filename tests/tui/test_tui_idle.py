"""Idle means idle (issue 23) with the TUI too: ``behest-local`` on a terminal, no traffic.

The default command on an 80×24 pty with a fresh state dir, as a user starts it; the
wake-ups of every thread of the process and its children over 10 s (tests/wakeups.py:
context switches from ``/proc``, robust on a busy machine), within the headless gateway's
budget of 2 a second. Before, Textual's input thread woke ten times a second to check its
exit event, and the app's refresh, header and vault timers ran without traffic: ~16 a
second in all. Then a chat request: its row and the header's rate show up at once (the
first change starts the timers), and once the header has nothing left to count down the
process is idle again.
"""

from __future__ import annotations

import pytest

from tests.wakeups import BUDGET, ON_LINUX_PROC, WINDOW_S, settle, wake_ups

pytest.importorskip("pyte", reason="pip install -e '.[test]'")

from tests.tui.pty_terminal import (  # noqa: E402
    BASE_URL, KEY, Terminal, behest_local, chat_once, tui_env)

pytestmark = pytest.mark.skipif(not ON_LINUX_PROC,
                                reason="reads context switches from Linux's /proc")


def test_the_tui_wakes_at_most_twice_a_second_while_idle_and_after_a_request(tmp_path):
    terminal = Terminal([*behest_local(), "--port", "0", "--home", str(tmp_path / "state")],
                        tmp_path, tui_env())
    pid = terminal.proc.pid
    try:
        screen = terminal.read_until(lambda s: KEY.search(s) and "your API key" in s)
        key, port = KEY.search(screen).group(0), BASE_URL.search(screen).group(1)
        terminal.send(b"\x1b")  # close the first-run notice: the list, as it is used
        terminal.read_until(lambda s: KEY.search(s) is None and "0.0 req/s" in s)
        settle(pid, during=terminal.pump)
        total, per_thread = wake_ups(pid, WINDOW_S, during=terminal.pump)
        assert total <= BUDGET, f"{total} wake-ups in {WINDOW_S} s idle: {per_thread}"

        chat_once(port, key)
        # Shown promptly by timers that were asleep: the row, and the rate in the header.
        screen = terminal.read_until(lambda s: "gpt-4o@emulated" in s and "0.1 req/s" in s,
                                     timeout=5)
        assert " 200 " in next(line for line in screen.splitlines() if "gpt-4o@" in line)
        # The rate is a ten-second average: the header counts it down, then sleeps too.
        terminal.read_until(lambda s: "0.0 req/s" in s, timeout=30)
        settle(pid, during=terminal.pump)
        total, per_thread = wake_ups(pid, WINDOW_S / 2, during=terminal.pump)
        assert total <= BUDGET / 2, f"{total} wake-ups in {WINDOW_S / 2} s after a " \
                                    f"request: {per_thread}"
    finally:
        terminal.close()

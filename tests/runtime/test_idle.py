"""Idle means idle (issue 23): a gateway with no traffic does not wake the CPU.

A real ``behest-local serve`` on a fresh state dir; the context switches of every thread
of it and of its children, read from ``/proc`` over 10 s (tests/wakeups.py). Before,
watchfiles' polling thread alone woke 100 times a second, and timers (file ticks, the
collector's checks) ran whether or not anything happened.
"""

from __future__ import annotations

import pytest

from tests.serve_process import ServeProcess
from tests.wakeups import BUDGET, ON_LINUX_PROC, WINDOW_S, settle, wake_ups

pytestmark = pytest.mark.skipif(not ON_LINUX_PROC,
                                reason="reads context switches from Linux's /proc")


def test_an_idle_gateway_wakes_at_most_twice_a_second(tmp_path):
    server = ServeProcess(tmp_path / "home")
    try:
        settle(server.pid)
        total, per_thread = wake_ups(server.pid, WINDOW_S)
        assert total <= BUDGET, f"{total} wake-ups in {WINDOW_S} s: {per_thread}"
        # After traffic, whatever timers it started stop again: a refused request is an
        # exchange like any other (recorded, metered, counted by the collector's schedule).
        status, _body, _headers = server.request("GET", "/v1/models")
        assert status == 401
        settle(server.pid)
        total, per_thread = wake_ups(server.pid, WINDOW_S / 2)
        assert total <= BUDGET / 2, f"{total} wake-ups in {WINDOW_S / 2} s after a request: " \
                                    f"{per_thread}"
    finally:
        assert server.stop() == 0

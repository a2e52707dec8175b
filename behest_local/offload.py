"""CPU-bound work beside the event loop: ``off_loop``.

Work that grows with a request (decoding and checking a 20 MiB body, embedding 2,048
inputs) runs in a worker thread so the event loop keeps serving. A thread alone is not
enough: CPython hands the GIL from a thread running Python to one that wants it only every
``sys.getswitchinterval()`` (5 ms), and the event loop wants it back once per callback
(uvloop, the default loop, releases it around each one): with one worker busy, every
``/healthz`` waited ~0.6 s. So while any ``off_loop`` work runs the switch interval is
``FAIR_SWITCH_S``, and the previous value returns when the last of it ends.

Work in C that holds the GIL (one ``json`` call, one regex over a huge string) still stops
the loop for as long as it lasts: callers cut such work into pieces.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

FAIR_SWITCH_S = 0.0002
"""The GIL switch interval while off-loop work runs (CPython's default: 0.005)."""

_lock = threading.Lock()
_running = 0
_saved = 0.0


async def off_loop(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a worker thread, with the GIL handed to the loop promptly."""
    return await asyncio.to_thread(fairly, work, *args)


def fairly(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` on the calling (worker) thread, with the GIL handed to the loop
    promptly: for executors of one's own (``threads.store``)."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = sys.getswitchinterval()
            sys.setswitchinterval(FAIR_SWITCH_S)
        _running += 1
    try:
        return work(*args)
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                sys.setswitchinterval(_saved)

"""Stopping on Ctrl-C and SIGTERM, on every platform: ``on_stop_signals``.

``serve`` (headless) and the TUI (``runtime/tui.py``) end when the user presses Ctrl-C or
a supervisor sends SIGTERM. On POSIX the event loop takes the signals itself
(``loop.add_signal_handler``: the handler runs on the loop, between callbacks). Windows'
event loop has no such method (it raises ``NotImplementedError``, and uvloop does not
exist there): a plain ``signal.signal`` handler for SIGINT (Ctrl-C) and SIGBREAK
(Ctrl-Break, what a console sends to stop a process) hands the call to the loop with
``call_soon_threadsafe``. Windows delivers no SIGTERM to a Python process; ``taskkill`` ends
it without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

POSIX_STOP = ("SIGINT", "SIGTERM")
WINDOWS_STOP = ("SIGINT", "SIGBREAK")


@contextlib.contextmanager
def on_stop_signals(callback: Callable[..., object], *args: object) -> Iterator[None]:
    """Call ``callback(*args)`` on the running loop at Ctrl-C or SIGTERM while inside."""
    loop = asyncio.get_running_loop()
    taken: list[signal.Signals] = []
    try:
        for name in POSIX_STOP:
            loop.add_signal_handler(getattr(signal, name), callback, *args)
            taken.append(getattr(signal, name))
    except NotImplementedError:  # Windows' event loops
        with _plain_handlers(loop, callback, args):
            yield
        return
    try:
        yield
    finally:
        for sig in taken:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _plain_handlers(loop: asyncio.AbstractEventLoop, callback: Callable[..., object],
                    args: tuple) -> Iterator[None]:
    def handler(_signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(callback, *args)

    previous = {}
    for name in WINDOWS_STOP:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

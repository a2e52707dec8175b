"""Running the TUI alongside the gateway: same process, same event loop.

``runtime.serve`` calls ``run_tui(running)`` instead of waiting for a signal when stdout
is a terminal. The gateway's ``AppRunner`` keeps serving on the loop while Textual's
``App.run_async`` owns the terminal; when the app exits (``q``, Ctrl-C, SIGTERM), this
returns and ``serve`` shuts the gateway down as in headless mode.

While the app owns the terminal, log lines written to stderr would tear through the
screen: the root logger's stream handlers are swapped for a file in the state dir
(``behest-local.log``) plus a toast for warnings, and restored on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from behest_local.home import private_file
from behest_local.printable import PrintableFormatter, printable
from behest_local.runtime.signals import on_stop_signals

if TYPE_CHECKING:
    from behest_local.runtime.running import RunningGateway
    from behest_local.observe.trace_db import TraceDB
    from behest_local.tui.app import BehestApp
    from behest_local.tui.header import Gauge

LOG_FILE = "behest-local.log"


async def run_tui(running: RunningGateway, *, db: TraceDB | None = None,
                  notices: Sequence[str] = (), first_keys: Mapping[str, str] | None = None,
                  limits: Callable[[], Sequence[Gauge]] | None = None,
                  app: BehestApp | None = None, headless: bool = False) -> int:
    """Show the TUI until the user quits; returns the exit code (0).

    Args:
        db: the trace database, for exchanges that left the in-memory ring.
        notices: lines shown as notifications at start (a state dir open to others).
        first_keys: the API keys created at this start, by project: shown in the TUI's
            first-run notice, not only in the banner its screen covers.
        limits: rate-limit gauges for the header, once limits exist.
        app: a prepared ``BehestApp`` (tests); ``headless`` runs it without a terminal.
    """
    from behest_local.tui.app import BehestApp  # deferred: headless runs never load Textual

    gateway = running.gateway
    app = app or BehestApp(gateway.store, url=running.url, gateway=gateway, home=gateway.home,
                           db=db, limits=limits, notices=notices, first_keys=first_keys)
    loop = asyncio.get_running_loop()
    with on_stop_signals(app.exit, 0), _logs_to(app, Path(gateway.home) / LOG_FILE, loop):
        await app.run_async(headless=headless)
    return app.return_code or 0


class _ToastHandler(logging.Handler):
    """Warnings and errors as TUI notifications, from any thread."""

    def __init__(self, app: BehestApp, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.WARNING)
        self.app, self.loop = app, loop
        self._loop_thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        # The first line, escaped and shown as plain text: a record can quote a client's
        # text (a refused origin, a path), which must neither drive the terminal nor be
        # read as Textual markup.
        message = printable((record.getMessage().splitlines() or [""])[0][:300])
        severity = "error" if record.levelno >= logging.ERROR else "warning"
        if threading.get_ident() == self._loop_thread:
            self.app.notify(message, severity=severity, timeout=8, markup=False)
        else:
            self.loop.call_soon_threadsafe(
                lambda: self.app.notify(message, severity=severity, timeout=8, markup=False))


@contextlib.contextmanager
def _logs_to(app: BehestApp, path: Path, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    root = logging.getLogger()
    streams = [h for h in root.handlers if type(h) is logging.StreamHandler]
    file_handler = logging.FileHandler(private_file(path), encoding="utf-8")
    file_handler.setFormatter(PrintableFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    toast = _ToastHandler(app, loop)
    for handler in streams:
        root.removeHandler(handler)
    root.addHandler(file_handler)
    root.addHandler(toast)
    try:
        yield
    finally:
        root.removeHandler(toast)
        root.removeHandler(file_handler)
        file_handler.close()
        for handler in streams:
            root.addHandler(handler)

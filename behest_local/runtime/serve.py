"""``behest-local serve``: run the gateway until Ctrl-C or SIGTERM, headless or with the TUI.

``run`` is the command: ``serve`` on uvloop when it is installed (or as ``--loop`` says),
the TUI included, since it shares the loop. ``serve`` starts the gateway
(``running.start``), prints the banner, subscribes the headless logger or runs the TUI
(``runtime/tui.py``), freezes the startup heap and leaves full collections for idle
moments (``gc_schedule.py``). The address it bound is announced in the state dir
(``address.py``: what ``dashboard-token`` and ``signing-keys create`` print) before the
banner, and withdrawn at shutdown, which closes in-flight streams with a final error event,
then the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType


from behest_local import __version__
from behest_local.finops import prices
from behest_local.home import exposure
from behest_local.runtime import address
from behest_local.runtime.gc_schedule import CollectorSchedule
from behest_local.server.gateway import Gateway
from behest_local.observe.headless import LineLogger
from behest_local.server.admission.limits import rpm_gauges
from behest_local.observe.trace_db import TraceDB
from behest_local.runtime.build import ServeOptions, StartupError
from behest_local.runtime.running import start
from behest_local.runtime.signals import on_stop_signals

log = logging.getLogger("behest_local")


def run(options: ServeOptions) -> int:
    """``behest-local serve``: ``serve`` on the event loop ``options.loop`` names."""
    factory = loop_factory(options.loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(serve(options))


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes ``serve``'s event loop: uvloop's for ``uvloop``, and for ``auto`` when it
    is installed (it cuts aiohttp's CPU per request by about a third); ``None`` is
    asyncio's own loop. Raises ``StartupError`` for ``uvloop`` when it is not installed."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise StartupError("--loop uvloop: uvloop is not installed (`pip install uvloop`; "
                               "it does not exist for Windows). Use --loop asyncio.") from None
        return None
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: what the banner says runs the gateway."""
    return "uvloop" if type(loop).__module__.split(".")[0] == "uvloop" else "asyncio"


async def serve(options: ServeOptions) -> int:
    """Run until Ctrl-C or SIGTERM (or ``q`` in the TUI): the ``behest-local serve`` command.

    The TUI is the front end when stdout is a terminal and ``--headless`` was not given;
    otherwise one log line per request. Either way exchanges persist to the trace store.
    A state dir open to other users is warned about first (``home.exposure``).
    """
    notices = tuple(n for n in [exposure(options.home)] if n is not None)
    for notice in notices:  # stderr now; in the TUI, a notification too
        log.warning(notice)
    # The trace database's file work (sqlite, which releases the GIL) overlaps building and
    # binding the gateway. Its result is taken without awaiting, so it is subscribed before
    # the loop can run a request: no exchange goes unrecorded.
    with ThreadPoolExecutor(1, thread_name_prefix="behest-local trace-db open") as pool:
        opening = pool.submit(TraceDB.open, options.home)
        try:
            running = await start(options)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(opening.result().close)
            raise
        try:
            db = opening.result()
        except BaseException as exc:
            await running.close()
            if isinstance(exc, (OSError, sqlite3.Error)):  # not damage (that is set aside)
                raise StartupError(f"cannot open the trace database in {options.home}: {exc}. "
                                   "Check that it is a file you may write, or move it aside."
                                   ) from None
            raise
    gateway = running.gateway
    gateway.store.subscribe(db.subscriber, events=db.EVENTS)
    # Once warmed up: the start-up heap frozen, full collections only when idle
    # (runtime/gc_schedule.py says why).
    collector = CollectorSchedule(gateway.store, gateway.streams)
    running.after_warm_up = collector.start
    use_tui = not options.headless and sys.stdout.isatty()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # Request lines are gathered for 50 ms and written together: one write per batch
    # instead of a syscall on the event loop per request (observe/headless.py).
    logger = None if use_tui else LineLogger(
        batch=0.05, counts_of=lambda model: prices.unit_of(model).counts)
    announced = False
    signals = contextlib.ExitStack()
    try:
        if not use_tui:  # before the banner: a script that waits for it may signal at once
            signals.enter_context(on_stop_signals(stop.set))
        # Before the banner too: a script that waits for it may run dashboard-token next.
        announced = await _announce(options, running.url)
        # Only a terminal sees a new key: a log or a pipe would keep it in a file.
        created = first_keys(gateway) if sys.stdout.isatty() else {}
        lines = banner_lines(gateway, running.url, loop=loop_name(loop), created=created,
                             tui=use_tui)
        print("\n".join(lines), flush=True)  # stays in the scrollback after the TUI exits
        if use_tui:
            from behest_local.runtime.tui import run_tui  # deferred: headless never loads Textual

            await run_tui(running, db=db, notices=notices, first_keys=created,
                          limits=lambda: rpm_gauges(running.runner.app))
        else:
            gateway.store.subscribe(logger, events=logger.EVENTS)
            await stop.wait()
    finally:
        if logger is not None:
            logger.flush()
        print("behest-local: shutting down", flush=True)
        signals.close()
        collector.stop()
        await running.close()
        if announced:
            await asyncio.to_thread(address.withdraw, options.home)
        if logger is not None:
            logger.close()  # the lines of the requests that ended while closing
        await asyncio.to_thread(db.close)
    return 0


async def _announce(options: ServeOptions, url: str) -> bool:
    """Write the address file (in a worker thread: it fsyncs); False if it could not be
    written, which costs only the commands that print this gateway's URL their accuracy."""
    try:
        await asyncio.to_thread(address.announce, options.home, url)
    except OSError as exc:
        log.warning("cannot write %s in %s (%s): commands that print the gateway's URL "
                    "will show the configured one", address.ADDRESS_FILE, options.home, exc)
        return False
    return True


def first_keys(gateway: Gateway) -> dict[str, str]:
    """An API key for each project that has none, created now: the first start in a
    terminal. Returned by project, shown once (the banner, the TUI's first-run notice)."""
    created = {}
    for project in gateway.settings.projects:
        if not gateway.keys.list(project.id):
            created[project.id], _record = gateway.keys.create(project.id)
    return created


def banner_lines(gateway: Gateway, url: str, *, loop: str | None = None,
                 created: Mapping[str, str] = MappingProxyType({}),
                 tui: bool = False) -> list[str]:
    """What ``serve`` prints first: URL, config, state dir, the event loop (``loop``),
    each project's key (``created``: shown in full, once) or key hint, and how to stop:
    ``q`` when the TUI follows (``tui``), else Ctrl-C."""
    lines = [f"behest-local {__version__} listening on {url}",
             f"  config: {gateway.settings.source}   state: {gateway.home}"]
    if loop is not None:
        lines.append(f"  event loop: {loop} (serve --loop auto|asyncio|uvloop)")
    for project in gateway.settings.projects:
        active = gateway.keys.list(project.id)
        if project.id in created:
            lines.append(f"  project {project.id}: new API key (shown once, save it): "
                         f"{created[project.id]}")
        elif active:
            newest = active[-1]
            lines.append(f"  project {project.id}: API key {newest.prefix}… "
                         f"({len(active)} active; `behest-local keys list`)")
        else:
            lines.append(f"  project {project.id}: no API key yet: run "
                         f"`behest-local keys create --project {project.id}`")
    lines.append(f"  tenant {gateway.settings.tenant.id} ({gateway.settings.tenant.plan} plan); "
                 "management API token: `behest-local dashboard-token`")
    stop = "q in the TUI to quit" if tui else "Ctrl-C to stop"
    lines.append(f"  OpenAI base URL: {url}/v1   ({stop})")
    return lines

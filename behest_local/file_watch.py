"""One file watcher for every file the running gateway follows on disk.

``behest.toml`` and ``deployed.toml`` (``reload.LiveConfig``), ``vault.json``
(``provider_keys.ProviderKeyIndex``, ``vault.Vault``) and ``keys.json`` (``keys.KeyStore``)
change while the server runs: edited by hand, by the CLI in another terminal, or by a
second instance. Each owner registers what it follows with :meth:`FileWatch.follow`; one
task (``RunningGateway.watch`` runs :meth:`FileWatch.run`) covers all of them and calls the
owners whose files changed, one at a time.

Idle means idle (issue 23): on Linux the kernel's notifications come through an inotify
descriptor that the event loop reads when it is readable (``inotify.py``): no thread, no
timer, nothing runs until a followed file changes, and the change applies at once (``keys
revoke`` in another terminal is meant to take effect immediately, README). It listens for
files *completed* (closed after writing, renamed into place, deleted), so a follower never
reads a half-written file. Where inotify does not exist (macOS, Windows) watchfiles' thread
watches instead: it wakes every ``STEP_MS`` to look for events, which bounds how soon a
change applies, and costs ~100 wake-ups a second while idle.

A follower may ask for a ``tick`` (it is cheap and quiet to call without a change):
``tick=True`` calls it when watching starts (a change made before was not reported), and
once more ``TICK_MS`` after each change, in case the file changed again in a way its
signature could not tell; under watchfiles, once a second as well, because there an event
can come before the file is complete. The timer exists only after a change.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from behest_local import inotify

log = logging.getLogger("behest_local.file_watch")

STEP_MS = 10
"""watchfiles only: how often its thread looks for events (and takes the GIL to do so)."""
DEBOUNCE_MS = 50
"""watchfiles only: events closer together than this are delivered as one batch."""
TICK_MS = 1000
"""How long after a change a ticking follower is called again (and, under watchfiles, the
period of its calls without a change)."""
MASK = (inotify.IN_CLOSE_WRITE | inotify.IN_MOVED_TO | inotify.IN_MOVED_FROM
        | inotify.IN_DELETE | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF)
"""What inotify reports: a file complete (closed after writing, renamed into place), gone,
or the directory itself gone. Not each write(2): the file is not complete yet."""

OnChange = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True, eq=False)  # eq=False: a follower is itself, hashed by identity
class Follow:
    """Call ``on_change`` when a file named one of ``names`` in ``directory`` changes."""

    directory: str
    names: frozenset[str]
    on_change: OnChange
    tick: bool = False
    label: str = ""


def backend_modules() -> tuple[str, ...]:
    """What :meth:`FileWatch.run` imports on this platform (warmed off the loop first)."""
    return () if inotify.available() else ("watchfiles", "anyio._backends._asyncio")


class FileWatch:
    """Followers of files, and the one loop that serves them (:meth:`run`)."""

    def __init__(self) -> None:
        self._follows: list[Follow] = []
        self.rechecks: dict[Follow, asyncio.TimerHandle] = {}
        """The pending ``tick`` calls after a change (none while nothing changed)."""

    def follow(self, directory: str | Path, names: Iterable[str], on_change: OnChange, *,
               tick: bool = False, label: str = "") -> None:
        """Register a follower. ``directory`` must exist by the time :meth:`run` starts;
        followers registered after that are not watched."""
        self._follows.append(Follow(str(directory), frozenset(names), on_change, tick,
                                    label or getattr(on_change, "__qualname__", "follower")))

    @property
    def follows(self) -> tuple[Follow, ...]:
        return tuple(self._follows)

    def directories(self) -> list[str]:
        return sorted({f.directory for f in self._follows})

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Watch until ``stop`` is set (or the task is cancelled)."""
        if not self._follows:
            return
        stop = stop or asyncio.Event()
        try:
            if inotify.available():
                await self._run_inotify(stop)
            else:
                await self._run_watchfiles(stop)
        finally:
            for handle in self.rechecks.values():
                handle.cancel()
            self.rechecks.clear()

    async def _run_inotify(self, stop: asyncio.Event) -> None:
        follows = tuple(self._follows)
        loop = asyncio.get_running_loop()
        notify = inotify.Inotify()
        changed: set[tuple[str, str]] = set()  # (directory, name); ("", "") for "all"
        due: set[Follow] = set()  # ticking followers whose re-check is due
        woken = asyncio.Event()

        def readable() -> None:
            for event in notify.read():
                if event.mask & inotify.IN_Q_OVERFLOW:
                    changed.add(("", ""))  # events were lost: every follower looks again
                elif event.mask & (inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF):
                    log.warning("%s was removed or moved: changes in it are no longer "
                                "followed until the gateway restarts", event.directory)
                elif event.name:
                    changed.add((event.directory, event.name))
            if changed:
                woken.set()

        def recheck(follow: Follow) -> None:
            del self.rechecks[follow]
            due.add(follow)
            woken.set()

        try:
            for directory in self.directories():
                notify.add(directory, MASK)
            loop.add_reader(notify.fd, readable)
            # What changed between a follower's ``follow`` and now was not reported: the
            # ticking followers (safe to call without a change) look once now.
            due.update(f for f in follows if f.tick)
            woken.set()
            waking = asyncio.ensure_future(stop.wait())
            waking.add_done_callback(lambda _: woken.set())
            try:
                while True:
                    await woken.wait()
                    woken.clear()
                    if stop.is_set():
                        return
                    rechecked, changed_now = set(due), set(changed)
                    due.clear()
                    changed.clear()
                    everything = ("", "") in changed_now
                    for follow in follows:  # registration order, one at a time
                        by_change = everything or any(
                            (follow.directory, name) in changed_now for name in follow.names)
                        if not by_change and follow not in rechecked:
                            continue
                        await _call(follow)
                        # One re-check after the latest change; none after a re-check, so
                        # no timer runs while nothing changes.
                        if by_change and follow.tick:
                            if (pending := self.rechecks.pop(follow, None)) is not None:
                                pending.cancel()
                            self.rechecks[follow] = loop.call_later(TICK_MS / 1000, recheck,
                                                                    follow)
            finally:
                waking.cancel()
                loop.remove_reader(notify.fd)
        finally:
            notify.close()

    async def _run_watchfiles(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch  # deferred: only the long-running server needs it

        follows = tuple(self._follows)
        names = frozenset().union(*(f.names for f in follows))
        ticking = any(f.tick for f in follows)

        def ours(_change: object, path: str) -> bool:
            return os.path.basename(path) in names

        async for changes in awatch(*self.directories(), stop_event=stop, recursive=False,
                                    debounce=DEBOUNCE_MS, step=STEP_MS, watch_filter=ours,
                                    rust_timeout=TICK_MS if ticking else None,
                                    yield_on_timeout=ticking):
            touched = {os.path.basename(path) for _change, path in changes}
            for follow in follows:
                if follow.names & touched or (follow.tick and not changes):
                    await _call(follow)


async def _call(follow: Follow) -> None:
    """One follower's turn; its failure is logged and does not stop the others."""
    try:
        result = follow.on_change()
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a watcher that dies stops every reload
        # Type and message only: a follower's error never carries a secret, but a
        # traceback's locals could.
        log.warning("reacting to a change of %s (%s) failed: %s: %s", "/".join(
            sorted(follow.names)), follow.label, type(exc).__name__, exc)

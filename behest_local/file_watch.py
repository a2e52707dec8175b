"""One file watcher for every file the running gateway follows on disk.

``behest.toml`` and ``deployed.toml`` (``reload.LiveConfig``), ``vault.json``
(``provider_keys.ProviderKeyIndex``, ``vault.Vault``) and ``keys.json`` (``keys.KeyStore``)
change while the server runs: edited by hand, by the CLI in another terminal, or by a
second instance. Each owner registers what it follows with :meth:`FileWatch.follow`; one
task (``RunningGateway.watch`` runs :meth:`FileWatch.run`) covers all of them and calls the
owners whose files changed, one at a time.

Idle means idle (issue 23): the kernel's notifications come through a descriptor that the
event loop reads when it is readable: inotify on Linux (``inotify.py``), kqueue on macOS
and the BSDs (``kqueue.py``, untested on a real Mac). No thread, no timer, nothing runs
until a followed file changes, and the change applies at once (``keys revoke`` in another
terminal is meant to take effect immediately, README). inotify reports files *completed*
(closed after writing, renamed into place, deleted), so a follower never reads a
half-written file; kqueue reports a write as it happens. Where neither exists (Windows)
watchfiles' thread watches instead: it wakes every ``STEP_MS`` to look for events, which
bounds how soon a change applies (within about a second) and keeps it to about one
wake-up a second while idle (plus one a second for the ticks below).

A follower may ask for a ``tick`` (it is cheap and quiet to call without a change):
``tick=True`` calls it when watching starts (a change made before was not reported), and
once more ``TICK_MS`` after each change, in case the file changed again in a way its
signature could not tell (or, under kqueue, it was still being written); under watchfiles,
once a second as well, because there an event can come before the file is complete. The
timer exists only after a change.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from behest_local import inotify, kqueue

log = logging.getLogger("behest_local.file_watch")

STEP_MS = 1000
"""watchfiles only: how often its thread looks for events (and takes the GIL to do so):
one wake-up a second, and how late a change may apply (issue 23: at most 2 a second)."""
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


EVERYTHING = ("", "")
"""A change of every followed file (inotify's queue overflowed: events were lost)."""


class _Source(Protocol):
    """The kernel's notifications: ``fd`` for ``loop.add_reader``; ``read`` returns the
    ``(directory, name)`` changed (``(directory, None)``: the directory itself is gone)."""

    fd: int

    def read(self) -> list[tuple[str, str | None]]: ...

    def close(self) -> None: ...


class _Unreadable(Exception):
    """The event loop cannot watch the kqueue's descriptor (untested ground: uvloop on
    macOS is expected to, a nested kqueue being readable like any descriptor)."""


class _InotifySource:
    """inotify.py's events as a ``_Source``: completed files, gone directories, overflow."""

    def __init__(self, directories: Iterable[str]) -> None:
        self._notify = inotify.Inotify()
        self.fd = self._notify.fd
        try:
            for directory in directories:
                self._notify.add(directory, MASK)
        except BaseException:
            self._notify.close()
            raise

    def read(self) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for event in self._notify.read():
            if event.mask & inotify.IN_Q_OVERFLOW:
                out.append(EVERYTHING)  # events were lost: every follower looks again
            elif event.mask & (inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF):
                out.append((event.directory, None))
            elif event.name:
                out.append((event.directory, event.name))
        return out

    def close(self) -> None:
        self._notify.close()


def notified() -> bool:
    """Whether the kernel notifies this process of file changes (inotify, kqueue), or
    watchfiles' polling thread stands in (Windows)."""
    return inotify.available() or kqueue.available()


def backend_modules() -> tuple[str, ...]:
    """What :meth:`FileWatch.run` imports on this platform (warmed off the loop first)."""
    return () if notified() else ("watchfiles", "anyio._backends._asyncio")


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
            if notified():
                try:
                    await self._run_notified(stop)
                except _Unreadable as exc:
                    log.warning("this event loop cannot wait on a kqueue (%s): watching files "
                                "with watchfiles instead (changes apply within a second)", exc)
                    await self._run_watchfiles(stop)
            else:
                await self._run_watchfiles(stop)
        finally:
            for handle in self.rechecks.values():
                handle.cancel()
            self.rechecks.clear()

    def _source(self) -> _Source:
        """The kernel's notifications for the followed directories (inotify or kqueue)."""
        if inotify.available():
            return _InotifySource(self.directories())
        names: dict[str, set[str]] = {}
        for follow in self._follows:
            names.setdefault(follow.directory, set()).update(follow.names)
        return kqueue.Kqueue(names)

    async def _run_notified(self, stop: asyncio.Event) -> None:
        follows = tuple(self._follows)
        loop = asyncio.get_running_loop()
        source = self._source()
        changed: set[tuple[str, str]] = set()  # (directory, name); EVERYTHING for "all"
        due: set[Follow] = set()  # ticking followers whose re-check is due
        woken = asyncio.Event()

        def readable() -> None:
            for directory, name in source.read():
                if name is None:
                    log.warning("%s was removed or moved: changes in it are no longer "
                                "followed until the gateway restarts", directory)
                else:
                    changed.add((directory, name))
            if changed:
                woken.set()

        def recheck(follow: Follow) -> None:
            del self.rechecks[follow]
            due.add(follow)
            woken.set()

        try:
            try:
                loop.add_reader(source.fd, readable)
            except (OSError, ValueError, NotImplementedError) as exc:
                if inotify.available():
                    raise
                raise _Unreadable(exc) from exc
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
                    everything = EVERYTHING in changed_now
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
                loop.remove_reader(source.fd)
        finally:
            source.close()

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

"""One file watcher for every file the running gateway follows on disk.

``behest.toml`` and ``deployed.toml`` (``reload.LiveConfig``), ``vault.json``
(``provider_keys.ProviderKeyIndex``, ``vault.Vault``) and ``keys.json`` (``keys.KeyStore``)
change while the server runs: edited by hand, by the CLI in another terminal, or by a
second instance. Each owner registers what it follows with :meth:`FileWatch.follow`; one
watchfiles ``awatch`` task (``RunningGateway.watch``) covers all of them and calls the
owners whose files changed.

Why one: every ``awatch`` runs a thread that wakes each ``step`` and takes the GIL to
check for signals and its stop event. Three watchers took the GIL 300 times a second:
~20 ms of CPU a second while idle, and the event loop made to hand the GIL over in the
middle of requests and stream events. One takes it 100 times a second (~8 ms/s idle).
The step stays at 10 ms because it bounds how soon a change applies: ``keys revoke`` in
another terminal is meant to take effect at once (README), and a 20 ms step already let
a request made right after the command slip through now and then.

A follower may ask for a ``tick``: it is called as well once a second without an event,
so a change the kernel reported before the file was complete is still picked up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("behest_local.file_watch")

STEP_MS = 10
"""How often the watcher thread looks for events (and takes the GIL to do so)."""
DEBOUNCE_MS = 50
"""Events closer together than this are delivered as one batch."""
TICK_MS = 1000
"""Period of the calls to followers that asked for a tick."""

OnChange = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True)
class Follow:
    """Call ``on_change`` when a file named one of ``names`` in ``directory`` changes."""

    directory: str
    names: frozenset[str]
    on_change: OnChange
    tick: bool = False
    label: str = ""


class FileWatch:
    """Followers of files, and the one ``awatch`` loop that serves them (:meth:`run`)."""

    def __init__(self) -> None:
        self._follows: list[Follow] = []

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

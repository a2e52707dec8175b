"""Which providers have a BYOK key in the vault: the only vault fact routing needs.

Routing asks "does the tenant have an openai key?" on every chat request, and the hot path
does no blocking I/O, so the answer is an in-memory ``frozenset`` kept fresh by
:meth:`ProviderKeyIndex.follow` (the server's file watcher on ``vault.json``, reading the
vault's metadata in a worker thread: no unlocking, no key decrypted) and refreshed directly by
the management API after it stores or removes a key.

A ``vault.json`` that exists but cannot be read (not a vault, modified, unreadable) is not
an empty vault: ``unreadable`` says why, and ``has`` then answers yes for every provider,
so requests that need a key go on to the key source, which reports the damage (503),
rather than being answered by the emulated model as if no key had ever been stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from behest_local.file_watch import FileWatch
from behest_local.vault.crypto import VaultError, VaultTampered
from behest_local.vault.entries import VAULT_FILE, read_entries

log = logging.getLogger("behest_local.vault.provider_keys")


class ProviderKeyIndex:
    """The set of provider names with a stored key."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.providers: frozenset[str] = frozenset()
        self.unreadable: str | None = None
        """Why ``vault.json`` cannot be read; None when it can (or there is none)."""
        self.generation = 0
        """Bumped by every refresh: readers of the vault re-read it only when this moved."""
        self._listeners: list[Callable[[], None]] = []
        self.refresh()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every refresh (on the refreshing thread: often a worker
        thread), so a reader (the TUI's header) need not poll; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners \
            else None

    def has(self, provider: str) -> bool:
        """Whether the vault may hold ``provider``'s key: it does, or it cannot be read."""
        return provider in self.providers or self.unreadable is not None

    def refresh(self) -> None:
        """Re-read the vault's metadata (blocking: call off the event loop, or at startup)."""
        try:
            self.providers = frozenset(e.provider for e in read_entries(self.home))
            self.unreadable = None
        except VaultTampered:
            self.unreadable = VaultTampered.WHY
        except (VaultError, OSError, ValueError, KeyError) as exc:
            self.unreadable = str(exc)
        if self.unreadable is not None:
            log.warning("the provider-key vault %s cannot be read (%s): requests that need a "
                        "provider key fail until it is restored or replaced", self.home /
                        VAULT_FILE, self.unreadable)
        self.generation += 1
        for listener in tuple(self._listeners):
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - a reader's failure is not the vault's
                log.warning("a provider-key index listener failed: %s: %s",
                            type(exc).__name__, exc)

    def follow(self, watch: FileWatch) -> None:
        """Refresh whenever ``vault.json`` changes while ``watch`` runs (the reading in a
        worker thread: it is blocking I/O)."""
        watch.follow(self.home, [VAULT_FILE], self._refresh_off_loop, label="provider-key index")

    async def _refresh_off_loop(self) -> None:
        await asyncio.to_thread(self.refresh)

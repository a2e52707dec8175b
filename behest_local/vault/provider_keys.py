"""Which providers have a BYOK key in the vault: the only vault fact routing needs.

Routing asks "does the tenant have an openai key?" on every chat request, and the hot path
does no blocking I/O, so the answer is an in-memory ``frozenset`` kept fresh by
:meth:`ProviderKeyIndex.follow` (the server's file watcher on ``vault.json``, reading the
vault's metadata in a worker thread: no unlocking, no key decrypted) and refreshed directly by
the management API after it stores or removes a key.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from behest_local.file_watch import FileWatch
from behest_local.vault.crypto import VaultError
from behest_local.vault.entries import VAULT_FILE, read_entries

log = logging.getLogger("behest_local.vault.provider_keys")


class ProviderKeyIndex:
    """The set of provider names with a stored key."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.providers: frozenset[str] = frozenset()
        self.generation = 0
        """Bumped by every refresh: readers of the vault re-read it only when this moved."""
        self.refresh()

    def has(self, provider: str) -> bool:
        return provider in self.providers

    def refresh(self) -> None:
        """Re-read the vault's metadata (blocking: call off the event loop, or at startup)."""
        try:
            self.providers = frozenset(e.provider for e in read_entries(self.home))
        except (VaultError, OSError, ValueError, KeyError) as exc:
            log.warning("cannot read which provider keys the vault holds: %s", exc)
        self.generation += 1

    def follow(self, watch: FileWatch) -> None:
        """Refresh whenever ``vault.json`` changes while ``watch`` runs (the reading in a
        worker thread: it is blocking I/O)."""
        watch.follow(self.home, [VAULT_FILE], self._refresh_off_loop, label="provider-key index")

    async def _refresh_off_loop(self) -> None:
        await asyncio.to_thread(self.refresh)

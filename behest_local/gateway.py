"""The gateway's long-lived state, built once by the runtime and shared by the app.

A ``Gateway`` bundles what request handling needs: the current ``Settings`` snapshot,
the API key store, the trace store and the provider registry. It lives on the aiohttp
application under ``server.app.GATEWAY`` (no module globals). Replacing ``settings``
swaps the snapshot atomically; each exchange keeps the one it started with.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from behest_local.config import Settings
from behest_local.keys import KeyStore
from behest_local.providers.base import ChatProvider
from behest_local.trace import TraceStore


@dataclass(slots=True)
class Gateway:
    settings: Settings
    keys: KeyStore
    store: TraceStore
    providers: dict[str, ChatProvider]
    home: Path
    streams: set[asyncio.Task] = field(default_factory=set)
    """Handler tasks currently relaying a stream; closed first at shutdown."""
    closing: bool = False

    def provider(self, name: str) -> ChatProvider:
        return self.providers[name]

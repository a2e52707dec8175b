"""The gateway's long-lived state, built once by the runtime and shared by the app.

A ``Gateway`` bundles what request handling needs: the current ``Settings`` snapshot,
the API key store, the trace store and the provider registry, plus the control plane's
state: the live configuration (``reload.LiveConfig``, which replaces ``settings`` on every
reload or deploy), which providers have a vault key, the dashboard token, the admin secret
and the kill switches. It lives on the aiohttp application under ``server.keys.GATEWAY``
(no module globals). Replacing
``settings`` swaps the snapshot atomically; each exchange keeps the one it started with.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from behest_local.config import Settings
from behest_local.identity.admin_secret import AdminSecret
from behest_local.identity.dashboard_token import DashboardTokens
from behest_local.policy.kill_switches import KillSwitches
from behest_local.identity.api_keys import KeyStore
from behest_local.vault.provider_keys import ProviderKeyIndex
from behest_local.providers.base import ChatProvider
from behest_local.providers.http import HttpPool
from behest_local.config.reload import LiveConfig
from behest_local.exchange.bus import TraceStore


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
    live: LiveConfig | None = None
    """The configuration layers behind ``settings`` and their reloading."""
    provider_keys: ProviderKeyIndex | None = None
    """Which providers have a BYOK key (routing asks on every chat request)."""
    dashboard: DashboardTokens | None = None
    """The management API's credential."""
    admin: AdminSecret | None = None
    """The admin kill-switch API's credential (``X-Admin-Secret``)."""
    kills: KillSwitches | None = None
    """The killed projects and providers, checked on every data-plane request."""
    http: HttpPool = field(default_factory=HttpPool)
    """The pooled client session every upstream request goes through."""
    vault: object | None = None
    """The unlocked provider-key vault (``vault.Vault``), or None when it stays locked."""

    def provider(self, name: str) -> ChatProvider:
        return self.providers[name]

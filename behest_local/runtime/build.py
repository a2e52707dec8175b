"""Assemble the gateway's state from the configuration: the first step of every start.

``ServeOptions`` holds what the command line says; ``find_config`` and ``load_settings``
locate and load ``behest.toml``; ``build_gateway`` assembles the shared state (settings
and their layers, key store, trace store, providers, provider-key index, dashboard token,
admin secret, kill switches) that ``running.start`` binds and the tests build directly.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path


from behest_local.config import Settings
from behest_local.identity.admin_secret import AdminSecret
from behest_local.identity.dashboard_token import DashboardTokens
from behest_local.policy.kill_switches import KillStateError, KillSwitches
from behest_local.server.gateway import Gateway
from behest_local.identity.api_keys import KeyStore
from behest_local.vault.provider_keys import ProviderKeyIndex
from behest_local.providers.catalog import build_upstreams
from behest_local.providers.emulated.provider import EmulatedProvider
from behest_local.config.reload import Flags, LiveConfig
from behest_local.policy.routing import EMULATED
from behest_local.secret import Secret
from behest_local.exchange.bus import TraceStore
from behest_local.errors import UpstreamError
from behest_local.vault.entries import VAULT_FILE
from behest_local.vault.store import (PASSPHRASE_ENV, Vault, VaultError, VaultLocked,
                                      VaultTampered)

log = logging.getLogger("behest_local")
CONFIG_ENV = "BEHEST_CONFIG"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    home: Path
    config_path: Path | None = None
    host: str | None = None
    port: int | None = None
    allow_remote: bool = False
    headless: bool = False
    max_body_bytes: int | None = None
    loop: str = "auto"
    """The event loop: ``auto`` (uvloop when installed), ``asyncio`` or ``uvloop``."""


class StartupError(Exception):
    """Something the user must fix before the gateway can start; printed without a trace."""


def find_config(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path("behest.toml")
    return local if local.is_file() else None


def live_config(options: ServeOptions, settings: Settings | None = None) -> LiveConfig:
    """The configuration layers for ``options``: ``settings`` (else ``behest.toml`` or the
    embedded default), the deployed layer in the state dir, the command-line flags."""
    flags = Flags(host=options.host, port=options.port, max_body_bytes=options.max_body_bytes)
    return LiveConfig(options.home, path=options.config_path, flags=flags, base=settings)


def load_settings(options: ServeOptions) -> Settings:
    """The effective settings for ``options`` (raises ConfigError)."""
    return live_config(options).settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_gateway(settings: Settings, home: Path, *, store: TraceStore | None = None,
                  keys: KeyStore | None = None, live: LiveConfig | None = None) -> Gateway:
    """The gateway's state. ``settings`` is the base layer (``behest.toml`` and flags) when
    ``live`` is not given; the deployed layer of ``home`` goes on top either way."""
    live = live or LiveConfig(home, base=settings)
    gateway = Gateway(settings=live.settings, keys=keys or KeyStore(home),
                      store=store or TraceStore(), providers={}, home=home,
                      live=live, provider_keys=ProviderKeyIndex(home),
                      dashboard=DashboardTokens(home), admin=AdminSecret(home),
                      kills=_kill_switches(home, live))
    gateway.providers = {EMULATED: EmulatedProvider(live.settings.emulator,
                                                      fixtures_dir=home / "fixtures"),
                         **build_upstreams(live.settings, gateway.http, _key_source(gateway))}
    live.on_change = lambda new: _apply_settings(gateway, new)
    return gateway


def _kill_switches(home: Path, live: LiveConfig) -> KillSwitches:
    """The kill switches in force; a damaged state file stops the start (a killed project
    must not come back to life because its record broke)."""
    try:
        return KillSwitches(home, publish=live.publish)
    except KillStateError as exc:
        raise StartupError(f"kill switches: {exc}") from None


def _key_source(gateway: Gateway):
    """Reads a provider key from the vault at request time, for that one request.

    The hot path does no blocking I/O: the provider-key index (kept fresh by its watcher
    and by the management API) says whether a key exists at all, and the vault file is
    re-read only when the index saw it change (its ``generation`` moved). The vault is
    opened on first need; the key is decrypted per request and not kept.

    A vault that cannot give the key fails the request with 503 (``_vault_failure``): the
    fault is the gateway's own state, not the request, and it clears without a restart
    once the user fixes the vault (the index follows ``vault.json``), so a retrying client
    may well succeed. Never the emulated model in the key's place.
    """
    seen = [-1]

    def key_for(provider: str) -> Secret | None:
        index = gateway.provider_keys
        if index is not None:
            if index.unreadable is not None:
                raise _vault_failure(gateway.home, provider, index.unreadable)
            if not index.has(provider):
                return None
        vault = gateway.vault
        try:
            if vault is None:
                vault = gateway.vault = Vault.open(gateway.home)
                seen[0] = index.generation if index is not None else -1
            elif index is None or index.generation != seen[0]:
                vault.reload()
                seen[0] = index.generation if index is not None else -1
        except VaultLocked:
            raise UpstreamError(
                "The provider-key vault is sealed with a passphrase: start behest-local "
                f"with {PASSPHRASE_ENV} set to use your {provider} key.", status=503,
                type="server_error", code="vault_locked") from None
        except VaultTampered:
            raise _vault_failure(gateway.home, provider, VaultTampered.WHY) from None
        except VaultError as exc:
            raise UpstreamError(f"The provider-key vault cannot be opened: {exc}", status=503,
                                code="vault_error") from None
        try:
            return vault.get(provider, reload=False)
        except VaultTampered:  # this one key: the others may be sound
            raise UpstreamError(
                f"The {provider} key in the provider-key vault ({gateway.home / VAULT_FILE}) "
                f"{VaultTampered.WHY}. Store it again with `behest-local vault set "
                f"{provider}`.", status=503, code="vault_damaged") from None
    return key_for


def _vault_failure(home: Path, provider: str, why: str) -> UpstreamError:
    """The 503 for a request that needs ``provider``'s key when the vault file cannot be
    read or unlocked as a whole (``why``)."""
    return UpstreamError(
        f"The {provider} key cannot be read: the provider-key vault {home / VAULT_FILE} "
        f"{why}. Restore vault.json from a backup, or move it aside and store your keys "
        f"again with `behest-local vault set {provider}`.", status=503, code="vault_damaged")


def _apply_settings(gateway: Gateway, settings: Settings) -> None:
    """A reload or deploy: swap the snapshot (exchanges in flight keep theirs)."""
    providers = dict(gateway.providers)
    if settings.emulator != gateway.settings.emulator:
        providers[EMULATED] = EmulatedProvider(settings.emulator,
                                               fixtures_dir=gateway.home / "fixtures")
    if settings.providers != gateway.settings.providers:
        providers.update(build_upstreams(settings, gateway.http, _key_source(gateway)))
    gateway.providers = providers
    gateway.settings = settings

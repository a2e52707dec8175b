"""The composition root: build the gateway, serve it, shut it down cleanly.

``build_gateway`` assembles state (settings and their layers, key store, trace store,
providers, provider-key index, dashboard token); ``serve`` binds the aiohttp app on
loopback with an ``AppRunner`` (so the TUI can later share the same event loop), prints
the banner, subscribes the headless logger, keeps the key store watching for keys made
by other processes, and waits for Ctrl-C or SIGTERM. ``start`` also runs the watchers of
the configuration (``reload.LiveConfig``) and of the vault's provider keys, whatever the
front end; ``RunningGateway.close`` stops them.
Shutdown closes in-flight streams with a final error event, then the listener.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from behest_local import __version__
from behest_local.config import Settings
from behest_local.dashboard import DashboardTokens
from behest_local.gateway import Gateway
from behest_local.headless import LineLogger
from behest_local.keys import KeyStore
from behest_local.provider_keys import ProviderKeyIndex
from behest_local.providers.catalog import build_upstreams
from behest_local.providers.emulated.provider import EmulatedProvider
from behest_local.reload import Flags, LiveConfig
from behest_local.routing import EMULATED
from behest_local.secret import Secret
from behest_local.server.app import make_app
from behest_local.server.limits import rpm_gauges
from behest_local.trace import TraceStore
from behest_local.trace_db import TraceDB
from behest_local.errors import UpstreamError
from behest_local.vault import PASSPHRASE_ENV, Vault, VaultError, VaultLocked

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
                      dashboard=DashboardTokens(home))
    gateway.providers = {EMULATED: EmulatedProvider(live.settings.emulator,
                                                      fixtures_dir=home / "fixtures"),
                         **build_upstreams(live.settings, gateway.http, _key_source(gateway))}
    live.on_change = lambda new: _apply_settings(gateway, new)
    return gateway


def _key_source(gateway: Gateway):
    """Reads a provider key from the vault at request time, for that one request.

    The vault is opened on first need (the routing layer only picks a real provider when
    the vault lists a key for it) and re-read when another process changed it (a stat,
    no read, when it did not), so ``behest-local vault set`` reaches a running gateway.
    """
    def key_for(provider: str) -> Secret | None:
        vault = gateway.vault
        if vault is None:
            try:
                vault = gateway.vault = Vault.open(gateway.home)
            except VaultLocked:
                raise UpstreamError(
                    "The provider-key vault is sealed with a passphrase: start behest-local "
                    f"with {PASSPHRASE_ENV} set to use your {provider} key.", status=503,
                    type="server_error", code="vault_locked") from None
            except VaultError as exc:
                raise UpstreamError(f"The provider-key vault cannot be opened: {exc}",
                                    status=500, code="vault_error") from None
        else:
            vault.reload()
        return vault.get(provider)
    return key_for


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


@dataclass(slots=True)
class RunningGateway:
    """A started gateway: its state, the bound port, and how to stop it."""

    gateway: Gateway
    runner: web.AppRunner
    host: str
    port: int
    watchers: list[asyncio.Task] = field(default_factory=list)
    """Configuration and provider-key watchers, started with the gateway, stopped by close."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def watch(self) -> None:
        """Apply saved edits of behest.toml, deploys and vault changes while running (any
        front end: headless or the TUI)."""
        gateway = self.gateway
        self.watchers += [
            asyncio.create_task(gateway.live.watch(self.stopping),
                                name="behest-local config watcher"),
            asyncio.create_task(gateway.provider_keys.watch(self.stopping),
                                name="behest-local provider-key watcher"),
            asyncio.create_task(gateway.keys.watch(self.stopping),
                                name="behest-local API-key watcher")]

    async def close(self) -> None:
        self.stopping.set()
        await self.runner.cleanup()
        for watcher in self.watchers:
            watcher.cancel()
        await asyncio.gather(*self.watchers, return_exceptions=True)


async def start(options: ServeOptions, *, settings: Settings | None = None) -> RunningGateway:
    """Build the gateway and bind it. Raises ``StartupError`` for what the user must fix."""
    live = live_config(options, settings)
    settings = live.settings
    host = settings.server.host
    if not is_loopback(host) and not options.allow_remote:
        raise StartupError(
            f"refusing to bind {host}: behest-local listens on loopback only. Pass "
            "--allow-remote to expose it to other machines (anyone who can reach the port "
            "can then use your provider keys).")
    gateway = build_gateway(settings, options.home, live=live)
    app = make_app(gateway)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=3)
    await runner.setup()
    site = web.TCPSite(runner, host, settings.server.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen on {host}:{settings.server.port}: {exc.strerror}. "
                           "Choose another port with --port (0 picks a free one).") from None
    running = RunningGateway(gateway, runner, host, runner.addresses[0][1])
    running.watch()
    return running


async def serve(options: ServeOptions) -> int:
    """Run until Ctrl-C or SIGTERM (or ``q`` in the TUI): the ``behest-local serve`` command.

    The TUI is the front end when stdout is a terminal and ``--headless`` was not given;
    otherwise one log line per request. Either way exchanges persist to the trace store.
    """
    running = await start(options)
    gateway = running.gateway
    db = TraceDB.open(options.home)
    gateway.store.subscribe(db.subscriber)
    use_tui = not options.headless and sys.stdout.isatty()
    lines = banner_lines(gateway, running.url)
    print("\n".join(lines), flush=True)  # stays in the scrollback after the TUI exits
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        if use_tui:
            from behest_local.tui import run_tui  # deferred: headless never loads Textual

            await run_tui(running, db=db, notices=(),
                          limits=lambda: rpm_gauges(running.runner.app))
        else:
            gateway.store.subscribe(LineLogger())
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        print("behest-local: shutting down", flush=True)
        if not use_tui:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        await running.close()
        await asyncio.to_thread(db.close)
    return 0


def banner_lines(gateway: Gateway, url: str) -> list[str]:
    """What ``serve`` prints first: URL, config, state dir, each project's key hint."""
    lines = [f"behest-local {__version__} listening on {url}",
             f"  config: {gateway.settings.source}   state: {gateway.home}"]
    for project in gateway.settings.projects:
        active = gateway.keys.list(project.id)
        if active:
            newest = active[-1]
            lines.append(f"  project {project.id}: API key {newest.prefix}… "
                         f"({len(active)} active; `behest-local keys list`)")
        elif sys.stdout.isatty():
            key, _record = gateway.keys.create(project.id)
            lines.append(f"  project {project.id}: new API key (shown once, save it): {key}")
        else:
            lines.append(f"  project {project.id}: no API key yet: run "
                         f"`behest-local keys create --project {project.id}`")
    lines.append(f"  tenant {gateway.settings.tenant.id} ({gateway.settings.tenant.plan} plan); "
                 "management API token: `behest-local dashboard-token`")
    lines.append(f"  OpenAI base URL: {url}/v1   (Ctrl-C to stop)")
    return lines

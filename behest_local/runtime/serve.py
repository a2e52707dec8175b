"""The composition root: build the gateway, serve it, shut it down cleanly.

``build_gateway`` assembles state (settings and their layers, key store, trace store,
providers, provider-key index, dashboard token); ``serve`` binds the aiohttp app on
loopback with an ``AppRunner`` (so the TUI can later share the same event loop), prints
the banner, subscribes the headless logger, keeps the key store watching for keys made
by other processes, and waits for Ctrl-C or SIGTERM. ``start`` also runs the file
watcher (``file_watch.py``: the configuration, the vault's provider keys, the API keys),
whatever the front end; ``RunningGateway.close`` stops it. What the first requests do not
need (the watcher's imports, the emulator's composer, unlocking the vault) is done in a
worker thread once the port is bound, so the gateway answers sooner; ``serve`` then
freezes the startup heap and leaves full collections for idle moments
(``runtime/gc_schedule.py``). ``run`` is the command: ``serve`` on uvloop when it is installed
(or as ``--loop`` says), the TUI included, since it shares the loop.
Shutdown closes in-flight streams with a final error event, then the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from behest_local import __version__
from behest_local.identity.jwt.platform_key import PLATFORM_FILE
from behest_local.config import Settings
from behest_local.identity.dashboard_token import DashboardTokens
from behest_local.file_watch import FileWatch
from behest_local.runtime.gc_schedule import CollectorSchedule
from behest_local.server.gateway import Gateway
from behest_local.observe.headless import LineLogger
from behest_local.identity.api_keys import KeyStore
from behest_local.vault.provider_keys import ProviderKeyIndex
from behest_local.providers.catalog import build_upstreams
from behest_local.providers.emulated.provider import EmulatedProvider
from behest_local.config.reload import Flags, LiveConfig
from behest_local.policy.routing import EMULATED
from behest_local.secret import Secret
from behest_local.identity.signing_keys import SIGNING_KEYS_FILE
from behest_local.server.app import make_app
from behest_local.server.admission.limits import rpm_gauges
from behest_local.exchange.bus import TraceStore
from behest_local.observe.trace_db import TraceDB
from behest_local.errors import UpstreamError
from behest_local.vault.store import PASSPHRASE_ENV, Vault, VaultError, VaultLocked

log = logging.getLogger("behest_local")
CONFIG_ENV = "BEHEST_CONFIG"
WATCHER_MODULES = ("watchfiles", "anyio._backends._asyncio")
"""What the watchers import when they start (``RunningGateway.watch`` imports them first)."""
WARM_MODULES = ("behest_local.providers.emulated.composer",
                "cryptography.hazmat.primitives.kdf.scrypt")  # API-key checks (keys.py)
"""Imported where they are used, at the first request; warmed after the port is bound."""
JWT_KEY_FILES = (PLATFORM_FILE, SIGNING_KEYS_FILE)
LISTEN_BACKLOG = 4096
"""Pending connections the listening socket queues (``listen(2)``; the kernel caps it at
``net.core.somaxconn``). aiohttp's default, 128, drops a burst of new connections."""
"""When the state dir holds one, JWTs are likely: PyJWT is warmed too (else it loads at the
first JWT or mint)."""


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
                      dashboard=DashboardTokens(home))
    gateway.providers = {EMULATED: EmulatedProvider(live.settings.emulator,
                                                      fixtures_dir=home / "fixtures"),
                         **build_upstreams(live.settings, gateway.http, _key_source(gateway))}
    live.on_change = lambda new: _apply_settings(gateway, new)
    return gateway


def _key_source(gateway: Gateway):
    """Reads a provider key from the vault at request time, for that one request.

    The hot path does no blocking I/O: the provider-key index (kept fresh by its watcher
    and by the management API) says whether a key exists at all, and the vault file is
    re-read only when the index saw it change (its ``generation`` moved). The vault is
    opened on first need; the key is decrypted per request and not kept.
    """
    seen = [-1]

    def key_for(provider: str) -> Secret | None:
        index = gateway.provider_keys
        if index is not None and not index.has(provider):
            return None
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
            seen[0] = index.generation if index is not None else -1
        elif index is None or index.generation != seen[0]:
            vault.reload()
            seen[0] = index.generation if index is not None else -1
        return vault.get(provider, reload=False)
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
    """The file watcher's task (and the task that starts it after warming its imports),
    started with the gateway, stopped by close."""
    files: FileWatch = field(default_factory=FileWatch)
    """What the file watcher follows: the config files, the vault, the API keys."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    after_warm_up: Callable[[], None] | None = None
    """Called on the loop once the warm-up is done (``serve`` freezes the heap then)."""

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def watch(self) -> None:
        """Apply saved edits of behest.toml, deploys and vault changes while running (any
        front end: headless or the TUI). The watchers start once their imports are done,
        off the loop (``_warm_up_and_watch``)."""
        self.watchers.append(asyncio.create_task(self._warm_up_and_watch(),
                                                 name="behest-local warm-up"))

    async def _warm_up_and_watch(self) -> None:
        # Importing watchfiles (and the anyio backend its first ``awatch`` loads) takes
        # ~50-100 ms of CPU, and so do the emulator's reply composer modules: done in a
        # worker thread once the port is bound, so the loop answers the first requests
        # meanwhile instead of blocking on the imports. The vault is unlocked likewise.
        await asyncio.to_thread(_import, WATCHER_MODULES)
        gateway = self.gateway
        # One watcher thread for all of them (file_watch.py says why).
        gateway.live.follow(self.files)
        gateway.provider_keys.follow(self.files)
        gateway.keys.follow(self.files)
        self.watchers.append(asyncio.create_task(self.files.run(self.stopping),
                                                 name="behest-local file watcher"))
        await self._open_vault()
        await asyncio.to_thread(_warm, gateway.home)
        if self.after_warm_up is not None:
            self.after_warm_up()

    async def _open_vault(self) -> None:
        """Unlock the provider-key vault now, in a worker thread, if it holds keys: unlocking
        may run scrypt (~170 ms for a passphrase vault; scrypt releases the GIL) and loads
        the crypto library, which would otherwise happen on the event loop, in the first
        request that needs a provider key (``_key_source``)."""
        gateway = self.gateway
        if gateway.vault is not None or gateway.provider_keys is None or \
                not gateway.provider_keys.providers:
            return  # no vault yet: opening it would create one
        try:
            vault = await asyncio.to_thread(Vault.open, gateway.home)
        except (VaultError, OSError):
            return  # locked or broken: the first request that needs a key reports it
        if gateway.vault is None:  # a request may have opened it meanwhile
            gateway.vault = vault

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
    # aiohttp's default accept backlog is 128: a burst of new connections beyond it (a load
    # test, a page opening many streams) has its SYNs dropped and retried a second later.
    # The kernel caps the value at net.core.somaxconn.
    site = web.TCPSite(runner, host, settings.server.port, backlog=LISTEN_BACKLOG)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen on {host}:{settings.server.port}: {exc.strerror}. "
                           "Choose another port with --port (0 picks a free one).") from None
    running = RunningGateway(gateway, runner, host, runner.addresses[0][1])
    running.watch()
    return running


def _import(modules: tuple[str, ...]) -> None:
    """Import ``modules`` (in a worker thread); a missing one is only a warm-up miss."""
    for name in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _warm(home: Path) -> None:
    """Import ``WARM_MODULES`` (in a worker thread), and PyJWT if JWT keys exist."""
    jwt_likely = any((Path(home) / name).exists() for name in JWT_KEY_FILES)
    _import(WARM_MODULES + (("jwt",) if jwt_likely else ()))


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
    """
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
        except BaseException:
            await running.close()
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
    logger = None if use_tui else LineLogger(batch=0.05)
    try:
        if not use_tui:  # before the banner: a script that waits for it may signal at once
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        lines = banner_lines(gateway, running.url, loop=loop_name(loop))
        print("\n".join(lines), flush=True)  # stays in the scrollback after the TUI exits
        if use_tui:
            from behest_local.runtime.tui import run_tui  # deferred: headless never loads Textual

            await run_tui(running, db=db, notices=(),
                          limits=lambda: rpm_gauges(running.runner.app))
        else:
            gateway.store.subscribe(logger, events=logger.EVENTS)
            await stop.wait()
    finally:
        if logger is not None:
            logger.flush()
        print("behest-local: shutting down", flush=True)
        if not use_tui:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        collector.stop()
        await running.close()
        if logger is not None:
            logger.close()  # the lines of the requests that ended while closing
        await asyncio.to_thread(db.close)
    return 0


def banner_lines(gateway: Gateway, url: str, *, loop: str | None = None) -> list[str]:
    """What ``serve`` prints first: URL, config, state dir, the event loop (``loop``),
    each project's key hint."""
    lines = [f"behest-local {__version__} listening on {url}",
             f"  config: {gateway.settings.source}   state: {gateway.home}"]
    if loop is not None:
        lines.append(f"  event loop: {loop} (serve --loop auto|asyncio|uvloop)")
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

"""A gateway bound to its port: ``start`` binds it, ``RunningGateway`` runs and stops it.

``start`` binds the aiohttp app on loopback with an ``AppRunner`` (so the TUI can share
the same event loop) and runs the file watcher (``file_watch.py``: the configuration, the
vault's provider keys, the API keys), whatever the front end; ``RunningGateway.close``
stops it. What the first requests do not need (the watcher's imports, the emulator's
composer, unlocking the vault) is done in a worker thread once the port is bound, so the
gateway answers sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from behest_local.atomic import remove_strays
from behest_local.identity.jwt.platform_key import PLATFORM_FILE
from behest_local.config import Settings
from behest_local.file_watch import FileWatch, backend_modules
from behest_local.server.gateway import Gateway
from behest_local.identity.signing_keys import SIGNING_KEYS_FILE
from behest_local.server.app import make_app
from behest_local.server.routes.batches import resume as resume_batches
from behest_local.server.wire import GatewayRunner
from behest_local.vault.store import Vault, VaultError
from behest_local.runtime.build import (ServeOptions, StartupError, build_gateway, is_loopback,
                                        live_config)

log = logging.getLogger("behest_local")
WARM_MODULES = ("behest_local.providers.emulated.composer",)
"""Imported where they are used, at the first request; warmed after the port is bound."""
JWT_KEY_FILES = (PLATFORM_FILE, SIGNING_KEYS_FILE)
"""When the state dir holds one, JWTs are likely: PyJWT is warmed too (else it loads at the
first JWT or mint)."""
LISTEN_BACKLOG = 4096
"""Pending connections the listening socket queues (``listen(2)``; the kernel caps it at
``net.core.somaxconn``). aiohttp's default, 128, drops a burst of new connections."""


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
        # The watcher's imports (ctypes for inotify; elsewhere watchfiles and the anyio
        # backend its first ``awatch`` loads, ~50-100 ms of CPU) and the emulator's reply
        # composer modules are imported in a worker thread once the port is bound, so the
        # loop answers the first requests meanwhile instead of blocking on the imports.
        # The vault is unlocked likewise.
        await asyncio.to_thread(lambda: _import(backend_modules()))
        gateway = self.gateway
        # One watcher for all of them (file_watch.py).
        gateway.live.follow(self.files)
        gateway.provider_keys.follow(self.files)
        gateway.keys.follow(self.files)
        gateway.kills.follow(self.files)
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
    strays = remove_strays(options.home)  # before anything reads the state dir
    if strays:
        log.info("removed %d stray temp file%s left by interrupted writes: %s", len(strays),
                 "s" if len(strays) > 1 else "", ", ".join(p.name for p in strays))
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
    # The request-head deadline is aiohttp's keep-alive timer (its default, 3630 s, would
    # let a client that never finishes a head hold its connection for an hour). Since
    # aiohttp 3.14 the timer is armed when a connection opens and again when a response
    # ends, and arriving bytes do not re-arm it: it fires unless a complete head was parsed
    # in time, so a head dripped a byte at a time is cut at the same moment as silence.
    # It never touches a request being answered (tests/hardening/test_limits_head_deadline.py).
    # GatewayRunner: aiohttp's AppRunner, but a request that does not parse gets OpenAI's
    # error JSON and is never quoted in the answer or the log (server/wire.py).
    # handler_cancellation: a client that disconnects cancels its handler (aiohttp's
    # default leaves it running), so a request waiting on an upstream, or on a stream's
    # next event, closes that upstream connection at once instead of holding it until the
    # upstream answers or times out (issue 17). The relay and the middleware record it
    # as the client's cancellation (499); the control plane is shielded (middleware.py).
    runner = GatewayRunner(app, access_log=None, handle_signals=False, shutdown_timeout=3,
                           keepalive_timeout=settings.server.header_timeout_s,
                           handler_cancellation=True)
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
    # Batches send their lines to this address; those a restart interrupted go on now.
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host)
    resume_batches(app, f"http://{wildcard}:{running.port}" if wildcard else running.url)
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

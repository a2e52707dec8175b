"""The composition root: build the gateway, serve it, shut it down cleanly.

``build_gateway`` assembles state (settings, key store, trace store, providers);
``serve`` binds the aiohttp app on loopback with an ``AppRunner`` (so the TUI can later
share the same event loop), prints the banner, subscribes the headless logger, keeps the
key store watching for keys made by other processes, and waits for Ctrl-C or SIGTERM.
Shutdown closes in-flight streams with a final error event, then the listener.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from behest_local import __version__, config
from behest_local.config import Settings
from behest_local.gateway import Gateway
from behest_local.headless import LineLogger
from behest_local.keys import KeyStore
from behest_local.providers.emulated.provider import EmulatedProvider
from behest_local.routing import EMULATED
from behest_local.server.app import make_app
from behest_local.trace import TraceStore

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


def load_settings(options: ServeOptions) -> Settings:
    settings = config.load(options.config_path) if options.config_path else Settings()
    server = settings.server
    if options.host is not None:
        server = replace(server, host=options.host)
    if options.port is not None:
        server = replace(server, port=options.port)
    if options.max_body_bytes is not None:
        server = replace(server, max_body_bytes=options.max_body_bytes)
    return replace(settings, server=server)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_gateway(settings: Settings, home: Path, *, store: TraceStore | None = None,
                  keys: KeyStore | None = None) -> Gateway:
    return Gateway(settings=settings, keys=keys or KeyStore(home), store=store or TraceStore(),
                   providers={EMULATED: EmulatedProvider(settings.emulator)}, home=home)


@dataclass(slots=True)
class RunningGateway:
    """A started gateway: its state, the bound port, and how to stop it."""

    gateway: Gateway
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start(options: ServeOptions, *, settings: Settings | None = None) -> RunningGateway:
    """Build the gateway and bind it. Raises ``StartupError`` for what the user must fix."""
    settings = settings or load_settings(options)
    host = settings.server.host
    if not is_loopback(host) and not options.allow_remote:
        raise StartupError(
            f"refusing to bind {host}: behest-local listens on loopback only. Pass "
            "--allow-remote to expose it to other machines (anyone who can reach the port "
            "can then use your provider keys).")
    gateway = build_gateway(settings, options.home)
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
    return RunningGateway(gateway, runner, host, runner.addresses[0][1])


async def serve(options: ServeOptions) -> int:
    """Run until Ctrl-C or SIGTERM: the ``behest-local serve`` command."""
    running = await start(options)
    gateway = running.gateway
    gateway.store.subscribe(LineLogger())
    _banner(gateway, running.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(gateway.keys.watch(stop), name="behest-local keys watcher")
    try:
        await stop.wait()
    finally:
        print("behest-local: shutting down", flush=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await running.close()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    return 0


def _banner(gateway: Gateway, url: str) -> None:
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
    lines.append(f"  OpenAI base URL: {url}/v1   (Ctrl-C to stop)")
    print("\n".join(lines), flush=True)

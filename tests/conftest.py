"""Shared fixtures: an isolated state dir, and a live gateway on an ephemeral port.

``live`` runs the real gateway (``runtime.start``, the code path ``behest-local serve``
uses) in a background thread with its own event loop, so both the synchronous and the
asynchronous openai clients can talk to it over real sockets. ``gateway_client`` is the
in-loop alternative for raw-HTTP tests (pytest-aiohttp's ``aiohttp_client``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from behest_local.config import EmulatorConfig, ProjectConfig, ServerConfig, Settings
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished, TraceEvent
from behest_local.exchange.exchange import Exchange
from behest_local.identity.api_keys import KeyStore
from behest_local.runtime.build import ServeOptions, build_gateway
from behest_local.runtime.running import start
from behest_local.server.app import make_app

TEST_SETTINGS = Settings(
    server=ServerConfig(port=0, max_body_bytes=1024 * 1024),
    # Counted and reported, never refused: the suite shares one live gateway and one
    # loopback IP. Limit tests turn enforcement on (tests/server/test_limits.py).
    emulator=EmulatorConfig(enforce_limits=False),
    projects=(ProjectConfig(name="local", id="local"),
              ProjectConfig(name="prompted", id="prompted", provider_model="gpt-4o-mini",
                            system_prompt="You are terse.")),
    source="tests",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read or write the developer's real state dir or behest.toml."""
    home = tmp_path / "home"
    monkeypatch.setenv("BEHEST_LOCAL_HOME", str(home))
    monkeypatch.delenv("BEHEST_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


class Recorder:
    """A trace subscriber that keeps every event and signals finished exchanges."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []
        self.ended: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, event: TraceEvent, exchange: Exchange) -> None:
        with self._lock:
            self.events.append(event)
            flag = self.ended.setdefault(event.exchange_id, threading.Event())
        if isinstance(event, (ExchangeFinished, ExchangeFailed)):
            flag.set()

    def wait_end(self, exchange_id: str, timeout: float = 5) -> list[TraceEvent]:
        with self._lock:
            flag = self.ended.setdefault(exchange_id, threading.Event())
        assert flag.wait(timeout), f"exchange {exchange_id} never finished"
        with self._lock:
            return [e for e in self.events if e.exchange_id == exchange_id]


@dataclass
class Live:
    url: str
    key: str
    prompted_key: str
    recorder: Recorder
    gateway: object
    loop: asyncio.AbstractEventLoop

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("live-home")
    loop = asyncio.new_event_loop()
    started: dict = {}
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            running = await start(ServeOptions(home=home), settings=TEST_SETTINGS)
            started["running"] = running
            ready.set()

        loop.run_until_complete(boot())
        loop.run_forever()

    thread = threading.Thread(target=run, name="live-gateway", daemon=True)
    thread.start()
    assert ready.wait(15), "gateway did not start"
    running = started["running"]
    recorder = Recorder()
    running.gateway.store.subscribe(recorder)
    key, _ = running.gateway.keys.create("local")
    prompted_key, _ = running.gateway.keys.create("prompted")
    yield Live(running.url, key, prompted_key, recorder, running.gateway, loop)
    asyncio.run_coroutine_threadsafe(running.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def settings() -> Settings:
    return TEST_SETTINGS


@pytest.fixture
async def gateway_client(aiohttp_client, tmp_path: Path, settings: Settings):
    """An in-loop test client of ``make_app``, with one API key for project ``local``."""
    keys = KeyStore(tmp_path / "gw-home", scrypt_n=2**4)
    gateway = build_gateway(settings, tmp_path / "gw-home", keys=keys)
    client = await aiohttp_client(make_app(gateway))
    key, _ = keys.create("local")
    client.headers_auth = {"Authorization": f"Bearer {key}"}
    client.gateway = gateway
    return client


def with_settings(**changes) -> Settings:
    return replace(TEST_SETTINGS, **changes)


@pytest.fixture
def make_gateway_client(aiohttp_client, tmp_path: Path):
    """``await make_gateway_client(settings, home=…)``: an in-loop client of a gateway built
    from ``settings``, with ``.key`` (project ``local``) and ``.dash`` (dashboard token)
    authorization headers. A second client on the same ``home`` is a restarted gateway."""

    async def make(settings: Settings = TEST_SETTINGS, *, home: Path | None = None):
        home = home or tmp_path / "gw-home"
        keys = KeyStore(home, scrypt_n=2**4)
        gateway = build_gateway(settings, home, keys=keys)
        client = await aiohttp_client(make_app(gateway))
        key, _ = keys.create("local")
        client.gateway = gateway
        client.key = {"Authorization": f"Bearer {key}"}
        client.dash = {"Authorization": f"Bearer {gateway.dashboard.create()}"}
        return client

    return make


async def poll_until(predicate, timeout: float = 5.0) -> None:
    """Until ``predicate()`` holds (checked every 10 ms), or fail after ``timeout`` s: for
    what another thread or process brings about (a file watcher's reload, say)."""
    async def poll():
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)

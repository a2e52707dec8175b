"""runtime: the event loop ``serve`` runs on (``--loop``), and the work it does only once
the port is bound (watcher imports, the emulator's composer, unlocking the vault).

The end-to-end check that ``behest-local serve --loop …`` answers on that loop and says
so in its banner is in tests/e2e/test_cli.py.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import aiohttp
import pytest
import uvloop

from behest_local.runtime import running as running_module, serve as runtime
from behest_local.runtime.build import ServeOptions, StartupError
from behest_local.runtime.serve import loop_factory, loop_name
from behest_local.runtime.running import start
from behest_local.vault.store import Vault
from tests.conftest import TEST_SETTINGS
from tests.trace_support import start_gateway

OPENAI_KEY = "sk-proj-LOOPTEST" + "ab" * 20


def test_loop_factory_follows_the_choice():
    assert loop_factory("asyncio") is None
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("auto") is uvloop.new_event_loop  # installed here


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_startup_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes ``import uvloop`` fail
    assert loop_factory("auto") is None
    with pytest.raises(StartupError, match="uvloop is not installed"):
        loop_factory("uvloop")


def test_loop_name():
    for factory, name in ((asyncio.new_event_loop, "asyncio"), (uvloop.new_event_loop, "uvloop")):
        loop = factory()
        try:
            assert loop_name(loop) == name
        finally:
            loop.close()


def test_banner_names_the_loop(tmp_path):
    from behest_local.runtime.serve import banner_lines
    from behest_local.runtime.build import build_gateway

    gateway = build_gateway(TEST_SETTINGS, tmp_path)
    lines = banner_lines(gateway, "http://127.0.0.1:1", loop="uvloop")
    assert lines[0].endswith("listening on http://127.0.0.1:1")  # scripts parse this line
    assert "  event loop: uvloop (serve --loop auto|asyncio|uvloop)" in lines


def test_the_tui_runs_on_uvloop_alongside_the_gateway(tmp_path):
    """``serve`` runs the TUI in its own loop, so on uvloop the TUI does too."""
    from behest_local.tui.app import BehestApp
    from behest_local.runtime.tui import run_tui

    async def scenario() -> tuple[str, int, int]:
        running, key = await start_gateway(tmp_path / "home", TEST_SETTINGS)
        mounted = asyncio.Event()

        class Watched(BehestApp):
            def on_mount(self) -> None:
                super().on_mount()
                mounted.set()

        app = Watched(running.gateway.store, url=running.url, gateway=running.gateway)
        try:
            task = asyncio.create_task(run_tui(running, app=app, headless=True))
            await asyncio.wait_for(mounted.wait(), 10)
            async with aiohttp.ClientSession() as http:
                async with http.post(running.url + "/v1/chat/completions", json={
                        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                        headers={"Authorization": f"Bearer {key}"}) as resp:
                    status = resp.status
            app.exit(0)
            code = await asyncio.wait_for(task, 10)
        finally:
            await running.close()
        return loop_name(asyncio.get_running_loop()), status, code

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == ("uvloop", 200, 0)


async def _warmed(running) -> None:
    """Wait for ``start``'s warm-up task (the first watcher) to finish."""
    await asyncio.wait_for(running.watchers[0], 10)


async def test_start_unlocks_a_vault_with_keys_in_a_worker_thread(tmp_path, monkeypatch):
    home = tmp_path / "home"
    Vault.open(home, scrypt_n=2**4).set("openai", OPENAI_KEY)
    opened_on: list[threading.Thread] = []
    real_open = Vault.open.__func__

    def spy(cls, *args, **kwargs):
        opened_on.append(threading.current_thread())
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(Vault, "open", classmethod(spy))
    running = await start(ServeOptions(home=home), settings=TEST_SETTINGS)
    try:
        assert running.gateway.vault is None  # not before the port is bound
        await _warmed(running)
        assert running.gateway.vault is not None
        assert running.gateway.vault.get("openai").reveal() == OPENAI_KEY
        assert opened_on and threading.main_thread() not in opened_on
        assert len(running.watchers) == 2  # warm-up + the one file watcher (file_watch.py)
        assert "behest_local.providers.emulated.composer" in sys.modules
    finally:
        await running.close()


async def test_start_creates_no_vault_when_none_holds_keys(tmp_path):
    home = tmp_path / "home"
    running = await start(ServeOptions(home=home), settings=TEST_SETTINGS)
    try:
        await _warmed(running)
        assert running.gateway.vault is None
        assert not (home / "vault.json").exists()
    finally:
        await running.close()


async def test_a_locked_vault_is_left_for_the_request_to_report(tmp_path, monkeypatch):
    home = tmp_path / "home"
    Vault.open(home, passphrase="correct horse", scrypt_n=2**4).set("openai", OPENAI_KEY)
    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE", raising=False)
    running = await start(ServeOptions(home=home), settings=TEST_SETTINGS)
    try:
        await _warmed(running)
        assert running.gateway.vault is None
    finally:
        await running.close()


async def test_close_during_the_warm_up_stops_cleanly(tmp_path):
    running = await start(ServeOptions(home=tmp_path / "home"), settings=TEST_SETTINGS)
    await asyncio.wait_for(running.close(), 10)
    assert all(w.done() for w in running.watchers)


def test_pyjwt_is_warmed_only_when_the_state_dir_holds_jwt_keys(tmp_path, monkeypatch):
    imported: list[tuple[str, ...]] = []
    monkeypatch.setattr(running_module, "_import", imported.append)
    running_module._warm(tmp_path)
    (tmp_path / "signing_keys.json").write_text("{}")
    running_module._warm(tmp_path)
    assert imported == [running_module.WARM_MODULES, running_module.WARM_MODULES + ("jwt",)]


async def test_serve_closes_the_trace_db_it_opened_when_the_port_is_taken(tmp_path, monkeypatch):
    import socket

    from behest_local.observe.trace_db import TraceDB

    opened: list[TraceDB] = []
    real_open = TraceDB.open.__func__

    def spy(cls, *args, **kwargs):
        opened.append(real_open(cls, *args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(TraceDB, "open", classmethod(spy))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        options = ServeOptions(home=tmp_path / "home", port=taken.getsockname()[1], headless=True)
        with pytest.raises(StartupError, match="cannot listen"):
            await runtime.serve(options)
    assert len(opened) == 1 and not opened[0]._thread.is_alive()


def _somaxconn() -> int:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


@pytest.mark.skipif(_somaxconn() < 1024, reason="the kernel caps the backlog below the burst")
async def test_a_burst_of_connections_is_queued_not_dropped(tmp_path):
    """600 clients connect while the loop is busy: the kernel completes every handshake
    and queues it (LISTEN_BACKLOG). With aiohttp's default backlog of 128 the SYNs past it
    are dropped and retried a second later, which staggers a burst of streams."""
    import socket
    import time

    running = await start(ServeOptions(home=tmp_path / "home"), settings=TEST_SETTINGS)
    connected: list[socket.socket] = []
    failures: list[BaseException] = []
    go = threading.Event()

    def burst() -> None:
        go.wait(5)
        for _ in range(600):
            sock = socket.socket()
            sock.settimeout(0.5)
            try:
                sock.connect(("127.0.0.1", running.port))
                connected.append(sock)
            except OSError as exc:
                failures.append(exc)
                sock.close()

    thread = threading.Thread(target=burst)
    thread.start()
    try:
        go.set()
        time.sleep(1.5)  # the loop is busy: nothing is accepted while the burst arrives
        thread.join(10)
        assert not failures and len(connected) == 600
    finally:
        for sock in connected:
            sock.close()
        await running.close()


async def test_after_warm_up_runs_once_the_warm_up_is_done(tmp_path, monkeypatch):
    """``serve`` freezes the startup heap there (gc.freeze): only after every import."""
    calls: list[str] = []
    monkeypatch.setattr(running_module, "_warm", lambda home: calls.append("warm"))
    running = await start(ServeOptions(home=tmp_path / "home"), settings=TEST_SETTINGS)
    running.after_warm_up = lambda: calls.append("after")
    try:
        await _warmed(running)
        assert calls == ["warm", "after"]
    finally:
        await running.close()

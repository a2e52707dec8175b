"""The state dir is the user's alone (issue 17, item 8): made 0700 with every folder in it
0700 and every file 0600 (databases with their WAL and SHM files, fixtures, exports, the
vault, keys, deployed settings, the TUI's log); one already open to other users is warned
about at start; one that cannot be created stops the start with one clear line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import aiohttp
import pytest

from behest_local.exchange.events import ExchangeFinished
from behest_local.runtime.tui import LOG_FILE, run_tui
from behest_local.tui.app import BehestApp
from tests.conftest import TEST_SETTINGS
from tests.hardening.limits_support import PY, cli, modes
from tests.serve_process import ServeProcess
from tests.trace_support import EventWaiter, start_gateway

OPENAI_KEY = "sk-proj-" + "k3y" * 16


def loose(found: dict[str, int], home) -> dict[str, str]:
    """What is not private: folders other than 0700, files other than 0600."""
    wrong = {}
    for name, mode in found.items():
        wanted = 0o700 if (home / name).is_dir() else 0o600
        if mode != wanted:
            wrong[name] = f"{mode:o}"
    return wrong


def traced(home, request_id: str, timeout: float = 30.0) -> None:
    """Until ``traces list`` shows the exchange (written by the trace writer's child)."""
    deadline = time.monotonic() + timeout
    while request_id not in cli("traces", "list", home=home).stdout:
        assert time.monotonic() < deadline, f"{request_id} never reached the trace database"


def test_every_file_a_realistic_session_leaves_in_the_state_dir_is_private(tmp_path):
    home = tmp_path / "state"
    server = ServeProcess(home)
    try:
        created = cli("keys", "create", "--project", "local", "--json", home=home)
        auth = {"Authorization": f"Bearer {json.loads(created.stdout)['key']}"}
        chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
        assert server.request("POST", "/v1/chat/completions", chat, auth)[0] == 200
        status, _, headers = server.request("POST", "/v1/chat/completions",
                                            {**chat, "stream": True},
                                            {**auth, "X-Thread-Id": "thread-1"})
        assert status == 200
        stream_id = headers["X-Request-Id"]
        assert cli("vault", "set", "openai", home=home, stdin=OPENAI_KEY + "\n").returncode == 0
        dash = {"Authorization": "Bearer " + cli("dashboard-token", home=home).stdout.strip()}
        assert server.request("PUT", "/v1/projects/local/settings",
                              {"system_prompt": "Be brief."}, dash)[0] == 200
        assert server.request("POST", "/v1/projects/local/settings/deploy", None, dash)[0] == 200
        assert cli("signing-keys", "create", "--project", "local", home=home).returncode == 0
        assert cli("mint", "--user", "u1", home=home).returncode == 0
        traced(home, stream_id)
        assert cli("traces", "fixture", stream_id, home=home).returncode == 0
        assert cli("traces", "export", "--format", "har", "--out", str(home / "session.har"),
                   home=home).returncode == 0
        while_running = modes(home)
    finally:
        assert server.stop() == 0
    after = modes(home)
    # The session reached every writer (databases with their WAL files while open).
    assert {"keys.json", "vault.json", "vault.key", "dashboard.json", "deployed.toml",
            "signing_keys.json", "platform_signing_key.json", "session.har",
            f"fixtures/{stream_id}.json", "data/usage.sqlite3", "data/usage.sqlite3-wal",
            "data/traces.sqlite3", "data/traces.sqlite3-wal", "data/threads.sqlite3",
            "data/threads.sqlite3-wal"} <= set(while_running)
    assert loose(while_running, home) == {} and loose(after, home) == {}
    assert os.stat(home).st_mode & 0o777 == 0o700


async def test_the_tuis_log_export_and_fixture_are_private(tmp_path):
    home = tmp_path / "state"
    running, key = await start_gateway(home, TEST_SETTINGS)
    waiter = EventWaiter()
    running.gateway.store.subscribe(waiter)
    mounted = asyncio.Event()

    class Watched(BehestApp):
        def on_mount(self) -> None:
            super().on_mount()
            mounted.set()

    app = Watched(running.gateway.store, url=running.url, gateway=running.gateway, home=home)
    tui = asyncio.create_task(run_tui(running, app=app, headless=True))
    try:
        await asyncio.wait_for(mounted.wait(), 10)
        async with aiohttp.ClientSession() as http:
            async with http.post(running.url + "/v1/chat/completions", headers={
                    "Authorization": f"Bearer {key}"}, json={
                    "model": "gpt-4o", "stream": True,
                    "messages": [{"role": "user", "content": "Hello"}]}) as resp:
                await resp.read()
                request_id = resp.headers["X-Request-Id"]
        await waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                          and e.exchange_id == request_id)
        app.refresh_feed()
        app.exchanges.move_cursor(row=0)
        await app.action_export()
        await app.action_fixture()
    finally:
        app.exit()
        await asyncio.wait_for(tui, 10)
        await running.close()
    found = modes(home)
    assert LOG_FILE in found and f"fixtures/{request_id}.json" in found
    assert [n for n in found if n.startswith("exports/") and n.endswith(".har")]
    assert loose(found, home) == {}


def test_a_state_dir_open_to_other_users_is_warned_about_at_start(tmp_path):
    home = tmp_path / "shared"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    server = ServeProcess(home)
    assert server.stop() == 0
    [warning] = [line for line in server.stderr.splitlines() if "open to other users" in line]
    assert warning.endswith(f"the state directory {home} is open to other users (mode 755) "
                            f"and holds your keys and recorded prompts: chmod 700 {home}")
    os.chmod(home, 0o700)
    quiet = ServeProcess(home)
    assert quiet.stop() == 0
    assert "open to other users" not in quiet.stderr


def serve_fails(home) -> str:
    """``serve``'s one line on stderr when it cannot start (exit 2)."""
    done = subprocess.run([*PY, "serve", "--headless", "--port", "0", "--home", str(home)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr.strip()


def test_an_uncreatable_state_dir_stops_the_start_with_one_clear_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert serve_fails(blocker / "state") == (
        f"behest-local: error: cannot create the state directory {blocker / 'state'}: "
        f"{blocker} is a file, not a directory; choose another with --home DIR "
        "(or $BEHEST_LOCAL_HOME)")
    # Its data folder too, which the threads database used to be first to trip over.
    home = tmp_path / "state"
    home.mkdir()
    (home / "data").write_text("not a folder")
    assert serve_fails(home) == (
        f"behest-local: error: cannot create the state directory {home / 'data'}: "
        f"{home / 'data'} is a file, not a directory; choose another with --home DIR "
        "(or $BEHEST_LOCAL_HOME)")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="root may write anywhere")
def test_a_state_dir_this_user_may_not_write_stops_the_start(tmp_path):
    home = tmp_path / "state"
    (home / "data").mkdir(parents=True)
    home.chmod(0o500)
    try:
        assert serve_fails(home) == (
            f"behest-local: error: the state directory {home} is not writable by this user; "
            "choose another with --home DIR (or $BEHEST_LOCAL_HOME)")
    finally:
        home.chmod(0o700)

"""The command line as a new user runs it: a real process, real signals, real HTTP."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.serve_process import PY, ServeProcess


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*PY, *args, "--home", str(home)], capture_output=True, text=True,
                          timeout=60)


def post(url: str, body: dict, key: str | None, headers: dict | None = None):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    return urllib.request.urlopen(request, timeout=20)


def refused_within(url: str, body: dict, key: str, timeout: float = 5.0) -> urllib.error.HTTPError:
    """The HTTP error ``url`` answers once the server stops accepting ``key``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            post(url, body, key).close()
        except urllib.error.HTTPError as err:
            return err
        assert time.monotonic() < deadline, "the revoked key was still accepted"
        time.sleep(0.02)


def test_serve_keys_request_log_and_sigterm(tmp_path):
    home = tmp_path / "state"
    server = ServeProcess(home, headless=False)
    try:
        banner = server.stdout
        assert "project local" in banner and "keys create --project local" in banner
        created = run_cli("keys", "create", "--project", "local", "--json", home=home)
        assert created.returncode == 0, created.stderr
        info = json.loads(created.stdout)
        key = info["key"]
        assert re.fullmatch(r"behest_sk_live_[0-9a-f]{32}", key) and info["project"] == "local"
        # A key made by another process works at once, without a restart.
        with post(server.url + "/v1/chat/completions",
                  {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}, key) as r:
            assert r.status == 200
            assert json.load(r)["object"] == "chat.completion"
        line = server.wait_for(r"200\s+POST\s+/v1/chat/completions")
        assert "gpt-4o" in line and key not in line
        listing = run_cli("keys", "list", home=home)
        assert info["id"] in listing.stdout and key not in listing.stdout
        revoked = run_cli("keys", "revoke", info["id"], home=home)
        assert revoked.returncode == 0
        # The revocation reaches the server through its file watcher: wait for it to land
        # (a bounded poll on the server's answer, not a sleep), then the key is refused.
        err = refused_within(server.url + "/v1/chat/completions",
                             {"messages": [{"role": "user", "content": "Hello"}]}, key)
        assert err.code == 401
        assert json.load(err)["error"]["code"] == "invalid_api_key"
    finally:
        code = server.stop()
    assert code == 0
    assert key not in server.output
    assert "0600" == oct((home / "keys.json").stat().st_mode & 0o777).replace("0o", "0")


def test_sigterm_closes_an_inflight_stream(tmp_path):
    home = tmp_path / "state"
    server = ServeProcess(home, headless=False)
    key = json.loads(run_cli("keys", "create", "--json", home=home).stdout)["key"]
    response = post(server.url + "/v1/chat/completions",
                    {"stream": True, "messages": [{"role": "user", "content": "Tell me a long story"}]},
                    key, headers={"x-behest-emulate": "tokens_per_second=5"})
    with response:
        first = response.readline()
        assert first.startswith(b"data: ")
        server.proc.send_signal(signal.SIGTERM)
        rest = response.read()
    assert b"shutting down" in rest and b"[DONE]" not in rest
    assert server.wait() == 0


def test_non_loopback_bind_is_refused_without_allow_remote(tmp_path):
    result = subprocess.run([*PY, "serve", "--host", "0.0.0.0", "--port", "0", "--home",
                             str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr and "Traceback" not in result.stderr


def test_unknown_project_for_keys_create(tmp_path):
    result = run_cli("keys", "create", "--project", "nope", home=tmp_path)
    assert result.returncode == 2
    assert "unknown project 'nope'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_serve_runs_on_the_loop_given_and_says_so(tmp_path, loop):
    server = ServeProcess(tmp_path / "state", "--loop", loop)
    try:
        server.wait_for(rf"^  event loop: {loop} \(serve --loop")
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as err:  # a request through the middlewares
            post(server.url + "/v1/chat/completions",
                 {"messages": [{"role": "user", "content": "Hello"}]}, None)
        assert err.value.code == 401
        assert json.load(err.value)["error"]["code"] == "invalid_api_key"
    finally:
        assert server.stop() == 0


def test_serve_defaults_to_uvloop_when_installed(tmp_path):
    server = ServeProcess(tmp_path / "state")
    try:
        server.wait_for(r"^  event loop: uvloop ")
    finally:
        assert server.stop() == 0


def test_healthz_and_default_port_is_uncommon(tmp_path):
    from behest_local.config import DEFAULT_PORT

    assert DEFAULT_PORT not in (3000, 4000, 5173, 8000, 8080, 8787, 11434)
    server = ServeProcess(tmp_path / "state", headless=False)
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as r:
            assert json.load(r)["status"] == "ok"
    finally:
        assert server.stop() == 0

"""``behest-local admin-secret`` and ``project|provider kill|revive`` as a user runs them:
against a running ``serve`` (the change applies at once), with none running (the next
start honours it), across a restart, with a damaged state file; and the admin secret never
written anywhere but the terminal that asked for it."""

from __future__ import annotations

import json
import subprocess
import time

from behest_local.policy.kill_switches import KILL_FILE
from tests.serve_process import PY, ServeProcess

HI = {"messages": [{"role": "user", "content": "Hi"}]}


def cli(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PY, *args, "--home", str(home)], capture_output=True, text=True,
                          timeout=60, cwd=home.parent)


def status_until(server: ServeProcess, key: str, wanted: int, timeout: float = 10) -> int:
    """The chat status once it is ``wanted`` (the gateway's file watch applies a CLI change
    within milliseconds); the last one seen after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, _ = server.request("POST", "/v1/chat/completions", HI,
                                      headers={"Authorization": f"Bearer {key}"})
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.02)  # a poll with a bound, for another process's change


def make_key(home) -> str:
    out = cli(home, "keys", "create", "--project", "local", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["key"]


def test_cli_kill_and_revive_act_on_the_running_gateway_and_survive_a_restart(tmp_path):
    home = tmp_path / "home"
    key = make_key(home)
    server = ServeProcess(home)
    try:
        assert status_until(server, key, 200) == 200
        out = server.cli("project", "kill", "local", "--reason", "load test gone wrong")
        assert out.returncode == 0, out.stderr
        assert f"the gateway running at {server.url} applies it at once" in out.stdout
        assert status_until(server, key, 403) == 403
        _, body, _ = server.request("POST", "/v1/chat/completions", HI,
                                    headers={"Authorization": f"Bearer {key}"})
        assert "(reason: load test gone wrong)" in json.loads(body)["error"]["message"]
        server.wait_for(r"kill switch: project local killed")
        assert server.cli("project", "revive", "local").returncode == 0
        assert status_until(server, key, 200) == 200
        out = server.cli("project", "kill", "nope")
        assert out.returncode == 2 and "unknown project 'nope'" in out.stderr
        assert server.cli("project", "kill", "local").returncode == 0
        assert status_until(server, key, 403) == 403
    finally:
        assert server.stop() == 0
    restarted = ServeProcess(home)  # the kill is in the state dir
    try:
        assert status_until(restarted, key, 403, timeout=0) == 403
    finally:
        assert restarted.stop() == 0


def test_cli_kill_with_no_gateway_running_applies_at_the_next_start(tmp_path):
    home = tmp_path / "home"
    key = make_key(home)
    out = cli(home, "provider", "kill", "OpenAI")
    assert out.returncode == 0 and "the next start honours it" in out.stdout
    out = cli(home, "project", "kill", "local")
    assert out.returncode == 0
    server = ServeProcess(home)
    try:
        assert status_until(server, key, 403, timeout=0) == 403
        assert cli(home, "project", "revive", "local").returncode == 0
        assert status_until(server, key, 200) == 200
    finally:
        assert server.stop() == 0


def test_a_mistyped_provider_is_refused_with_the_closest_name_and_kills_nothing(tmp_path):
    home = tmp_path / "home"
    make_key(home)
    out = cli(home, "provider", "kill", "opnai")
    assert out.returncode == 2
    assert "Unknown provider 'opnai'; did you mean 'openai'?" in out.stderr
    assert not (home / KILL_FILE).exists() or "opnai" not in (home / KILL_FILE).read_text()


def test_a_damaged_kill_state_file_stops_the_start_and_says_where(tmp_path):
    home = tmp_path / "home"
    make_key(home)
    (home / KILL_FILE).write_text('{"version": 1, "projects": ')
    out = subprocess.run([*PY, "serve", "--headless", "--port", "0", "--home", str(home)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 2
    assert "kill switches:" in out.stderr and str(home / KILL_FILE) in out.stderr
    assert "move it aside" in out.stderr
    kill = cli(home, "project", "kill", "local")
    assert kill.returncode == 2 and "damaged" in kill.stderr
    assert (home / KILL_FILE).read_text() == '{"version": 1, "projects": '


def test_the_admin_secret_never_reaches_a_log_a_trace_or_a_state_file(tmp_path):
    home = tmp_path / "home"
    key = make_key(home)
    made = cli(home, "admin-secret")
    secret = made.stdout.strip()
    assert made.returncode == 0 and secret.startswith("behest_admin_")
    assert "X-Admin-Secret" in made.stderr and secret not in made.stderr
    again = cli(home, "admin-secret")
    assert again.returncode == 1 and "--rotate" in again.stderr
    assert secret not in again.stdout + again.stderr
    server = ServeProcess(home)
    try:
        for headers in ({"X-Admin-Secret": secret}, {"X-Admin-Secret": secret + "x"}):
            server.request("POST", "/v1/admin/projects/local/kill", {"reason": "canary"},
                           headers=headers)
        assert status_until(server, key, 403, timeout=0) == 403
        status, body, _ = server.request("GET", "/v1/admin/kill-switches",
                                         headers={"X-Admin-Secret": secret})
        assert status == 200 and secret not in body.decode()
    finally:
        assert server.stop() == 0
    assert secret not in server.output
    leaked = [p.name for p in home.rglob("*") if p.is_file()
              and secret.encode() in p.read_bytes()]
    assert leaked == []

"""The running gateway's address file: written by serve, read by the commands that print
URLs, removed on a clean shutdown, ignored once its process is gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from behest_local.runtime import address
from tests.serve_process import ServeProcess


def test_announce_is_private_and_read_back_then_withdrawn(tmp_path):
    address.announce(tmp_path, "http://127.0.0.1:40123")
    path = tmp_path / address.ADDRESS_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    found = address.running(tmp_path)
    assert found is not None and (found.url, found.pid) == ("http://127.0.0.1:40123", os.getpid())
    assert address.origin(tmp_path, "127.0.0.1", 7717) == (
        "http://127.0.0.1:40123", "the gateway running on this state dir")
    address.withdraw(tmp_path)
    assert not path.exists() and address.running(tmp_path) is None


def test_a_file_whose_process_is_gone_is_stale_and_reads_as_absent(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / address.ADDRESS_FILE).write_text(json.dumps(
        {"url": "http://127.0.0.1:40124", "pid": int(gone.stdout), "started_at": 0}))
    assert address.running(tmp_path) is None
    assert address.origin(tmp_path, "::1", 7800) == (
        "http://[::1]:7800", "no gateway is running on this state dir: the configured address")


def test_a_damaged_file_reads_as_absent_and_another_gateways_file_is_left(tmp_path):
    path = tmp_path / address.ADDRESS_FILE
    for text in ("", "{", "[]", '{"url": "x"}', '{"url": "x", "pid": "me", "started_at": 0}'):
        path.write_text(text)
        assert address.running(tmp_path) is None, text
    path.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": os.getppid(),
                                "started_at": 0}))
    address.withdraw(tmp_path)  # not this process's announcement
    assert path.exists() and address.running(tmp_path).pid == os.getppid()


def test_the_base_url_lines_give_each_client_its_form():
    lines = address.base_url_lines("http://127.0.0.1:9")
    assert lines[0].startswith("BEHEST_BASE_URL=http://127.0.0.1:9 ") and "v1.5" in lines[0]
    assert lines[1].startswith("BEHEST_BASE_URL=http://127.0.0.1:9/v1 ") and "v1.x" in lines[1]
    assert lines[2].startswith("base_url=http://127.0.0.1:9/v1 ") and "OpenAI" in lines[2]


def test_serve_announces_its_real_port_to_the_commands_that_print_urls(tmp_path):
    home = tmp_path / "home"
    server = ServeProcess(home)  # --port 0: a port no configuration predicts
    try:
        path = home / address.ADDRESS_FILE
        assert json.loads(path.read_text())["url"] == server.url
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        token = server.cli("dashboard-token")
        assert token.returncode == 0, token.stderr
        assert f"use base URL {server.url} instead of https://api.behest.app (the gateway " \
               "running on this state dir)" in token.stderr
        assert f"BEHEST_BASE_URL={server.url} " in token.stderr
        assert f"BEHEST_BASE_URL={server.url}/v1 " in token.stderr
        keys = server.cli("signing-keys", "create")
        assert keys.returncode == 0, keys.stderr
        assert f"BEHEST_BASE_URL={server.url}\n" in keys.stdout
        assert "the form the v1.5 SDKs' sign mode wants" in keys.stderr
    finally:
        assert server.stop() == 0
    assert not path.exists()  # a clean shutdown withdraws it


def test_after_a_crash_the_commands_fall_back_to_the_configured_address(tmp_path):
    home = tmp_path / "home"
    server = ServeProcess(home)
    server.stop(signal.SIGKILL)
    assert (home / address.ADDRESS_FILE).exists()  # left behind, stale
    token = server.cli("dashboard-token")
    assert token.returncode == 0, token.stderr
    assert "use base URL http://127.0.0.1:7717 instead of https://api.behest.app (no gateway " \
           "is running on this state dir: the configured address)" in token.stderr
    assert server.url not in token.stderr

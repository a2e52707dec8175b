"""Issue 17 item 7: damaged small state files are reported, leftovers cleaned, at start.

An empty ``deployed.toml`` (behest-local never writes one: every write holds at least
``version = 1``) is warned about rather than read as "nothing deployed" in silence. The
temp files an interrupted ``atomic_write`` leaves in the state dir are removed when the
gateway starts, and nothing else is."""

from __future__ import annotations

import logging
import subprocess
import sys

from behest_local.atomic import atomic_write, remove_strays
from behest_local.config.deployed import DEPLOYED_FILE, DeployedStore
from tests.hardening.records_support import CHAT, Serve, api_key, chat


def test_an_empty_deployed_toml_is_warned_about_at_start(tmp_path):
    home = tmp_path / "home"
    key = api_key(home)
    (home / DEPLOYED_FILE).write_text("")
    server = Serve(home)
    try:
        assert server.post(CHAT, chat(), key)[0] == 200
    finally:
        assert server.stop() == 0
    [line] = [line for line in server.output.splitlines() if DEPLOYED_FILE in line]
    assert "WARNING" in line and "empty" in line and str(home / DEPLOYED_FILE) in line
    assert "Traceback" not in server.output


def test_an_empty_deployed_toml_is_warned_about_once_per_version(tmp_path, caplog):
    store = DeployedStore(tmp_path)
    (tmp_path / DEPLOYED_FILE).write_text("# nothing here\n")
    with caplog.at_level(logging.WARNING, logger="behest_local.config"):
        assert store.read() == {} and store.read() == {}
        assert len(caplog.records) == 1
        store.create_project("p2", "P2", "p2")  # written: holds something now
        assert store.read()["created"]["p2"]["name"] == "P2"
        assert len(caplog.records) == 1


def test_nothing_deployed_yet_is_no_warning(tmp_path, caplog):
    store = DeployedStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert store.read() == {}
        store.reset()  # leaves `version = 1`: what a reset deployed.toml holds
        assert store.read() == {"version": 1}
    assert caplog.records == []


def test_stray_temp_files_of_interrupted_writes_are_removed_at_start(tmp_path):
    home = tmp_path / "home"
    key = api_key(home)
    strays = [home / ".keys.json.k3j2h1g0.tmp", home / ".vault.json.a1b2c3d4.tmp",
              home / "stray.json.tmp"]
    for stray in strays:
        stray.write_bytes(b"{ half a fi")
    (home / "notes.txt").write_text("mine")
    server = Serve(home)
    try:
        assert server.post(CHAT, chat(), key)[0] == 200  # keys.json itself was never touched
    finally:
        assert server.stop() == 0
    assert not [s for s in strays if s.exists()]
    assert (home / "notes.txt").read_text() == "mine"
    [line] = [line for line in server.output.splitlines() if "stray temp files" in line]
    assert "removed 3" in line and "Traceback" not in server.output


def test_a_temp_file_whose_write_is_in_flight_is_left_alone(tmp_path):
    """A stray whose target has a lock file is removed only if that lock is free: the
    temp file of a write another process is making right now (``behest-local keys
    create`` as the gateway starts) is not a stray, and is not taken from under it."""
    atomic_write(tmp_path / "keys.json", b"{}")
    stray = tmp_path / ".keys.json.inflight.tmp"
    stray.write_bytes(b"{")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path\n"
         "from behest_local.atomic import locked\n"
         "with locked(Path(sys.argv[1])):\n print('held', flush=True); sys.stdin.read()",
         str(tmp_path / "keys.json.lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert remove_strays(tmp_path) == [] and stray.exists()
    finally:
        holder.stdin.close()
        assert holder.wait(30) == 0
        holder.stdout.close()
    assert remove_strays(tmp_path) == [stray] and not stray.exists()
    assert (tmp_path / "keys.json").read_bytes() == b"{}"

"""Portable (issue 23): behest-local imports on a platform without POSIX-only modules.

``fcntl``, ``termios``, ``tty``, ``pty``, ``pwd``, ``grp`` and ``resource`` do not exist on
Windows, nor does uvloop. A fresh interpreter with a meta-path finder that refuses them to
behest-local's own modules imports every module of the package: any unconditional import
fails it. Third-party packages may still import them (they choose their own code per
platform), which is why the finder looks at who imports.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from behest_local import atomic, home
from behest_local.runtime.signals import on_stop_signals

POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "uvloop")

IMPORT_ALL = textwrap.dedent("""
    import importlib, json, pkgutil, sys

    REFUSED = set(sys.argv[1].split(","))

    class Windowsish:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] not in REFUSED:
                return None
            frame = sys._getframe(1)
            while frame is not None and frame.f_globals.get("__name__", "").startswith(
                    ("importlib", "_frozen_importlib")):
                frame = frame.f_back
            importer = frame.f_globals.get("__name__", "") if frame is not None else ""
            if importer.split(".")[0] == "behest_local":
                raise ImportError(f"No module named {name!r} (refused to {importer})")
            return None

    sys.meta_path.insert(0, Windowsish())
    for name in REFUSED:
        sys.modules.pop(name, None)
    import behest_local
    failed, imported = {}, 0
    for info in pkgutil.walk_packages(behest_local.__path__, "behest_local."):
        if info.name.endswith(".__main__"):  # runs the command line
            continue
        try:
            importlib.import_module(info.name)
            imported += 1
        except Exception as exc:
            failed[info.name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"imported": imported, "failed": failed}))
""")


def test_every_module_imports_without_posix_only_modules():
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL, ",".join(POSIX_ONLY)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}
    assert result["imported"] > 100  # it did walk the package


# -- what Windows gets instead, exercised here with the POSIX parts taken away ----------------

HOLD_LOCK = ("import sys; from pathlib import Path\n"
             "import behest_local.atomic as atomic\n"
             "if sys.argv[2] == 'filelock': atomic.fcntl = None\n"
             "with atomic.locked(Path(sys.argv[1])):\n"
             " print('held', flush=True); sys.stdin.read()")


@pytest.mark.parametrize("holder_lock", ["flock", "filelock"])
def test_without_fcntl_the_lock_still_excludes_another_process(tmp_path, monkeypatch,
                                                              holder_lock):
    """filelock's lock (Windows' path) against a holder using it or flock: on POSIX
    filelock locks with flock too, so the two kinds of process exclude each other."""
    pytest.importorskip("filelock")
    monkeypatch.setattr(atomic, "fcntl", None)
    lock = tmp_path / "keys.json.lock"
    stray = tmp_path / ".keys.json.inflight.tmp"
    stray.write_bytes(b"{")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), holder_lock],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert atomic.remove_strays(tmp_path) == [] and stray.exists()  # held: in flight
    finally:
        holder.stdin.close()
        assert holder.wait(30) == 0
        holder.stdout.close()
    with atomic.locked(lock), atomic.locked(tmp_path / "other.lock", shared=True):
        pass  # free again: taken at once, shared or not
    assert atomic.remove_strays(tmp_path) == [stray]


def test_without_posix_modes_nothing_is_tightened_nor_warned_about(tmp_path, monkeypatch):
    """Windows: a file's mode says nothing about who may read it (the profile's ACL does)."""
    monkeypatch.setattr(home, "POSIX_MODES", False)
    tightened: list[int] = []
    monkeypatch.setattr(home.os, "fchmod", lambda fd, mode: tightened.append(mode),
                        raising=False)
    state = tmp_path / "state"
    state.mkdir(mode=0o777)
    os.chmod(state, 0o777)
    assert home.exposure(state) is None
    loose = state / "traces.db"
    loose.write_text("")
    os.chmod(loose, 0o666)
    home.private_file(loose)
    assert tightened == []


async def test_without_loop_signal_handlers_ctrl_c_still_stops(monkeypatch):
    """Windows' event loops have no ``add_signal_handler``: a plain handler hands the
    call to the loop, and the previous handler is back afterwards."""
    loop = asyncio.get_running_loop()

    def unsupported(*_args: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(loop, "add_signal_handler", unsupported)
    before = signal.getsignal(signal.SIGINT)
    stopped = asyncio.Event()
    with on_stop_signals(stopped.set):
        assert signal.getsignal(signal.SIGINT) is not before
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(stopped.wait(), 5)
    assert signal.getsignal(signal.SIGINT) is before

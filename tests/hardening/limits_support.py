"""Helpers for the ``limits`` hardening tests (issue 17, item 8).

* ``Serve``: ``behest-local serve --headless --port 0`` as a real process, its banner
  awaited (a bounded wait on its output), stopped with SIGTERM; stderr kept for assertions.
* ``cli``: one ``behest-local`` command as a real process.
* ``modes``: every folder and file under a state dir with its permission bits.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

PY = [sys.executable, "-m", "behest_local"]


def cli(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*PY, *args, "--home", str(home)], input=stdin, capture_output=True,
                          text=True, timeout=60)


class Serve:
    """The gateway as a user starts it, headless, on a free port."""

    def __init__(self, home: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([*PY, "serve", "--headless", "--port", "0", "--home",
                                      str(home), *extra], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.stdout: list[str] = []
        self.stderr = ""
        self._banner = threading.Event()
        self._pumps = [threading.Thread(target=self._pump_out, daemon=True),
                       threading.Thread(target=self._pump_err, daemon=True)]
        for pump in self._pumps:
            pump.start()
        if not self._banner.wait(30):
            self.stop()
            raise AssertionError(f"no banner: {self.stdout!r} {self.stderr!r}")
        port = re.search(r"listening on http://127\.0\.0\.1:(\d+)", "".join(self.stdout))
        self.url = f"http://127.0.0.1:{port.group(1)}"

    def _pump_out(self) -> None:
        for line in self.proc.stdout:
            self.stdout.append(line)
            if "listening on" in line:
                self._banner.set()
        self._banner.set()  # exited before the banner: let the constructor report it

    def _pump_err(self) -> None:
        self.stderr = self.proc.stderr.read()

    def request(self, method: str, path: str, body: dict | None = None,
                headers: dict | None = None) -> tuple[int, bytes, dict[str, str]]:
        """One HTTP exchange: status, body and headers (an error status too)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        for pump in self._pumps:
            pump.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code


def modes(home: Path) -> dict[str, int]:
    """``{path relative to home: permission bits}`` for every folder and file under ``home``."""
    found = {}
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = Path(root, name)
            found[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    return found

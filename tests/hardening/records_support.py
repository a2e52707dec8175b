"""Helpers for the records tests (issue 17 items 3 and 7): a real ``behest-local serve``.

``Serve`` runs ``python -m behest_local serve --headless --port 0`` on a state dir in a
subprocess and reads its stdout and stderr line by line, so a test can wait for a line
(an event, not a sleep), stop it with a signal or kill it. ``raw_post`` sends a request
whose header bytes no HTTP client would send (``\\xff``), ``chat`` a plain one, and
``usage_rows`` counts what reached the usage database, read as another process would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from behest_local.home import DATA_DIR
from behest_local.identity.api_keys import KeyStore

PY = [sys.executable, "-m", "behest_local"]
CHAT = "/v1/chat/completions"


def api_key(home: Path) -> str:
    """A project ``local`` key, made before the server starts (it reads ``keys.json``)."""
    key, _ = KeyStore(home, scrypt_n=2**4).create("local")
    return key


class Serve:
    """``behest-local serve`` on ``home`` in a subprocess, its output gathered by lines."""

    def __init__(self, home: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("BEHEST_CONFIG", None)
        self.proc = subprocess.Popen(
            [*PY, "serve", "--headless", "--port", "0", "--home", str(home), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
            env=env, cwd=home.parent)
        self.out: list[str] = []
        self.err: list[str] = []
        self._cond = threading.Condition()
        self._pumps = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out),
                                        daemon=True),
                       threading.Thread(target=self._pump, args=(self.proc.stderr, self.err),
                                        daemon=True)]
        for pump in self._pumps:
            pump.start()
        line = self.wait_for(r"listening on http://127\.0\.0\.1:(\d+)")
        self.url = "http://127.0.0.1:" + re.search(r":(\d+)\s*$", line).group(1)

    def _pump(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._cond:
                into.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "".join(self.out) + "".join(self.err)

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        regex = re.compile(pattern)

        def found() -> str | None:
            line = next((l for l in self.out + self.err if regex.search(l)), None)
            if line is None and self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}) without a "
                                     f"line matching {pattern!r}:\n{''.join(self.out + self.err)}")
            return line

        with self._cond:
            line = self._cond.wait_for(found, timeout)
        assert line, f"no line matching {pattern!r} in:\n{self.output}"
        return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server (SIGKILL: ``kill -9``) and wait for it and its output."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        for pump in self._pumps:
            pump.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code

    def post(self, path: str, body: dict, key: str,
             headers: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}",
                     **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def raw_post(self, path: str, body: dict, key: str, header: bytes) -> tuple[int, bytes]:
        """POST with ``header`` (``b"Name: value"``, any bytes) among the headers; returns
        the status and the body."""
        payload = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.url[7:]}\r\n"
                f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n").encode()
        host, port = self.url[7:].split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(head + header + b"\r\n\r\n" + payload)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        status = int(reply.split(b" ", 2)[1])
        return status, reply.partition(b"\r\n\r\n")[2]


def chat(text: str = "Hello") -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


def usage_rows(home: Path) -> int:
    """Rows in ``usage.sqlite3``, read as another process reads it (WAL included)."""
    path = home / DATA_DIR / "usage.sqlite3"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT count(*) FROM usage").fetchone()[0]
    except sqlite3.OperationalError:  # no table yet
        return 0
    finally:
        conn.close()


def wait_rows(home: Path, want: int, timeout: float) -> float:
    """Seconds until ``usage_rows`` reaches ``want`` (polled; fails after ``timeout``)."""
    began = time.monotonic()
    while usage_rows(home) < want:
        assert time.monotonic() - began < timeout, \
            f"{usage_rows(home)} of {want} usage rows after {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - began

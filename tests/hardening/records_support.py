"""Helpers for the records tests (issue 17 items 3 and 7): a real ``behest-local serve``.

``Serve`` is ``tests.serve_process.ServeProcess`` (a real ``behest-local serve`` on a state
dir, its output read by lines, stopped with a signal or killed) plus ``post`` with a key
and ``raw_post``, which sends header bytes no HTTP client would send (``\\xff``); ``chat``
is a plain request body and ``usage_rows`` counts what reached the usage database, read as
another process would.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

from behest_local.home import DATA_DIR
from behest_local.identity.api_keys import KeyStore
from tests.serve_process import ServeProcess

CHAT = "/v1/chat/completions"


def api_key(home: Path) -> str:
    """A project ``local`` key, made before the server starts (it reads ``keys.json``)."""
    key, _ = KeyStore(home, scrypt_n=2**4).create("local")
    return key


class Serve(ServeProcess):
    """``behest-local serve`` on ``home`` (``tests.serve_process``), with a project key's
    JSON ``post`` and the ``raw_post`` no HTTP client would send."""

    def post(self, path: str, body: dict, key: str,
             headers: dict | None = None) -> tuple[int, dict]:
        status, reply, _ = self.request("POST", path, body,
                                        {"Authorization": f"Bearer {key}", **(headers or {})})
        return status, json.loads(reply or b"{}")

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

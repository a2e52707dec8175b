"""A real ``behest-local serve`` and a ``/healthz`` prober, for the load hardening tests.

The gateway runs as the user runs it (``tests/serve_process.ServeProcess``: a subprocess,
the default event loop, the default 20 MiB body limit), so the prober measures the server
alone, not this process's GIL. ``probe_during`` sends one heavy request and, from the moment
its body is on the wire until its answer arrives (or ``window_s`` has passed), asks
``/healthz`` again and again on a keep-alive connection, timing each answer.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from behest_local.identity.api_keys import KeyStore
from tests.serve_process import ServeProcess

MiB = 1024 * 1024


def start_gateway(home: Path, config: str | None = None) -> tuple[ServeProcess, str]:
    """A gateway on ``home`` and an API key of project ``local`` it has already checked."""
    key, _ = KeyStore(home).create("local")  # the gateway reads its keys at start
    served = ServeProcess(home, config=config)
    # A key's first use checks its scrypt hash (~0.1 s of a core, once per process): done
    # now, so that it does not compete with the heavy request a test measures.
    status, _, _ = served.request("GET", "/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert status == 200
    return served, key


class FakeUpstream:
    """``behest-local fake-upstream PROVIDER`` on a free port; ``base_url`` for behest.toml."""

    def __init__(self, provider: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "behest_local", "fake-upstream",
                                      provider], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url = None
        for line in self.proc.stdout:
            found = re.search(r" on (http://127\.0\.0\.1:\d+\S*)", line)
            if found:
                url = found.group(1)
                break
        assert url, "the fake upstream did not start"
        self.base_url = url
        self._drain = threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True)
        self._drain.start()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        self._drain.join(5)
        self.proc.stdout.close()


@dataclass
class Probed:
    status: int | None
    """The heavy request's status (None: no answer within the window)."""
    latencies: list[float] = field(default_factory=list)
    """Seconds each ``/healthz`` took, asked while the heavy request was in flight."""


def probe_during(port: int, path: str, body: bytes, headers: dict, *,
                 method: str = "POST", window_s: float = 3.0) -> Probed:
    """Send ``body`` to ``path``; time ``/healthz`` until its answer or ``window_s``."""
    sent, answered = threading.Event(), threading.Event()
    result = Probed(None)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def heavy() -> None:
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json",
                                                          **headers})
            sent.set()
            response = conn.getresponse()
            response.read()
            result.status = response.status
        except Exception:  # noqa: BLE001 (the window closed and the connection with it)
            pass
        finally:
            sent.set()
            answered.set()

    sender = threading.Thread(target=heavy, daemon=True)
    sender.start()
    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        assert sent.wait(60), "the heavy body was never sent"
        deadline = time.monotonic() + window_s
        # At least one probe overlaps the heavy request: the first is asked as its body lands.
        while True:
            started = time.perf_counter()
            probe.request("GET", "/healthz")
            reply = probe.getresponse()
            reply.read()
            result.latencies.append(time.perf_counter() - started)
            assert reply.status == 200
            if answered.is_set() or time.monotonic() > deadline:
                break
            answered.wait(0.01)  # pacing, not synchronisation: ~100 probes a second
    finally:
        probe.close()
        if not answered.is_set() and conn.sock is not None:
            # A heavy request still running is abandoned (its server is stopped next).
            conn.sock.shutdown(socket.SHUT_RDWR)
        sender.join(10)
        conn.close()
    return result

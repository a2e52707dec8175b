"""Child processes of the harness: spawn, wait until ready, measure, stop.

Every server the harness measures runs in its own process, started here with its output
sent to a log file (a full pipe would block it) and stopped with SIGTERM, then SIGKILL.
Readiness is an HTTP answer on the port; ``ready_s`` is the time from spawning to the
first answer (scenario e's start-to-ready), polled every 5 ms on loopback.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYCACHE = ROOT / "bench" / ".pycache"
"""Bytecode of every Python child, cached like an installed package's even where the
environment sets PYTHONDONTWRITEBYTECODE (then each start would recompile every module,
~0.4 s that no user with an installed behest-local pays)."""
"""The repository root: on children's ``PYTHONPATH`` so ``-m bench.upstream`` resolves."""
LISTENING = re.compile(r"listening on (http://[\w.\[\]:]+)")


def free_port() -> int:
    """A loopback port that was free a moment ago (bind to 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port: int, path: str, timeout: float = 0.5) -> int | None:
    """The status of ``GET path`` on loopback ``port``, or None if nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                         .encode())
            head = sock.recv(64)
    except OSError:
        return None
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else None


@dataclass
class Proc:
    """One spawned server."""

    name: str
    popen: subprocess.Popen
    log: Path
    spawned: float
    ready_s: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])

    def rss_mb(self) -> float:
        """Resident memory of the process and its descendants, in MiB (``/proc``)."""
        return sum(_rss_kb(pid) for pid in [self.pid, *_descendants(self.pid)]) / 1024

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the process and its descendants."""
        return sum(_cpu_s(pid) for pid in [self.pid, *_descendants(self.pid)])

    def stop(self, timeout: float = 5.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout)


def spawn(name: str, argv: list[str], log: Path, *, env: dict | None = None,
          cwd: Path | None = None, stdin=subprocess.DEVNULL, stdout=None,
          stderr=None) -> Proc:
    """Start ``argv`` in its own process group (so ``stop`` reaches its children too);
    ``stdout``/``stderr`` default to the log file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "wb")  # noqa: SIM115 - owned by the child from here on
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    spawned = time.perf_counter()
    popen = subprocess.Popen(argv, stdin=stdin, stdout=stdout if stdout is not None else handle,
                             stderr=stderr if stderr is not None else handle,
                             env={**base, "PYTHONPATH": path, "PYTHONPYCACHEPREFIX": str(PYCACHE),
                                  **(env or {})},
                             cwd=cwd, start_new_session=True)
    handle.close()
    return Proc(name, popen, log, spawned)


def wait_ready(proc: Proc, port: int, path: str, *, timeout: float,
               ok=lambda status: status is not None and status < 500) -> float:
    """Poll ``GET path`` until ``ok(status)``; sets and returns ``proc.ready_s``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n"
                               f"{proc.log_tail()}")
        if ok(http_status(port, path)):
            proc.ready_s = time.perf_counter() - proc.spawned
            return proc.ready_s
        time.sleep(0.005)
    proc.stop()
    raise RuntimeError(f"{proc.name} not ready after {timeout:.0f} s:\n{proc.log_tail()}")


def wait_banner(proc: Proc, *, timeout: float) -> str:
    """The ``http://host:port`` a child printed in its ``listening on`` line."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        match = LISTENING.search(proc.log.read_text(errors="replace"))
        if match:
            return match.group(1)
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n"
                               f"{proc.log_tail()}")
        time.sleep(0.01)
    proc.stop()
    raise RuntimeError(f"{proc.name} printed no 'listening on' line in {timeout:.0f} s")


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out

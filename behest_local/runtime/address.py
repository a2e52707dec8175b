"""Where the running gateway listens: a small file in the state dir, and the base URLs to give.

``serve`` binds a port the configuration may not predict (``--port 0``, ``--port N``, a
``[server] port`` edited since), so it announces the address it really bound in
``gateway.json`` in the state dir (``announce``; written atomically, mode 0600, as every
file there) and removes it on a clean shutdown (``withdraw``). The commands that print
URLs for the user to copy (``dashboard-token``, ``signing-keys create``) read it
(``running``): a file whose process is gone (``kill -9``, a crash) is stale and reads as
absent, so they fall back to the configured address and say so.

``base_url_lines`` says which form each client wants, since they differ
(reference/behest-api.md §2.3, §7): the v1.5 SDKs append ``/v1/…`` to ``BEHEST_BASE_URL``
themselves, so it is the bare origin; the v1.x clients (``BehestClient``,
``BehestSigningClient``) and the OpenAI SDKs take the ``/v1`` URL.

Standard library only: the CLI imports this for commands that load no server.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

ADDRESS_FILE = "gateway.json"


@dataclass(frozen=True, slots=True)
class Running:
    """A gateway's announcement: its origin URL (``http://127.0.0.1:7717``), its pid."""

    url: str
    pid: int
    started_at: float


def announce(home: Path, url: str) -> None:
    """Write ``gateway.json`` for this process listening at ``url`` (blocking: file I/O
    and fsync; ``serve`` calls it in a worker thread)."""
    from behest_local.atomic import atomic_write

    data = {"url": url, "pid": os.getpid(), "started_at": time.time()}
    atomic_write(Path(home) / ADDRESS_FILE, json.dumps(data).encode())


def withdraw(home: Path) -> None:
    """Remove ``gateway.json`` if it is this process's: a second gateway on the same state
    dir may have announced itself since, and its file stays."""
    path = Path(home) / ADDRESS_FILE
    found = _read(path)
    if found is not None and found.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def running(home: Path) -> Running | None:
    """The gateway announced in ``home``, or None: no file, an unreadable one, or one
    whose process no longer exists (stale)."""
    found = _read(Path(home) / ADDRESS_FILE)
    return found if found is not None and _alive(found.pid) else None


def _read(path: Path) -> Running | None:
    try:
        data = json.loads(path.read_bytes())
        return Running(str(data["url"]), int(data["pid"]), float(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def origin(home: Path, host: str, port: int) -> tuple[str, str]:
    """The gateway's origin for a command to print, and where it comes from: the gateway
    running on ``home``, else the configured ``host`` and ``port``."""
    found = running(home)
    if found is not None:
        return found.url, "the gateway running on this state dir"
    shown = f"[{host}]" if ":" in host else host
    return (f"http://{shown}:{port}",
            "no gateway is running on this state dir: the configured address")


def base_url_lines(origin: str) -> list[str]:
    """Which base URL each client wants for the gateway at ``origin``."""
    return [f"BEHEST_BASE_URL={origin}      (v1.5 SDKs, Behest(...): they add /v1 themselves)",
            f"BEHEST_BASE_URL={origin}/v1   (v1.x clients, BehestClient / BehestSigningClient)",
            f"base_url={origin}/v1          (the OpenAI SDKs)"]

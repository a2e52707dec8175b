"""Usage records in SQLite under the state dir, written off the event loop in batches.

One ``UsageRecord`` per billed request (``recorder.py`` builds them from finished
exchanges) lands in ``<state dir>/usage.sqlite3``, so usage, cost and the daily budgets
survive a restart. ``sqlite3`` blocks, so the event loop never touches the database: one
writer thread owns the only connection. ``add`` puts a record on a queue (O(1), never
waits; past ``max_pending`` records are dropped and counted rather than queued without
bound) and the thread writes whatever has gathered within ``linger`` seconds in one
transaction. Queries are jobs on the same queue (``run``), so a query sees every record
added before it: a client that reads ``GET /v1/usage`` right after its request finds it.
``close`` drains the queue before stopping, so an orderly shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

log = logging.getLogger("behest_local.finops")

DB_FILE = "usage.sqlite3"
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One billed request: who, which model, how many tokens, what it cost."""

    exchange_id: str
    at: float
    """Unix time the exchange ended."""
    tenant: str
    project: str
    user_id: str | None
    session_id: str | None
    model: str
    """The model that answered (after routing)."""
    requested_model: str | None
    provider: str
    byok: bool
    """Served with the tenant's own provider key (Behest's BYOK bucket), not the platform's."""
    stream: bool
    status: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    path: str


COLUMNS = tuple(f.name for f in fields(UsageRecord))
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS usage (
    exchange_id TEXT PRIMARY KEY, at REAL NOT NULL, tenant TEXT NOT NULL,
    project TEXT NOT NULL, user_id TEXT, session_id TEXT, model TEXT NOT NULL,
    requested_model TEXT, provider TEXT NOT NULL, byok INTEGER NOT NULL,
    stream INTEGER NOT NULL, status INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS usage_project_at ON usage (project, at);
CREATE INDEX IF NOT EXISTS usage_project_user_at ON usage (project, user_id, at);
PRAGMA user_version = {SCHEMA_VERSION};
"""
_INSERT = (f"INSERT OR IGNORE INTO usage ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in COLUMNS)})")


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple
    future: concurrent.futures.Future


_STOP = object()


class UsageStore:
    """The usage database and its writer thread.

    Args:
        path: the SQLite file (created with its directory).
        linger: seconds the writer waits for more records before committing a batch.
        max_pending: records queued before further ones are dropped (and counted).
    """

    def __init__(self, path: Path, *, linger: float = 0.05, max_pending: int = 100_000,
                 batch_size: int = 1000) -> None:
        self.path = Path(path)
        self.linger, self.max_pending, self.batch_size = linger, max_pending, batch_size
        self.dropped = 0
        self.written = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._added = 0  # written by the event loop's thread only
        self._done = 0  # written by the writer thread only: no lock needed for either
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                 "PRAGMA busy_timeout=5000;" + SCHEMA)
        self._thread = threading.Thread(target=self._loop, name="behest-local usage writer",
                                        daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, home: Path, **options: Any) -> UsageStore:
        return cls(Path(home) / DB_FILE, **options)

    # -- the event loop's side: never blocks ---------------------------------------------

    def add(self, record: UsageRecord) -> None:
        """Queue ``record`` for the writer (O(1); dropped and counted when overloaded)."""
        if self._closed or self._added - self._done >= self.max_pending:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("usage writer is behind or closed: %d records dropped",
                            self.dropped)
            return
        self._added += 1
        self._queue.put(record)

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        """Run ``fn(connection, *args)`` on the writer thread after every queued record."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        if self._closed:
            future.set_exception(RuntimeError("the usage store is closed"))
        else:
            self._queue.put(_Job(fn, args, future))
        return future

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``submit`` for coroutines: await the result without blocking the loop."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    # -- blocking: tests, startup and shutdown -------------------------------------------

    def flush(self, timeout: float = 10) -> None:
        """Wait until every record queued so far is written."""
        self.submit(lambda conn: None).result(timeout)

    def close(self, timeout: float = 10) -> None:
        """Write what is queued, then stop the thread and close the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._conn.close()

    # -- the writer thread -----------------------------------------------------------------

    def _loop(self) -> None:
        running = True
        while running:
            batch = self._gather()
            records = [item for item in batch if isinstance(item, UsageRecord)]
            if records:
                self._write(records)
            for item in batch:
                if item is _STOP:
                    running = False
                elif isinstance(item, _Job) and item.future.set_running_or_notify_cancel():
                    try:
                        item.future.set_result(item.fn(self._conn, *item.args))
                    except BaseException as exc:  # handed to the awaiting caller
                        item.future.set_exception(exc)

    def _gather(self) -> list:
        """The next batch: records arriving within ``linger``, up to the first job."""
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.linger
        while isinstance(batch[-1], UsageRecord) and len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0
                             else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, records: list[UsageRecord]) -> None:
        try:
            with self._conn:
                self._conn.executemany(_INSERT, [astuple(r) for r in records])
            self.written += len(records)
        except sqlite3.Error:
            log.exception("could not write %d usage records to %s", len(records), self.path)
        finally:
            self._done += len(records)

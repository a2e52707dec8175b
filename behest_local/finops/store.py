"""Usage records in SQLite under the state dir, written off the event loop in batches.

One ``UsageRecord`` per billed request (``recorder.py`` builds them from finished
exchanges) lands in ``<state dir>/data/usage.sqlite3``, so usage, cost and the daily budgets
survive a restart. ``sqlite3`` blocks, so the event loop never touches the database: one
writer thread owns the only connection.

``add`` is on every request's path, so it only appends to a deque: no lock, no queue, no
thread switch per record (past ``max_pending`` records are dropped and counted rather than
queued without bound). The first record after a write sets an event; the writer then
lingers ``linger`` seconds and writes everything that gathered in one transaction, so the
thread wakes a few times a second under load and never when idle. Queries are jobs
(``submit``/``run``) that wake the writer at once and run after every record added before
them: a client that reads ``GET /v1/usage`` right after its request finds it. ``close``
writes what is queued before stopping, so an orderly shutdown loses nothing, and a crash
(``kill -9``) loses only what gathered in the last ``linger`` (committed transactions are in
the WAL, which survives the process).

One bad record never costs the others (issue 17): when a batch fails, the writer writes it
record by record, repairs what it can (text that is not UTF-8) and skips, logs and counts
only a record that still cannot be stored. ``open`` checks the file's pages and sets a
damaged one aside for a new one (``databases.open_or_set_aside``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

from behest_local.databases import check, open_or_set_aside, storable
from behest_local.home import database_file, database_path, private_file

log = logging.getLogger("behest_local.finops")

DB_FILE = "usage.sqlite3"
SCHEMA_VERSION = 1


class UsageRecord(NamedTuple):
    """One billed request: who, which model, how many tokens, what it cost.

    A named tuple, not a dataclass: built once per request on the event loop and handed to
    SQLite as the row itself, in ``COLUMNS`` order, with no conversion."""

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


COLUMNS = UsageRecord._fields
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
_ROWS_PER_INSERT = 32
"""Rows one INSERT statement carries (times 16 columns: under SQLite's historic 999
parameters). One statement for many rows binds in C and steps once, where ``executemany``
steps, and lets go of and takes back the GIL, once per row: a third less CPU per row."""
_INSERTS = tuple(
    f"INSERT OR IGNORE INTO usage ({', '.join(COLUMNS)}) VALUES "
    + ", ".join([f"({', '.join('?' for _ in COLUMNS)})"] * (1 << power))
    for power in range(_ROWS_PER_INSERT.bit_length()))
"""``_INSERTS[k]`` inserts 2**k rows: any batch is a sum of these, so few statements are
ever prepared (SQLite's statement cache keeps them)."""


_RECORD_ERRORS = (ValueError, OverflowError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
                  sqlite3.IntegrityError)
"""What binding or inserting one record raises when the record, not the database, is at
fault (``UnicodeEncodeError`` is a ``ValueError``; an int past 64 bits, an ``OverflowError``)."""


class UsageStoreUnavailable(Exception):
    """The usage database at ``path`` cannot be opened, and ``reason`` why: a file that is
    not a database, a directory in its place, a directory it may not write."""

    def __init__(self, path: Path, reason: BaseException) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple
    future: concurrent.futures.Future


class UsageStore:
    """The usage database and its writer thread.

    Args:
        path: the SQLite file (created with its directory).
        linger: seconds the writer lets records gather before committing a batch.
        max_pending: records queued before further ones are dropped (and counted).
    """

    def __init__(self, path: Path, *, linger: float = 0.25,
                 max_pending: int = 100_000) -> None:
        self.path = Path(path)
        self.linger, self.max_pending = linger, max_pending
        self.dropped = 0
        self.written = 0
        # Appended by the event loop, popped by the writer: deque's append and popleft are
        # atomic, so records need no lock. Jobs are rare and take ``_lock`` (see ``close``).
        self._records: deque[UsageRecord] = deque()
        self._jobs: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._pending = threading.Event()  # records or jobs wait: the writer has work
        self._urgent = threading.Event()  # a job or close waits: stop lingering
        self._closed = False
        private_file(self.path)  # 0600 before SQLite sees it: its WAL and SHM copy the mode
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        try:
            self._conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                     "PRAGMA busy_timeout=5000;")
            check(self._conn)  # damaged pages are found now, not by the first report
            if self._conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._conn.executescript(SCHEMA)
        except BaseException:  # not a database, or not ours to write: no connection left open
            self._conn.close()
            raise
        self._thread = threading.Thread(target=self._loop, name="behest-local usage writer",
                                        daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, home: Path, **options: Any) -> UsageStore:
        """The usage database of state dir ``home``; a damaged one is set aside for a new
        one (``databases.open_or_set_aside``). ``UsageStoreUnavailable`` when it cannot be
        opened otherwise (a directory in its place, no permission: left as it is)."""
        path = database_path(home, DB_FILE)
        try:
            return open_or_set_aside(path, lambda: cls(path, **options))
        except (sqlite3.DatabaseError, OSError) as exc:
            raise UsageStoreUnavailable(database_file(home, DB_FILE), exc) from exc

    # -- the event loop's side: never blocks ---------------------------------------------

    def add(self, record: UsageRecord) -> None:
        """Queue ``record`` for the writer (O(1); dropped and counted when overloaded)."""
        if self._closed or len(self._records) >= self.max_pending:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("usage writer is behind or closed: %d records dropped",
                            self.dropped)
            return
        self._records.append(record)
        if not self._pending.is_set():  # once per batch: the writer clears it, then drains
            self._pending.set()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        """Run ``fn(connection, *args)`` on the writer thread after every queued record."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                future.set_exception(RuntimeError("the usage store is closed"))
                return future
            self._jobs.append(_Job(fn, args, future))
        self._urgent.set()
        self._pending.set()
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
        with self._lock:  # a job submitted before this is in the writer's last round
            if self._closed:
                return
            self._closed = True
        self._urgent.set()
        self._pending.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._conn.close()

    # -- the writer thread -----------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._pending.wait()
            self._urgent.wait(self.linger)  # let records gather, unless a job waits
            # Clear before taking work: whatever arrives from here on sets them again.
            self._urgent.clear()
            self._pending.clear()
            with self._lock:
                closing = self._closed
                jobs = [self._jobs.popleft() for _ in range(len(self._jobs))]
            # Jobs were taken first, so every record added before any of them is queued.
            self._drain()
            for job in jobs:
                if job.future.set_running_or_notify_cancel():
                    try:
                        job.future.set_result(job.fn(self._conn, *job.args))
                    except BaseException as exc:  # handed to the awaiting caller
                        job.future.set_exception(exc)
            if closing:
                return

    def _drain(self) -> None:
        """Write every queued record in one transaction; should that fail, record by
        record (``_write_each``), so one bad record costs only itself."""
        records = self._records
        # Those added from here on set ``_pending`` again and wait for the next round.
        batch = [records.popleft() for _ in range(len(records))]
        if not batch:
            return
        try:
            with self._conn:
                start, size = 0, _ROWS_PER_INSERT
                while start < len(batch):
                    while size > len(batch) - start:
                        size //= 2
                    self._conn.execute(_INSERTS[size.bit_length() - 1],
                                       list(chain.from_iterable(batch[start:start + size])))
                    start += size
            self.written += len(batch)
        except Exception:  # rolled back: find the record at fault (never kill the writer)
            self._write_each(batch)

    def _write_each(self, batch: list[UsageRecord]) -> None:
        """``batch`` one record at a time, in one transaction. A record SQLite cannot bind
        is written with lone surrogates replaced (``databases.storable``), else skipped;
        either way it is logged once, by its exchange id only (its values may be anyone's
        text). A failure of the database itself (disk full, I/O) loses the batch, logged."""
        written = 0
        try:
            with self._conn:
                for record in batch:
                    try:
                        self._conn.execute(_INSERTS[0], record)
                    except _RECORD_ERRORS as exc:
                        written += self._write_repaired(record, exc)
                    else:
                        written += 1
        except Exception as exc:
            self.dropped += len(batch)
            log.error("could not write %d usage records to %s (%s: %s); they are lost",
                      len(batch), self.path, type(exc).__name__, exc)
            return
        self.written += written

    def _write_repaired(self, record: UsageRecord, exc: Exception) -> int:
        """Write ``record`` with what SQLite refused replaced, if that is what it refused:
        1 if written, 0 if skipped (and counted as dropped)."""
        if isinstance(exc, UnicodeEncodeError):
            try:
                self._conn.execute(_INSERTS[0], storable(record))
            except _RECORD_ERRORS:
                pass
            else:
                log.warning("usage record %s held text that is not UTF-8: written with "
                            "U+FFFD in its place", record.exchange_id)
                return 1
        self.dropped += 1
        log.warning("usage record %s could not be written (%s) and is skipped; the others "
                    "are kept", record.exchange_id, type(exc).__name__)
        return 0

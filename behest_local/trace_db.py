"""The trace database: finished exchanges persisted in SQLite under the state dir.

The ``TraceStore`` keeps only a ring of recent exchanges in memory; this keeps their
records (record.py: redacted, JSON) in ``<state dir>/traces.sqlite3`` so that
``behest-local traces export`` and the TUI can reach older ones. Retention is bounded
by row count and age, pruned as the writer goes.

sqlite3 blocks, so nothing here touches the database on the event loop. ``subscriber``
is the ``TraceStore`` callback: on a terminal event it puts the exchange on a bounded
queue (O(1); when the queue is full the record is dropped and counted, never waited
for). A dedicated writer thread drains the queue every ``interval`` seconds, builds the
records there (decoding and redacting off the request path) and writes each batch in
one transaction. A non-streamed response's body is recorded just *after* its exchange
finishes (the response is prepared after the handler returns), so the writer holds an
exchange until its capture says the response was recorded, or ``SETTLE`` seconds pass.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from behest_local.events import ExchangeFailed, ExchangeFinished, ProbeReported, TraceEvent
from behest_local.exchange import Exchange
from behest_local.record import build_record

log = logging.getLogger("behest_local.trace_db")

DB_FILE = "traces.sqlite3"
SETTLE = 1.0
INTERNAL_PREFIX = "/_behest/"

SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY, wall_time REAL NOT NULL, project TEXT, status INTEGER,
    method TEXT, path TEXT, model TEXT, provider TEXT, stream INTEGER, duration REAL,
    error TEXT, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS exchanges_wall_time ON exchanges (wall_time);
"""


class TraceDB:
    """SQLite persistence of exchange records with a batching writer thread.

    Args:
        path: the database file (``<state dir>/traces.sqlite3`` via ``open``).
        max_rows: newest records kept.
        max_age: seconds a record is kept.
        interval: seconds between batches.
        queue_size: exchanges waiting to be written before new ones are dropped.
    """

    def __init__(self, path: Path, *, max_rows: int = 10_000, max_age: float = 7 * 86400,
                 interval: float = 0.25, queue_size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.max_rows, self.max_age, self.interval = max_rows, max_age, interval
        self.dropped = 0
        self.written = 0
        self.error: str | None = None
        """The last write failure, for the TUI's header; None while writes succeed."""
        self._clock = clock
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._late_probes: dict[str, dict] = {}

    @classmethod
    def open(cls, home: Path, **options) -> TraceDB:
        db = cls(Path(home) / DB_FILE, **options)
        db.start()
        return db

    # -- the hot path -----------------------------------------------------------------

    def subscriber(self, event: TraceEvent, exchange: Exchange | None) -> None:
        if exchange is None or exchange.path.startswith(INTERNAL_PREFIX):
            return
        if isinstance(event, (ExchangeFinished, ExchangeFailed)):
            self._put(("exchange", exchange, self._clock()))
        elif isinstance(event, ProbeReported):
            self._put(("probe", exchange.id, {"verdict": event.verdict, "level": event.level,
                                              "client": list(event.client),
                                              "findings": list(event.findings)}))

    def _put(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("trace database is falling behind; dropping records (%s)", self.path)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)
        os.chmod(self.path, 0o600)  # prompts and replies are the user's data
        self._thread = threading.Thread(target=self._run, name="behest-local trace writer",
                                        daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything queued so far is written (tests, exports, shutdown)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.put(("flush", done))
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer. Blocking: call via ``to_thread``."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(("stop",))
            self._thread.join(timeout)

    # -- the writer thread ------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # exports read while the gateway writes
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _run(self) -> None:
        conn = self._connect()
        pending: list[tuple[Exchange, float]] = []
        try:
            self._prune(conn)
            while True:
                items = self._drain()
                stop = any(i[0] == "stop" for i in items)
                flushes = [i[1] for i in items if i[0] == "flush"]
                pending += [(i[1], i[2]) for i in items if i[0] == "exchange"]
                probes = [(i[1], i[2]) for i in items if i[0] == "probe"]
                now = self._clock()
                force = stop or bool(flushes)
                ready = [e for e, t in pending if force or _settled(e, now - t)]
                pending = [(e, t) for e, t in pending if not (force or _settled(e, now - t))]
                if ready or probes:
                    self._write(conn, ready, probes)
                for done in flushes:
                    done.set()
                if stop:
                    return
        finally:
            conn.close()

    def _drain(self) -> list[tuple]:
        try:
            items = [self._queue.get(timeout=self.interval)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.interval
        while len(items) < 500 and time.monotonic() < deadline:
            try:
                items.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
            if items[-1][0] in ("flush", "stop"):
                break
        return items

    def _write(self, conn: sqlite3.Connection, exchanges: list[Exchange],
               probes: list[tuple[str, dict]]) -> None:
        try:
            rows = []
            for exchange in exchanges:
                record = build_record(exchange)
                if exchange.id in self._late_probes:
                    record["probe"] = self._late_probes.pop(exchange.id)
                rows.append(_row(record))
            with conn:
                conn.executemany("INSERT OR REPLACE INTO exchanges VALUES "
                                 "(?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                for exchange_id, probe in probes:
                    found = conn.execute("SELECT record FROM exchanges WHERE id = ?",
                                         (exchange_id,)).fetchone()
                    if found is None:
                        self._late_probes[exchange_id] = probe
                        while len(self._late_probes) > 1000:
                            self._late_probes.pop(next(iter(self._late_probes)))
                        continue
                    record = json.loads(found[0])
                    record["probe"] = probe
                    conn.execute("UPDATE exchanges SET record = ? WHERE id = ?",
                                 (json.dumps(record, ensure_ascii=False), exchange_id))
            self.written += len(rows)
            if self.written % 500 < len(rows):
                self._prune(conn)
            self.error = None
        except (sqlite3.Error, OSError) as exc:
            if self.error is None:
                log.warning("could not write traces to %s: %s", self.path, exc)
            self.error = f"{type(exc).__name__}: {exc}"

    def _prune(self, conn: sqlite3.Connection) -> None:
        with conn:
            conn.execute("DELETE FROM exchanges WHERE wall_time < ?",
                         (time.time() - self.max_age,))
            conn.execute("DELETE FROM exchanges WHERE id IN (SELECT id FROM exchanges ORDER BY "
                         "wall_time DESC LIMIT -1 OFFSET ?)", (self.max_rows,))

    # -- reading (any thread, its own connection) -------------------------------------

    def records(self, *, limit: int | None = None, project: str | None = None,
                since: float | None = None) -> Iterator[dict]:
        """Stored records, oldest first; ``limit`` keeps the newest ``limit``."""
        return read_records(self.path, limit=limit, project=project, since=since)

    def get(self, exchange_id: str) -> dict | None:
        return read_record(self.path, exchange_id)


def read_record(path: Path, exchange_id: str) -> dict | None:
    """One stored record by request id, or None."""
    if not Path(path).exists():
        return None
    conn = sqlite3.connect(path, timeout=5)
    try:
        row = conn.execute("SELECT record FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
    finally:
        conn.close()
    return json.loads(row[0]) if row else None


def read_records(path: Path, *, limit: int | None = None, project: str | None = None,
                 since: float | None = None) -> Iterator[dict]:
    """Records from a trace database file, oldest first (usable without a running gateway)."""
    if not Path(path).exists():
        return iter(())
    where, args = [], []
    if project:
        where.append("project = ?")
        args.append(project)
    if since is not None:
        where.append("wall_time >= ?")
        args.append(since)
    sql = "SELECT record FROM exchanges"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY wall_time DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    conn = sqlite3.connect(path, timeout=5)  # not mode=ro: reading a WAL file may need -shm
    try:
        rows = conn.execute(sql, args).fetchall()
    finally:
        conn.close()
    return iter([json.loads(r[0]) for r in reversed(rows)])


def _settled(exchange: Exchange, age: float) -> bool:
    capture = exchange.capture
    return (capture is not None and capture.responded and age >= 0.05) or age >= SETTLE


def _row(record: dict) -> tuple:
    return (record["id"], record["wall_time"], record["project"], record["status"],
            record["method"], record["path"], record["model"], record["provider"],
            int(bool(record["stream"])), record["duration"], record["error"],
            json.dumps(record, ensure_ascii=False))

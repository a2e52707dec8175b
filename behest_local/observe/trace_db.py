"""The trace database: finished exchanges persisted in SQLite under the state dir.

The ``TraceStore`` keeps only a ring of recent exchanges in memory; this keeps their
records (observe/record.py: redacted, JSON) in ``<state dir>/data/traces.sqlite3`` so that
``behest-local traces export`` and the TUI can reach older ones. Records are stored
without their assembled message, which ``read_record(s)`` derive (record.with_message).
Retention is bounded by row count and age, pruned as the writer goes.

sqlite3 blocks, so nothing here touches the database on the event loop. ``subscriber``
is the ``TraceStore`` callback (subscribed for ``TraceDB.EVENTS`` only). On a terminal
event whose response is already recorded (a stream, a whole response: the usual case)
it encodes the exchange at once (``trace_writer.encode``, a few µs: plain values, no
redaction) and appends the bytes to a bounded deque; an exchange whose response is yet
to be recorded (a refusal: its response is prepared after its end) is queued as itself,
and the writer encodes it once its capture says the response was recorded, or
``SETTLE`` seconds pass. When the deque is full a record is dropped and counted, never
waited for. A dedicated writer thread sleeps until the first record of a round arrives,
lets ``interval`` seconds gather more (at once for ``flush`` and ``close``; never woken
while idle), then builds and redacts the round's records (``trace_writer.Writer``) and
commits them in one transaction; ``flush`` returns once they are committed.

The records used to be built in a child process, so that the ~60 µs of Python a record
costs would not hold the GIL in the gateway's process (issue 9). Measured against this
thread for issue 25 (2026-12-07, 2-core AMD EPYC VM with a load average of 2–8 from other
work), bench scenario a, two interleaved runs each, the process bought nothing: CPU per
request, the child included, 421 and 521 µs with it (2.90× and 3.04× the bare proxy's in
the same runs) against 446 and 468 µs in this thread (2.74×, 2.90×); req/s 0.40× and
0.36× bare against 0.45× and 0.36×. It cost a second interpreter: 16.5 of the idle
gateway's 73.6 MiB (bench e).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from behest_local.databases import check, open_or_set_aside
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished, ProbeReported, TraceEvent
from behest_local.exchange.exchange import Exchange
from behest_local.home import database_path, private_file
from behest_local.observe.record import with_message
from behest_local.observe.trace_writer import SCHEMA, Writer, encode

log = logging.getLogger("behest_local.observe.trace_db")

DB_FILE = "traces.sqlite3"
_ENDS = (ExchangeFinished, ExchangeFailed)
SETTLE = 1.0
INTERNAL_PREFIX = "/_behest/"


class TraceDB:
    """SQLite persistence of exchange records with a batching writer thread.

    Args:
        path: the database file (``<state dir>/data/traces.sqlite3`` via ``open``).
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
        self.queue_size = queue_size
        # deque.append and popleft are atomic: the hot path takes no lock, and wakes the
        # writer only with the first record of a round (``_put``).
        self._queue: deque[tuple] = deque()
        self._pending = threading.Event()  # something is queued: the writer has work
        self._urgent = threading.Event()  # a flush or stop waits: stop lingering
        self._thread: threading.Thread | None = None
        self._writer: Writer | None = None  # the writer thread's own, opened on first use

    @classmethod
    def open(cls, home: Path, **options) -> TraceDB:
        db = cls(database_path(home, DB_FILE), **options)
        db.start()
        return db

    # -- the hot path -----------------------------------------------------------------

    EVENTS = (ExchangeFinished, ExchangeFailed, ProbeReported)
    """What ``subscriber`` takes: ``store.subscribe(db.subscriber, events=TraceDB.EVENTS)``."""

    def subscriber(self, event: TraceEvent, exchange: Exchange | None) -> None:
        if exchange is None or exchange.path.startswith(INTERNAL_PREFIX):
            return
        if isinstance(event, _ENDS):
            if len(self._queue) >= self.queue_size:
                self._drop()  # before encoding it: a dropped record costs nothing
                return
            capture = exchange.capture
            if capture is not None and capture.responded:
                # Already final (a stream's frames, a whole response recorded before its
                # end): encoded here, a few µs on the loop, so the writer thread has no
                # Python work of its own to contend with the loop for the GIL over.
                self._put(("encoded", encode(exchange)))
            else:  # its response is still to be recorded: the writer waits for it
                self._put(("exchange", exchange, self._clock()))
        elif isinstance(event, ProbeReported):
            self._put(("probe", exchange.id, {"verdict": event.verdict, "level": event.level,
                                              "client": list(event.client),
                                              "findings": list(event.findings)}))

    def _put(self, item: tuple) -> None:
        if len(self._queue) < self.queue_size:
            self._queue.append(item)
            # Once per round: the writer clears it before taking the queue, so a record
            # appended after that sets it again. An idle writer waits on it, untimed.
            if not self._pending.is_set():
                self._pending.set()
        else:
            self._drop()

    def _drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1:
            log.warning("trace database is falling behind; dropping records (%s)", self.path)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Open (or create) the database, setting a damaged one aside for a new one
        (``databases.open_or_set_aside``), and start the writer thread. Blocking."""
        open_or_set_aside(self.path, self._create)
        self._thread = threading.Thread(target=self._run, name="behest-local trace writer",
                                        daemon=True)
        self._thread.start()

    def _create(self) -> None:
        private_file(self.path)  # prompts and replies: 0600 before SQLite (and its WAL) sees it
        conn = sqlite3.connect(self.path, timeout=5)
        try:
            check(conn)
            with conn:
                conn.executescript(SCHEMA)
        finally:
            conn.close()

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything queued so far is written (tests, exports, shutdown)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.append(("flush", done))  # control items are never dropped
        self._wake_now()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer. Blocking: call via ``to_thread``."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.append(("stop",))
            self._wake_now()
            self._thread.join(timeout)

    def _wake_now(self) -> None:
        self._urgent.set()
        self._pending.set()

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        pending: list[tuple[Exchange, float]] = []
        try:
            while True:
                items = self._drain(settling=bool(pending))
                stop = any(i[0] == "stop" for i in items)
                flushes = [i[1] for i in items if i[0] == "flush"]
                pending += [(i[1], i[2]) for i in items if i[0] == "exchange"]
                encoded = [i[1] for i in items if i[0] == "encoded"]
                probes = [(i[1], i[2]) for i in items if i[0] == "probe"]
                now = self._clock()
                force = stop or bool(flushes)
                ready = [e for e, t in pending if force or _settled(e, now - t)]
                pending = [(e, t) for e, t in pending if not (force or _settled(e, now - t))]
                if ready:
                    encoded += [encode(e) for e in ready]
                if encoded or probes:
                    self._write(encoded, probes)
                for done in flushes:
                    done.set()
                if stop:
                    return
        finally:
            self._close_writer()

    def _drain(self, settling: bool) -> list[tuple]:
        """Everything queued, once there is something: the first record of a round arms
        an ``interval`` for more to gather (cut short by a flush or stop). Idle, the writer
        sleeps until then, untimed; with exchanges still ``settling`` it looks again every
        ``interval``."""
        if self._pending.wait(self.interval if settling else None):
            self._urgent.wait(self.interval)
        # Cleared before taking: an item appended after this sets them for the next round.
        self._urgent.clear()
        self._pending.clear()
        items = []
        take = self._queue.popleft
        for _ in range(len(self._queue)):
            items.append(take())
        return items

    def _write(self, payloads: list[bytes], probes: list[tuple[str, dict]]) -> None:
        """Build, store and commit one round's records; a failure is kept in ``error``
        (the TUI shows it) and logged once, and the next round tries again."""
        try:
            if self._writer is None:
                self._writer = Writer(str(self.path), max_rows=self.max_rows,
                                      max_age=self.max_age)
            written, skipped = self._writer.batch(payloads, probes)
        except (sqlite3.Error, OSError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:  # a bug here must not stop the writer: report, keep going
            self._failed(f"could not write a batch ({type(exc).__name__})")
            return
        self.written += written
        if skipped:  # one record that cannot be built or stored costs only itself (issue 17)
            self._failed("; ".join(skipped))
        else:
            self.error = None

    def _failed(self, error: str) -> None:
        if self.error is None:
            log.warning("could not write traces to %s: %s", self.path, error)
        self.error = error

    def _close_writer(self) -> None:
        """Prune as the writer stops (and every ``PRUNE_EVERY`` rows), then close."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.prune()
            except sqlite3.Error:
                pass
            writer.conn.close()

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
    return with_message(json.loads(row[0])) if row else None


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
    return (with_message(json.loads(r[0])) for r in reversed(rows))


def _settled(exchange: Exchange, age: float) -> bool:
    capture = exchange.capture
    return (capture is not None and capture.responded and age >= 0.05) or age >= SETTLE

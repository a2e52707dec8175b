"""Trace records built and stored off the event loop: what ``trace_db``'s writer thread runs.

``trace_db.TraceDB`` ``encode``s each finished exchange on the loop (its ``snapshot``:
plain values, the exchange's fields as ``exchange.FIELDS`` declares them and its
capture's raw headers, bodies and frames, no objects, marshalled: ~9 µs), so that the
record reflects the exchange as it ended and the writer thread holds no live object.
The thread ``decode``s each one into an exchange-like object and a ``Capture``, builds
its record with the same ``record.build_record`` every reader uses (redaction included),
and ``Writer`` stores a round of them in one transaction. One record that cannot be
built or stored costs only itself (issue 17).

Until issue 25 this ran in a child process fed through a pipe (hence ``marshal``, still
the cheapest copy of plain values); ``trace_db`` says why it no longer does.
"""

from __future__ import annotations

import json
import marshal
import sqlite3
import time
from operator import attrgetter

from behest_local.databases import storable
from behest_local.exchange.capture import Capture
from behest_local.exchange.exchange import FIELDS, Exchange
from behest_local.observe.record import build_record

SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY, wall_time REAL NOT NULL, project TEXT, status INTEGER,
    method TEXT, path TEXT, model TEXT, provider TEXT, stream INTEGER, duration REAL,
    error TEXT, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS exchanges_wall_time ON exchanges (wall_time);
"""
PRUNE_EVERY = 2000
"""Records written between two prunes of old rows."""
MAX_LATE_PROBES = 1000
"""Probe verdicts kept for exchanges not written yet (a verdict may arrive first)."""

# What crosses of an exchange: every declared field but those derived from the others,
# which the rebuilt exchange computes with the same properties (exchange.FIELDS).
_CARRIED = tuple(f for f in FIELDS if not f.derived)
_values = attrgetter(*(f.name for f in _CARRIED))  # one C call for all of them
_PLAIN = tuple((i, f.plain) for i, f in enumerate(_CARRIED) if f.plain is not None)
_TYPED = tuple((f.name, f.typed) for f in _CARRIED)


# -- the exchange as the writer thread takes it --------------------------------------------

def snapshot(exchange: Exchange) -> tuple:
    """``exchange`` as plain values (on the loop: a few µs, no redaction here): its
    carried fields in declaration order, and its capture's ``Capture.snapshot``."""
    values = _values(exchange)
    if _PLAIN:
        values = list(values)
        for index, plain_value in _PLAIN:
            values[index] = plain_value(values[index])
    capture = exchange.capture
    return (values, capture.snapshot() if capture is not None else None)


def encode(exchange: Exchange) -> bytes:
    """``snapshot`` as bytes (``marshal``: a copy nothing else holds; ``plain`` first if a value
    is a subclass of a built-in type, which marshal refuses)."""
    return _dumps(snapshot(exchange))


def decode(payload: bytes) -> _Recorded:
    """The exchange ``encode`` was given, as ``build_record`` reads it."""
    return restore(marshal.loads(payload))


class _Recorded:
    """An exchange as ``build_record`` reads it, rebuilt from a snapshot: the carried
    fields, its capture, and (set below) ``Exchange``'s own properties for the derived
    ones."""

    __slots__ = (*(f.name for f in _CARRIED), "capture")


for _field in FIELDS:
    if _field.derived:
        setattr(_Recorded, _field.name, getattr(Exchange, _field.name))


def restore(values: tuple) -> _Recorded:
    fields, capture = values
    exchange = _Recorded()
    for (name, typed), value in zip(_TYPED, fields, strict=True):
        setattr(exchange, name, value if typed is None else typed(value))
    exchange.capture = Capture.restore(capture) if capture is not None else None
    return exchange


def _dumps(value: object) -> bytes:
    try:
        return marshal.dumps(value)
    except ValueError:  # a subclass of a plain type somewhere (marshal takes exact types)
        return marshal.dumps(plain(value))


_EXACT = (str, bytes, int, float, bool, type(None))


def plain(value: object) -> object:
    """``value`` with every part an exact built-in type ``marshal`` takes: subclasses of
    str, bytes, int and float become their base; anything else becomes None."""
    kind = type(value)
    if kind in _EXACT:
        return value
    if kind is tuple or kind is list:
        return kind(plain(item) for item in value)  # type: ignore[operator]
    if kind is dict:
        return {plain(k): plain(v) for k, v in value.items()}  # type: ignore[attr-defined]
    for base in (str, bytes, float, int):  # int last: bool is an int
        if isinstance(value, base):
            return base(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return None


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")  # exports read while the gateway writes
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class Writer:
    """The writer thread's state: one connection, the retention rules, probes waiting
    for rows."""

    def __init__(self, path: str, *, max_rows: int, max_age: float) -> None:
        self.conn = connect(path)
        self.conn.executescript(SCHEMA)
        self.max_rows, self.max_age = max_rows, max_age
        self.written = self.pruned_at = 0
        self.late_probes: dict[str, dict] = {}
        self.prune()

    def batch(self, payloads: list[bytes], probes: list) -> tuple[int, list[str]]:
        """Insert the records of ``payloads`` and merge ``probes`` in one transaction.
        Returns how many were written and why any were not: one record that cannot be
        built or stored is skipped, never its batch (``_insert``)."""
        rows, skipped = [], []
        for payload in payloads:
            try:
                record = build_record(decode(payload), message=False)  # derived when read
            except Exception as exc:  # a record that cannot be built: report it, keep going
                skipped.append(f"could not build a record ({type(exc).__name__})")
                continue
            probe = self.late_probes.pop(record["id"], None)
            if probe is not None:
                record["probe"] = probe
            rows.append(_row(record))
        conn = self.conn
        try:
            written = self._insert(rows, skipped)
            for exchange_id, probe in probes:
                found = conn.execute("SELECT record FROM exchanges WHERE id = ?",
                                     (exchange_id,)).fetchone()
                if found is None:
                    self.late_probes[exchange_id] = probe
                    while len(self.late_probes) > MAX_LATE_PROBES:
                        self.late_probes.pop(next(iter(self.late_probes)))
                    continue
                record = json.loads(found[0])
                record["probe"] = probe
                conn.execute("UPDATE exchanges SET record = ? WHERE id = ?",
                             (json.dumps(record, ensure_ascii=False), exchange_id))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        self.written += written
        if self.written - self.pruned_at >= PRUNE_EVERY:
            self.prune()
        return written, skipped

    def _insert(self, rows: list[tuple], skipped: list[str]) -> int:
        """Insert ``rows`` (all at once; row by row if that fails, a row SQLite cannot
        bind retried with lone surrogates replaced, then skipped); how many went in."""
        try:
            self.conn.executemany(_INSERT, rows)
            return len(rows)
        except _ROW_ERRORS:
            pass
        written = 0
        for row in rows:  # OR REPLACE: rows the failed executemany inserted are no matter
            for attempt in (row, storable(row)):
                try:
                    self.conn.execute(_INSERT, attempt)
                except _ROW_ERRORS as exc:
                    error = exc
                else:
                    written += 1
                    break
            else:
                skipped.append(f"could not store record {row[0]} ({type(error).__name__})")
        return written

    def prune(self) -> None:
        """Drop rows older than ``max_age``, then all but the newest ``max_rows`` (by one
        index lookup of the cut-off time and a range delete; between two prunes the table
        may hold up to ``PRUNE_EVERY`` rows more)."""
        with self.conn as conn:
            conn.execute("DELETE FROM exchanges WHERE wall_time < ?",
                         (time.time() - self.max_age,))
            conn.execute("DELETE FROM exchanges WHERE wall_time < (SELECT wall_time FROM "
                         "exchanges ORDER BY wall_time DESC LIMIT 1 OFFSET ?)",
                         (self.max_rows - 1,))
        self.pruned_at = self.written


_INSERT = "INSERT OR REPLACE INTO exchanges VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
_ROW_ERRORS = (ValueError, OverflowError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
               sqlite3.IntegrityError)
"""What binding or inserting one row raises when the row, not the database, is at fault."""


def _row(record: dict) -> tuple:
    return (record["id"], record["wall_time"], record["project"], record["status"],
            record["method"], record["path"], record["model"], record["provider"],
            int(bool(record["stream"])), record["duration"], record["error"],
            json.dumps(record))  # ASCII: the C encoder's faster path


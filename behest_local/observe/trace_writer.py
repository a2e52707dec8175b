"""The trace database's writer process, and what crosses the pipe to it.

``trace_db.TraceDB`` ``encode``s each finished exchange (its ``snapshot``: plain values,
the exchange's fields as ``exchange.FIELDS`` declares them and its capture's raw headers,
bodies and frames, no objects, marshalled), and its writer thread sends them in batches
down a pipe to this process (``main``: ``trace_db`` starts it with the database's path).
Here each one is ``decode``d into an exchange-like object and a ``Capture``, built into
its record by the same ``record.build_record`` every reader uses (redaction included), and
each round of batches is written in one transaction.

Why a process and not the writer thread alone (issue 9): building, redacting and
JSON-encoding a record holds the GIL for ~60 µs, and a thread of the gateway's process
that holds the GIL stops the event loop just as surely as work on the loop itself. An
``encode`` costs ~9 µs; the rest now runs on another core.

The pipe carries the request's credentials unredacted, as the gateway's memory holds
them: it connects two processes of the same gateway and nothing of it reaches a file,
a log or an argument list. Only redacted records are written to the database.

Wire: each message is a 4-byte big-endian length and a ``marshal`` payload (both ends
are the same Python and the same code: marshal is its fastest encoding of plain values).
Parent → child: ``("batch", payloads, probes, commit)``, each payload one exchange's
``encode``d snapshot, or ``("stop",)``. Child → parent, per
batch: ``(written, error)``, ``error`` None or the text of a database failure, or of the
records skipped: one record that cannot be built or stored costs only itself (issue 17).
"""

from __future__ import annotations

import json
import marshal
import sqlite3
import struct
import sys
import time
from operator import attrgetter
from typing import BinaryIO

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

_LENGTH = struct.Struct(">I")

# What crosses of an exchange: every declared field but those derived from the others,
# which the rebuilt exchange computes with the same properties (exchange.FIELDS).
_CARRIED = tuple(f for f in FIELDS if not f.derived)
_values = attrgetter(*(f.name for f in _CARRIED))  # one C call for all of them
_PLAIN = tuple((i, f.plain) for i, f in enumerate(_CARRIED) if f.plain is not None)
_TYPED = tuple((f.name, f.typed) for f in _CARRIED)


# -- what crosses the pipe ------------------------------------------------------------------

def snapshot(exchange: Exchange) -> tuple:
    """``exchange`` as plain values (the parent's side: a few µs, no redaction here): its
    carried fields in declaration order, and its capture's ``Capture.snapshot``."""
    values = _values(exchange)
    if _PLAIN:
        values = list(values)
        for index, plain_value in _PLAIN:
            values[index] = plain_value(values[index])
    capture = exchange.capture
    return (values, capture.snapshot() if capture is not None else None)


def encode(exchange: Exchange) -> bytes:
    """``snapshot`` as the bytes the pipe carries (``marshal``; ``plain`` first if a value
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


def send(stream: BinaryIO, message: tuple) -> None:
    payload = _dumps(message)
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


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


def receive(stream: BinaryIO) -> tuple | None:
    """The next message, or None when the other end has closed the pipe."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (length,) = _LENGTH.unpack(head)
    payload = stream.read(length)
    if len(payload) < length:
        return None
    return marshal.loads(payload)


# -- the child ------------------------------------------------------------------------------

def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")  # exports read while the gateway writes
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class Writer:
    """The child's state: one connection, the retention rules, probes waiting for rows."""

    def __init__(self, path: str, *, max_rows: int, max_age: float) -> None:
        self.conn = connect(path)
        self.conn.executescript(SCHEMA)
        self.max_rows, self.max_age = max_rows, max_age
        self.written = self.pruned_at = 0
        self.late_probes: dict[str, dict] = {}
        self.prune()

    def batch(self, payloads: list[bytes], probes: list, commit: bool = True
              ) -> tuple[int, list[str]]:
        """Insert the records of ``payloads`` and merge ``probes``; commit only when
        ``commit`` (the parent's last message of a round: one transaction per round, not
        per message). Returns how many were written and why any were not: one record
        that cannot be built or stored is skipped, never its batch (``_insert``)."""
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
            if commit:
                conn.commit()
        except BaseException:
            conn.rollback()
            raise
        self.written += written
        if commit and self.written - self.pruned_at >= PRUNE_EVERY:
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


def main(argv: list[str] | None = None) -> int:
    path, max_rows, max_age = (argv if argv is not None else sys.argv[1:])[:3]
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        writer = Writer(path, max_rows=int(max_rows), max_age=float(max_age))
    except (sqlite3.Error, OSError) as exc:
        send(sink, (0, f"{type(exc).__name__}: {exc}"))
        return 1
    while True:
        message = receive(source)
        if message is None or message[0] == "stop":
            try:
                writer.prune()
            except sqlite3.Error:
                pass
            return 0
        _, payloads, probes, commit = message
        try:
            written, skipped = writer.batch(payloads, probes, commit)
            reply = (written, "; ".join(skipped) if skipped else None)
        except (sqlite3.Error, OSError) as exc:
            reply = (0, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug here must not stop the writer: report, keep going
            reply = (0, f"could not write a batch ({type(exc).__name__})")
        send(sink, reply)


if __name__ == "__main__":
    sys.exit(main())

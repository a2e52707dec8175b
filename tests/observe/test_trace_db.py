"""SQLite persistence of exchange records (behest_local/trace_db.py)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from behest_local.exchange.events import ProbeReported
from behest_local.observe.trace_db import DB_FILE, TraceDB, read_records
from tests.trace_support import CANARY, CANARY_MARK, fake_exchange, make_store


@pytest.fixture
def db(tmp_path):
    store, clock = make_store()
    database = TraceDB(tmp_path / DB_FILE, interval=0.02, max_age=1e12)  # fixed 2026 clock
    database.start()
    store.subscribe(database.subscriber)
    yield database, store, clock
    database.close()


def test_finished_exchanges_are_written_by_the_writer_thread(db):
    database, store, clock = db
    writers = []
    real_write = database._write

    def spy(exchanges, probes):
        writers.append(threading.current_thread().name)
        real_write(exchanges, probes)

    database._write = spy
    fake_exchange(store, clock, 1)
    fake_exchange(store, clock, 2, stream=True, pieces=["a", "b"])
    assert database.flush()
    records = list(database.records())
    assert [r["id"] for r in records] == ["req_" + "0" * 23 + "1", "req_" + "0" * 23 + "2"]
    assert records[1]["message"]["choices"][0]["content"] == "ab"
    assert writers and all(name == "behest-local trace writer" for name in writers)


def test_the_subscriber_never_touches_sqlite(db, monkeypatch):
    """The hot path only enqueues: a connect on the request's thread would block the loop."""
    database, store, clock = db
    main = threading.current_thread()
    real_connect = sqlite3.connect

    def guarded(*args, **kwargs):
        assert threading.current_thread() is not main, "sqlite3 used on the event-loop thread"
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", guarded)
    for n in range(20):
        fake_exchange(store, clock, n)
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert database.flush()
    assert len(list(database.records())) == 20


def test_running_exchanges_are_not_written_until_they_end(db):
    database, store, clock = db
    exchange = fake_exchange(store, clock, 1, stream=True, pieces=["a"], status=None)
    assert database.flush()
    assert list(database.records()) == []
    exchange.finish(200)
    assert database.flush()
    assert [r["status"] for r in database.records()] == [200]


def test_retention_keeps_the_newest_rows(tmp_path):
    store, clock = make_store()
    database = TraceDB(tmp_path / DB_FILE, interval=0.02, max_rows=5, max_age=1e12)
    database.start()
    store.subscribe(database.subscriber)
    for n in range(12):
        fake_exchange(store, clock, n)
    database.flush()
    database.close()  # the writer prunes as it stops (and every PRUNE_EVERY rows)
    ids = [r["id"] for r in read_records(database.path)]
    assert ids == [f"req_{n:024d}" for n in range(7, 12)]


def test_retention_drops_rows_older_than_max_age(tmp_path):
    store, clock = make_store()  # its wall clock is in 2026: far older than max_age
    database = TraceDB(tmp_path / DB_FILE, interval=0.02, max_age=3600)
    database.start()
    store.subscribe(database.subscriber)
    fake_exchange(store, clock, 1)
    database.flush()
    database.close()
    assert time.time() - 1_767_268_800 > 3600
    assert list(read_records(database.path)) == []


def test_a_probe_report_is_merged_into_the_stored_record(db):
    database, store, clock = db
    exchange = fake_exchange(store, clock, 1, stream=True, pieces=["a"])
    database.flush()
    store.publish(ProbeReported(exchange.id, clock(), "events arrived together", "buffered",
                                (0.5, 0.5), ("compressed SSE",)), exchange)
    database.flush()
    probe = database.get(exchange.id)["probe"]
    assert probe["level"] == "buffered" and probe["client"] == [0.5, 0.5]


def test_a_full_queue_drops_records_and_counts_them(tmp_path):
    store, clock = make_store()
    database = TraceDB(tmp_path / DB_FILE, queue_size=2)  # writer not started: nothing drains
    store.subscribe(database.subscriber)
    for n in range(5):
        fake_exchange(store, clock, n)
    assert database.dropped == 3


def test_the_database_file_is_private_and_holds_no_secret(db):
    database, store, clock = db
    fake_exchange(store, clock, 1, body={"messages": [{"role": "user", "content": CANARY}]},
                  headers=[("Authorization", f"Bearer {CANARY}")])
    database.flush()
    assert database.path.stat().st_mode & 0o777 == 0o600
    raw = database.path.read_bytes() + database.path.with_name(DB_FILE + "-wal").read_bytes()
    assert CANARY_MARK.encode() not in raw


def test_internal_inspection_requests_are_not_stored(db):
    database, store, clock = db
    fake_exchange(store, clock, 1, path="/_behest/exchanges/x/timeline")
    database.flush()
    assert list(database.records()) == []


def test_only_the_first_exchange_of_a_round_wakes_the_writer(tmp_path):
    """The hot path appends to a deque: no lock; the first record of a round sets the
    writer's event (it then lets ``interval`` gather more: here, longer than the test),
    the others find it set. A flush is answered at once."""
    store, clock = make_store()
    database = TraceDB(tmp_path / DB_FILE, interval=3600, max_age=1e12)
    database.start()
    store.subscribe(database.subscriber)
    sets = []
    real_set = database._pending.set
    database._pending.set = lambda: (sets.append(1), real_set())
    try:
        for n in range(5):
            fake_exchange(store, clock, n)
        assert len(sets) == 1 and len(database._queue) == 5
        began = time.monotonic()
        assert database.flush(timeout=5)
        assert time.monotonic() - began < 2  # answered now, not after the interval
        assert len(list(database.records())) == 5
    finally:
        database.close()
    assert not database._thread.is_alive()


def test_records_are_stored_without_the_message_and_read_with_it(db):
    database, store, clock = db
    fake_exchange(store, clock, 1, pieces=["Hi", " there"])
    fake_exchange(store, clock, 2, stream=True, pieces=["a", "b"])
    database.flush()
    with sqlite3.connect(database.path) as conn:
        stored = [json.loads(r[0]) for r in conn.execute("SELECT record FROM exchanges")]
    assert all("message" not in r for r in stored)
    messages = [r["message"]["choices"][0]["content"] for r in database.records()]
    assert messages == ["Hi there", "ab"]
    assert database.get("req_" + "0" * 23 + "1")["message"]["choices"][0]["content"] == "Hi there"


def test_a_full_queue_keeps_taking_flushes(tmp_path):
    store, clock = make_store()
    database = TraceDB(tmp_path / DB_FILE, queue_size=2, interval=0.02, max_age=1e12)
    store.subscribe(database.subscriber)
    for n in range(4):
        fake_exchange(store, clock, n)
    assert database.dropped == 2
    database.start()
    try:
        assert database.flush()
        assert [r["id"] for r in database.records()] == [f"req_{n:024d}" for n in range(2)]
    finally:
        database.close()


def test_databases_live_in_data_and_legacy_files_move_there(tmp_path):
    from behest_local.home import DATA_DIR, database_path

    legacy = tmp_path / DB_FILE
    legacy.write_bytes(b"old")
    (tmp_path / (DB_FILE + "-wal")).write_bytes(b"wal")
    path = database_path(tmp_path, DB_FILE)
    assert path == tmp_path / DATA_DIR / DB_FILE
    assert path.read_bytes() == b"old" and path.with_name(DB_FILE + "-wal").read_bytes() == b"wal"
    assert not legacy.exists()
    assert (tmp_path / DATA_DIR).stat().st_mode & 0o777 == 0o700
    assert database_path(tmp_path, DB_FILE) == path  # idempotent

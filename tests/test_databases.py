"""behest_local/databases.py: setting a damaged database aside, and rows SQLite can hold."""

from __future__ import annotations

import sqlite3

import pytest

from behest_local.databases import check, open_or_set_aside, set_aside, storable

NOW = 1_796_688_000.0  # 2026-12-08T00:00:00Z


def test_a_database_is_set_aside_with_its_side_files_named_as_sqlite_finds_them(tmp_path):
    path = tmp_path / "usage.sqlite3"
    for suffix, data in (("", b"main"), ("-wal", b"wal"), ("-shm", b"shm")):
        path.with_name(path.name + suffix).write_bytes(data)
    aside = set_aside(path, now=NOW)
    assert aside.name == "usage.sqlite3.corrupt-20261208T000000Z"
    assert aside.read_bytes() == b"main" and aside.stat().st_mode & 0o777 == 0o600
    assert aside.with_name(aside.name + "-wal").read_bytes() == b"wal"
    assert aside.with_name(aside.name + "-shm").read_bytes() == b"shm"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        aside.name, aside.name + "-shm", aside.name + "-wal"]


def test_set_aside_twice_in_one_second_keeps_both(tmp_path):
    path = tmp_path / "traces.sqlite3"
    path.write_bytes(b"first")
    first = set_aside(path, now=NOW)
    path.write_bytes(b"second")
    second = set_aside(path, now=NOW)
    assert first != second and first.read_bytes() == b"first"
    assert second.read_bytes() == b"second"


def _open(path):
    def opener():
        conn = sqlite3.connect(path)
        try:
            check(conn)
            conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        except BaseException:
            conn.close()
            raise
        return conn
    return opener


def test_a_file_that_is_not_a_database_is_replaced_by_a_fresh_one(tmp_path, caplog):
    path = tmp_path / "usage.sqlite3"
    path.write_bytes(b"not a database" * 100)
    conn = open_or_set_aside(path, _open(path))
    conn.close()
    [aside] = tmp_path.glob("usage.sqlite3.corrupt-*")
    assert aside.read_bytes() == b"not a database" * 100
    [line] = [r.getMessage() for r in caplog.records]
    assert str(path) in line and aside.name in line


def test_a_database_that_cannot_be_opened_for_another_reason_is_left_alone(tmp_path):
    path = tmp_path / "usage.sqlite3"
    path.mkdir()  # a directory in its place: not damage, the user's to sort out
    with pytest.raises(sqlite3.OperationalError):
        open_or_set_aside(path, _open(path))
    assert path.is_dir() and list(tmp_path.iterdir()) == [path]


def test_storable_replaces_only_lone_surrogates():
    assert storable(("a\udcffb", "josé", 7, None, b"\xff")) == ("a\ufffdb", "josé", 7, None,
                                                                  b"\xff")

"""The SQLite files in the state dir: opening one that may be damaged, and rows it can hold.

A leaf utility beside ``home.py`` (which says where the databases live), shared by the
usage store (``finops/store.py``) and the trace database (``observe/trace_db.py``):

* ``open_or_set_aside``: open a database with a quick check of its pages; when the file
  is damaged (not a database at all, truncated, pages overwritten) it is renamed, with its
  ``-wal``/``-shm``/``-journal`` files, to ``<name>.corrupt-<UTC time>``, one warning line
  says so, and a fresh database is opened in its place. Damaged state is kept for the user
  to inspect or recover, never silently replaced, and never stops the gateway from
  starting. A database that cannot be opened for another reason (a directory in its
  place, no permission) is not damaged: that error is raised for the caller to report.
* ``storable``: a row as SQLite can take it. A lone surrogate in a ``str`` (what Python
  makes of a byte that is not UTF-8, e.g. in a header) cannot be encoded, so binding
  the row fails; the writers retry such a row with U+FFFD in their place.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from behest_local.home import FILE_MODE

log = logging.getLogger("behest_local.databases")
T = TypeVar("T")

_DAMAGED_CODES = frozenset({11, 26})
"""SQLITE_CORRUPT and SQLITE_NOTADB: the file's content is bad, not its place or mode."""
SIDE_FILES = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database: they belong to it, and move with it."""
_SURROGATE = re.compile("[\ud800-\udfff]")


class Damaged(sqlite3.DatabaseError):
    """``check`` found damaged pages (SQLite's own errors carry an error code instead)."""


def is_damaged(exc: BaseException) -> bool:
    """Whether ``exc`` says a database file's content is damaged."""
    return isinstance(exc, Damaged) or (
        isinstance(exc, sqlite3.DatabaseError)
        and getattr(exc, "sqlite_errorcode", None) in _DAMAGED_CODES)


def check(conn: sqlite3.Connection) -> None:
    """``PRAGMA quick_check`` (every page read once: ~0.2 s for 80 MB when cached, so it
    runs where startup opens the database, off the event loop); raises ``Damaged``."""
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise Damaged("; ".join(problems))


def set_aside(path: Path, now: float | None = None) -> Path:
    """Rename ``path`` and its side files to ``<name>.corrupt-<UTC time>``; the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():  # set aside twice within a second: keep both
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    moved = [(path, target)] + [
        (path.with_name(path.name + suffix), target.with_name(target.name + suffix))
        for suffix in SIDE_FILES]  # named as SQLite looks for them next to the moved file
    for old, new in moved:
        if old == path or old.exists():
            os.replace(old, new)
            os.chmod(new, FILE_MODE)  # prompts, replies and usage: the user's data
    return target


def open_or_set_aside(path: Path, open_db: Callable[[], T]) -> T:
    """``open_db()``, which opens ``path`` and ``check``s it; if the file is damaged, it is
    set aside (one warning line) and ``open_db()`` opens a fresh one."""
    try:
        return open_db()
    except sqlite3.DatabaseError as exc:
        if not is_damaged(exc) or not path.is_file():
            raise
        reason = exc
    moved = set_aside(path)
    log.warning("%s is damaged (%s): moved aside to %s; starting a new, empty one", path,
                reason, moved.name)
    return open_db()


def storable(row: tuple) -> tuple:
    """``row`` with every lone surrogate in its strings replaced by U+FFFD."""
    return tuple(_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for v in row)

"""One SQLite database in the state dir, used only from its own worker thread.

The file and batch stores (``files/store.py``, ``batches/store.py``) each own one
``Database``: a one-thread executor holds the only connection, so the event loop never
blocks on disk and jobs run in submission order (a read submitted after a write sees it).
The file is opened on the first job, 0600 before SQLite sees it (``home.private_file``:
its WAL and SHM files copy the mode), its pages checked, and a damaged file set aside for
a fresh one (``databases.open_or_set_aside``), as the usage and trace databases do.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from behest_local.databases import check, open_or_set_aside
from behest_local.errors import GatewayError
from behest_local.home import private_file
from behest_local.offload import fairly

T = TypeVar("T")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Several statements as one (the connection autocommits otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Database:
    """``path`` with ``schema`` (applied while ``PRAGMA user_version`` is below
    ``version``). Construct anywhere: no I/O until the first ``run``."""

    def __init__(self, path: Path, schema: str, version: int, *, name: str) -> None:
        self.path, self.schema, self.version, self.name = Path(path), schema, version, name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"behest-{name}")
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        private_file(self.path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.executescript("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;")
            check(db)
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found > self.version:
                raise sqlite3.OperationalError(
                    f"schema {found} is newer than this behest-local understands "
                    f"({self.version})")
            if found < self.version:
                db.executescript(self.schema + f"\nPRAGMA user_version={self.version};")
        except BaseException:
            db.close()
            raise
        return db

    def _call(self, fn: Callable[..., T], args: tuple) -> T:
        if self._db is None:
            self._db = open_or_set_aside(self.path, self._open)
        return fn(self._db, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` on the database's thread; a database that cannot be
        used is a 503 naming the file."""
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, fairly, self._call, fn, args)
        except (sqlite3.Error, OSError) as exc:  # damaged files were set aside: not these
            raise GatewayError(f"The {self.name} database {self.path} cannot be used: {exc}. "
                               "Move it away to start afresh.", status=503,
                               code="server_error") from None

    def _close(self, _db: sqlite3.Connection) -> None:
        self._db.close()
        self._db = None

    async def close(self) -> None:
        """Finish queued jobs, then close the connection and the thread."""
        if self._db is not None:
            await self.run(self._close)
        self._pool.shutdown(wait=True)

"""The stored-responses database: ``<state dir>/data/responses.sqlite3`` and its thread.

Stored responses, their input items and conversations survive a restart in one SQLite
file, private to the user (0600 before SQLite sees it, ``home.private_file``). One worker
thread (a one-thread executor) owns the only connection, so the event loop never waits on
disk and jobs run in submission order: a ``GET`` sent after a response was stored finds
it, even when the store was fire-and-forget (a stream's end). A damaged file is set aside
for a fresh one at startup (``databases.open_or_set_aside``); one that cannot be opened
at all (a directory in its place, no permission) is reported once and the routes answer
503 until the gateway restarts.

Sizes are bounded per project: ``MAX_PROJECT_ITEMS`` stored items, counted in
``item_counts`` as rows come and go. A response's input items count one each, and so do
its output items (kept in its body); a conversation's items count one each. Requests
that would store past the cap are refused up front (``room``), with a 400 that says how
to make room. The counts are kept beside the connection as well
(``_Connection.held``), so that check costs no trip to the worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from behest_local.databases import check, open_or_set_aside
from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.home import database_path, private_file
from behest_local.offload import fairly

DB_FILE = "responses.sqlite3"
SCHEMA_VERSION = 1
MAX_PROJECT_ITEMS = 100_000
"""Stored items a project may hold: input and output items of its stored responses plus
its conversations' items."""
log = logging.getLogger("behest_local.stored")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS responses (
    project TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
    status TEXT NOT NULL, previous TEXT, outputs INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (project, id));
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, owner TEXT NOT NULL,
    id TEXT NOT NULL, item TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_owner ON items (project, owner, seq);
CREATE INDEX IF NOT EXISTS items_by_id ON items (project, owner, id);
CREATE TABLE IF NOT EXISTS conversations (
    project TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL, PRIMARY KEY (project, id));
CREATE TABLE IF NOT EXISTS item_counts (project TEXT PRIMARY KEY, items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    project TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL, PRIMARY KEY (project, id));
PRAGMA user_version = {SCHEMA_VERSION};
"""


class _Connection(sqlite3.Connection):
    """The worker's connection, with each project's stored-item count kept beside it
    (``held``, the ``item_counts`` table as committed), so ``StoredState.admit`` checks the
    cap on the event loop without a trip to the worker thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: dict[str, int] = {}

    def reload_counts(self) -> None:
        self.held = dict(self.execute("SELECT project, items FROM item_counts").fetchall())


def count_items(conn: sqlite3.Connection, project: str, delta: int) -> None:
    """Add ``delta`` (negative: removed) to ``project``'s stored items."""
    if delta:
        conn.execute("INSERT INTO item_counts VALUES (?, ?) ON CONFLICT (project) DO UPDATE "
                     "SET items = MAX(0, items + excluded.items)", (project, delta))
        held = conn.held  # type: ignore[attr-defined]
        held[project] = max(0, held.get(project, 0) + delta)


def room(conn: sqlite3.Connection, project: str, adding: int) -> None:
    """A 400 unless ``project`` may store ``adding`` more items (``MAX_PROJECT_ITEMS``)."""
    held = conn.held.get(project, 0)  # type: ignore[attr-defined]
    if held + adding > MAX_PROJECT_ITEMS:
        raise InvalidRequestError(
            f"Project {project!r} stores {held:,} items (input and output items of stored "
            f"responses, and conversation items); this request would add {adding:,}, past "
            f"the local cap of {MAX_PROJECT_ITEMS:,}. Delete stored responses or "
            "conversations, or send 'store': false.", param="store",
            code="storage_limit_exceeded")


class StoredState:
    """The database and its worker thread. Construct anywhere (no I/O); ``open`` at
    startup, ``run`` the query functions of ``responses``/``conversations``, ``close``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="behest-stored")
        self._db: _Connection | None = None
        self.unavailable: str | None = None
        """Why the database could not be opened (the routes answer 503), or None."""

    @classmethod
    def for_home(cls, home: Path) -> StoredState:
        return cls(database_path(home, DB_FILE))

    # -- worker thread ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        private_file(self.path)  # 0600 before SQLite sees it (WAL files copy it)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                             factory=_Connection)
        try:
            # NORMAL: in WAL mode a commit is not synced to disk (a crash of the machine,
            # not of the process, may lose the last ones): no fsync per stored response.
            db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                             "PRAGMA busy_timeout=5000;")
            check(db)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.OperationalError(
                    f"schema {version} is newer than this behest-local understands "
                    f"({SCHEMA_VERSION})")
            db.executescript(_SCHEMA)
            db.reload_counts()
        except BaseException:
            db.close()
            raise
        return db

    def _open(self) -> None:
        self._db = open_or_set_aside(self.path, self._connect)

    def _opened(self) -> _Connection:
        if self._db is None:
            raise GatewayError(f"Stored responses are unavailable: the database {self.path} "
                               f"cannot be opened ({self.unavailable}). Fix or move it "
                               "away, then restart behest-local.", status=503,
                               code="server_error")
        return self._db

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        db = self._opened()
        db.execute("BEGIN IMMEDIATE")  # one transaction per job: all of it, or nothing
        try:
            result = fn(db, *args)
        except BaseException:
            db.execute("ROLLBACK")
            db.reload_counts()  # what the job counted is undone too
            raise
        db.execute("COMMIT")
        return result

    # -- the event loop's side -------------------------------------------------------------

    async def open(self) -> None:
        """Open (or set aside and recreate) the database; a failure is logged, and kept in
        ``unavailable`` for the routes' 503."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._open)
        except (sqlite3.Error, OSError) as exc:
            self.unavailable = str(exc)
            log.error("stored responses are unavailable: %s cannot be opened (%s)",
                      self.path, exc)

    def admit(self, project: str, adding: int) -> None:
        """A 400 unless ``project`` has room for ``adding`` more items (``room``), checked
        on the loop against the counts as committed (a job still queued is not counted:
        the cap may be passed by what is in flight, never by more)."""
        room(self._opened(), project, adding)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(connection, *args)`` in one transaction on the worker thread."""
        try:
            # ``fairly``: a conversation's JSON may be megabytes.
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, fairly, self._call, fn, *args)
        except sqlite3.Error as exc:
            raise GatewayError(f"The stored-responses database {self.path} cannot be used: "
                               f"{exc}.", status=503, code="server_error") from None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future | None:
        """``run`` without waiting (a stream's end stores its response): later jobs see
        the write; a failure is logged."""
        try:
            future = self._pool.submit(fairly, self._call, fn, *args)
        except RuntimeError:  # shut down: the gateway is stopping
            log.warning("a response finished after shutdown and was not stored")
            return None
        future.add_done_callback(_log_failure)
        return future

    async def close(self) -> None:
        """Finish queued writes, then close the database."""
        def _close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await asyncio.get_running_loop().run_in_executor(self._pool, _close)
        self._pool.shutdown(wait=True)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("could not store a response", exc_info=future.exception())

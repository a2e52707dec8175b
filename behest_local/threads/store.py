"""Threads: persisted conversations keyed by (project, user, thread id), in SQLite.

Behest stores "the user message and the assistant's streamed response keyed by (pid, uid,
thread_id)" whenever a chat request carries ``X-Thread-Id``, creates the thread lazily on
first use, and keeps it "forever (until DELETE)" (reference/behest-api.md §1.5, §5.3).
This module owns ``<state dir>/data/threads.sqlite3`` (0600, survives restarts) and the turn
logic; ``server/routes/behest.py`` exposes ``/v1/threads*`` and starts a :class:`Turn` for
each chat request, which the chat handler (``routes/openai.chat_completions``) runs
through: history in before the provider call, the reply recorded after it.

All SQLite work runs on one dedicated worker thread (a one-thread executor owns the
connection), so the event loop never blocks on disk and writes are applied in submission
order: a read submitted after a turn was recorded sees it. Recording is fire-and-forget
from the request's point of view (the response is never held back by the disk). The
messages' JSON is made and read on that thread too (``messages.encoded``/``view_text``):
a thread may hold 20 MiB messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from behest_local.errors import GatewayError
from behest_local.home import private_file
from behest_local.offload import fairly
from behest_local.threads.messages import encoded, message_view, normalize, view_text

THREADS_FILE = "threads.sqlite3"
SCHEMA_VERSION = 1
TITLE_CHARS = 80
_TITLE_SCAN = 64 * TITLE_CHARS
_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    project TEXT NOT NULL, user TEXT NOT NULL, thread TEXT NOT NULL,
    title TEXT, created_at TEXT NOT NULL, last_message_at TEXT NOT NULL,
    PRIMARY KEY (project, user, thread));
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL, user TEXT NOT NULL, thread TEXT NOT NULL,
    message TEXT NOT NULL, created_at TEXT NOT NULL,
    FOREIGN KEY (project, user, thread) REFERENCES threads ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS messages_by_thread ON messages (project, user, thread, id);
"""


class ThreadKey(NamedTuple):
    project: str
    user: str
    thread: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _title(messages: list[dict]) -> str | None:
    for m in messages:
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            if isinstance(content, str) and content.strip():
                # The title's words are at the start: a 20 MiB text need not be split whole.
                text = " ".join(content[:_TITLE_SCAN].split())
                return text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS - 1] + "…"
    return None


class ThreadStore:
    """The threads database. Construct anywhere (no I/O); the first call opens the file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="behest-threads")
        self._db: sqlite3.Connection | None = None

    # -- worker thread ---------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            private_file(self.path)  # 0600 before SQLite sees it (WAL files copy it)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"{self.path}: schema {version} is newer than this "
                                            f"behest-local understands ({SCHEMA_VERSION})")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db = db
        return self._db

    def _append(self, key: ThreadKey, messages: list[dict]) -> None:
        messages = [normalize(m) for m in messages]
        db, now = self._conn(), _now()
        with db:  # one transaction: the thread row and its messages, or nothing
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO threads VALUES (?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (project, user, thread) DO UPDATE "
                       "SET last_message_at = excluded.last_message_at, "
                       "title = COALESCE(threads.title, excluded.title)",
                       (*key, _title(messages), now, now))
            db.executemany("INSERT INTO messages (project, user, thread, message, created_at) "
                           "VALUES (?, ?, ?, ?, ?)",
                           [(*key, encoded(m), now) for m in messages])

    def _rows(self, key: ThreadKey) -> list[tuple[int, str, str]]:
        return self._conn().execute(
            "SELECT id, message, created_at FROM messages WHERE project = ? AND user = ? AND "
            "thread = ? ORDER BY id", key).fetchall()

    def _history(self, key: ThreadKey) -> list[dict]:
        return [json.loads(m) for _id, m, _at in self._rows(key)]

    def _messages_json(self, key: ThreadKey) -> bytes | None:
        if not self._threads(*key):
            return None
        return ("[" + ", ".join(view_text(i, m, at) for i, m, at in self._rows(key)) + "]").encode()

    def _threads(self, project: str, user: str, thread: str | None) -> list[dict]:
        sql = ("SELECT t.thread, t.title, t.created_at, t.last_message_at, COUNT(m.id) "
               "FROM threads t LEFT JOIN messages m USING (project, user, thread) "
               "WHERE t.project = ? AND t.user = ?" + (" AND t.thread = ?" if thread else "") +
               " GROUP BY t.thread ORDER BY MAX(m.id) DESC, t.thread")
        args = (project, user, thread) if thread else (project, user)
        return [{"id": r[0], "object": "thread", "title": r[1], "created_at": r[2],
                 "last_message_at": r[3], "messages_count": r[4]}
                for r in self._conn().execute(sql, args)]

    def _delete(self, key: ThreadKey) -> bool:
        db = self._conn()
        with db:
            db.execute("BEGIN IMMEDIATE")
            return db.execute("DELETE FROM threads WHERE project = ? AND user = ? AND thread = ?",
                              key).rowcount > 0

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- the event loop's side -------------------------------------------------------------

    async def _run(self, fn, *args: Any) -> Any:
        try:
            # ``fairly``: a thread of 20 MiB messages is seconds of JSON on this thread.
            return await asyncio.get_running_loop().run_in_executor(self._pool, fairly, fn, *args)
        except sqlite3.Error as exc:
            raise GatewayError(f"The threads database {self.path} cannot be used: {exc}. Move "
                               "it away to start afresh.", status=503,
                               code="server_error") from None

    def append_soon(self, key: ThreadKey, messages: list[dict]) -> Future | None:
        """Queue ``messages`` for ``key`` (creating the thread). Returns at once; a failure
        is logged. Later calls of this store see the write."""
        try:
            future = self._pool.submit(fairly, self._append, key, messages)
        except RuntimeError:  # closed: the gateway is shutting down
            _log.warning("thread %r: a turn finished after shutdown and was not recorded",
                         key.thread)
            return None
        future.add_done_callback(_log_failure)
        return future

    async def append(self, key: ThreadKey, messages: list[dict]) -> None:
        future = self.append_soon(key, messages)
        if future is not None:
            await asyncio.wrap_future(future)

    async def history(self, key: ThreadKey) -> list[dict]:
        """The thread's messages as the model saw them (empty for a new thread)."""
        return await self._run(self._history, key)

    async def messages(self, key: ThreadKey) -> list[dict] | None:
        """The thread's messages as the API shows them, or None if there is no such thread."""
        if await self.get(key) is None:
            return None
        return [message_view(i, json.loads(m), at) for i, m, at in await self._run(self._rows, key)]

    async def messages_json(self, key: ThreadKey) -> bytes | None:
        """``messages`` as a JSON array, made on the store's thread from the stored text."""
        return await self._run(self._messages_json, key)

    async def list(self, project: str, user: str) -> list[dict]:
        """The user's threads, most recently active first."""
        return await self._run(self._threads, project, user, None)

    async def get(self, key: ThreadKey) -> dict | None:
        found = await self._run(self._threads, key.project, key.user, key.thread)
        return found[0] if found else None

    async def delete(self, key: ThreadKey) -> bool:
        """Delete the thread and its messages. False if there was none."""
        return await self._run(self._delete, key)

    async def close(self) -> None:
        """Finish queued writes, then close the database."""
        await self._run(self._close)
        self._pool.shutdown(wait=True)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        _log.error("could not record a thread turn", exc_info=future.exception())

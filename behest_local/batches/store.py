"""Batches per project in ``data/batches.sqlite3``; their partial results in ``data/batches/``.

One row per batch: its id, project and status as columns (for lookups and the runner's
"what is left to do") and the whole ``Batch`` as a JSON document, rewritten after every
line the runner records, so a restart finds each batch where it stood. Every lookup names
the project asking: another project's batch is unknown. The runner's partial output and
error files (``partial``) become Files (``files.FileStore.adopt``) when the batch ends.
SQLite work runs on the database's own thread (``files.db.Database``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from behest_local.batches.batch import ACTIVE, Batch
from behest_local.files.db import Database
from behest_local.home import database_path

DB_FILE = "batches.sqlite3"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project TEXT NOT NULL,
    status TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS batches_by_project ON batches (project, n);
CREATE INDEX IF NOT EXISTS batches_by_status ON batches (status, n);
"""
_ACTIVE = "status IN (" + ", ".join(f"'{s}'" for s in ACTIVE) + ")"


class BatchStore:
    """The batches of state dir ``home`` (no I/O until used)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.folder = self.home / "data" / "batches"
        self.db = Database(database_path(home, DB_FILE), _SCHEMA, SCHEMA_VERSION,
                           name="batches")

    def partial(self, batch_id: str, kind: str) -> Path:
        """Where the runner appends a batch's ``output`` or ``error`` lines."""
        return self.folder / f"{batch_id}.{kind}.jsonl"

    async def save(self, batch: Batch) -> None:
        await self.db.run(_save, batch.id, batch.project, batch.status,
                          json.dumps(batch.doc()))

    async def get(self, project: str, batch_id: str) -> Batch | None:
        rows = await self.db.run(_select, "SELECT doc FROM batches WHERE project = ? AND id = ?",
                                 (project, batch_id))
        return Batch.from_doc(json.loads(rows[0][0])) if rows else None

    async def page(self, project: str, *, after: str | None, limit: int
                   ) -> tuple[list[Batch], bool]:
        """The project's batches, newest first, after batch ``after``; whether more follow."""
        sql, args = "SELECT doc FROM batches WHERE project = ?", [project]
        if after is not None:
            sql += (" AND n < COALESCE((SELECT n FROM batches WHERE id = ? AND project = ?), "
                    "-1)")
            args += [after, project]
        rows = await self.db.run(_select, sql + " ORDER BY n DESC LIMIT ?", (*args, limit + 1))
        return [Batch.from_doc(json.loads(r[0])) for r in rows[:limit]], len(rows) > limit

    async def next_active(self) -> Batch | None:
        """The oldest batch the runner has work for, of any project."""
        rows = await self.db.run(_select, f"SELECT doc FROM batches WHERE {_ACTIVE} "
                                 "ORDER BY n LIMIT 1", ())
        return Batch.from_doc(json.loads(rows[0][0])) if rows else None

    async def close(self) -> None:
        await self.db.close()


def _save(db: sqlite3.Connection, batch_id: str, project: str, status: str, doc: str) -> None:
    db.execute("INSERT INTO batches (id, project, status, doc) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
               (batch_id, project, status, doc))


def _select(db: sqlite3.Connection, sql: str, args: tuple) -> list[tuple]:
    return db.execute(sql, args).fetchall()

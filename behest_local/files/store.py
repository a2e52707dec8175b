"""Files and uploads per project: rows in ``data/files.sqlite3``, bytes in ``data/files/``.

Every row carries the project that made it and every query names the project asking, so
a file of one project is "No such File object" to any other, whatever happens to the
keys. A file's bytes are ``data/files/<file id>``, written by ``blobs.BlobWriter`` (off
the event loop, streamed, limited) and renamed into place before its row is inserted, so
a listed file always has its bytes; an upload's parts wait in ``data/files/parts/`` until
``complete`` joins them (``blobs.join``, in a worker thread). Expired files and uploads
are treated as gone when asked for, and removed when the store opens.

Rows are read and written on the database's own thread (``db.Database``); the blob work
runs in worker threads. The HTTP side is ``server/routes/files.py``; the batch runner adopts
its result files with ``adopt``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

from behest_local.errors import InvalidRequestError, NotFoundError
from behest_local.files import blobs
from behest_local.files.blobs import BlobWriter
from behest_local.files.db import Database, transaction
from behest_local.files.objects import (FILE_COLUMNS, UPLOAD_COLUMNS, UPLOAD_TTL_S, expiry,
                                        file_object, new_id, not_found, part_object, upload_object)
from behest_local.home import database_path, private_dir

DB_FILE = "files.sqlite3"
BLOB_DIR = "files"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project TEXT NOT NULL,
    filename TEXT NOT NULL, purpose TEXT NOT NULL, bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER);
CREATE INDEX IF NOT EXISTS files_by_project ON files (project, n);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, project TEXT NOT NULL, filename TEXT NOT NULL, purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL, mime_type TEXT NOT NULL, created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, status TEXT NOT NULL, file_id TEXT);
CREATE TABLE IF NOT EXISTS parts (
    id TEXT PRIMARY KEY, upload_id TEXT NOT NULL REFERENCES uploads ON DELETE CASCADE,
    bytes INTEGER NOT NULL, created_at INTEGER NOT NULL);
"""
_LIVE = "(expires_at IS NULL OR expires_at > ?)"


class FileStore:
    """The files database and blob folder of state dir ``home`` (no I/O until used)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.folder = self.home / "data" / BLOB_DIR
        self.parts = self.folder / "parts"
        self.db = Database(database_path(home, DB_FILE), _SCHEMA, SCHEMA_VERSION, name="files")
        self._swept = False

    def blob(self, file_id: str) -> Path:
        return self.folder / file_id

    async def writer(self, limit: int, *, part: bool = False) -> BlobWriter:
        """A temp file for incoming bytes (``limit`` of them at most)."""
        if not self._swept:  # the first write of this process: a crash's leftovers go
            self._swept = True
            await self.db.run(self._purge, int(time.time()))
        return await BlobWriter(self.parts if part else self.folder, limit=limit).open()

    # -- files ---------------------------------------------------------------------------

    async def add(self, project: str, filename: str, purpose: str, writer: BlobWriter,
                  expires_at: int | None, *, created_at: int) -> dict:
        """The file whose bytes ``writer`` holds, committed and listed."""
        file_id = new_id("file-")
        size = await writer.commit(self.blob(file_id))
        row = (file_id, filename, purpose, size, created_at, expires_at)
        await self.db.run(_insert_file, project, row)
        return file_object(row)

    async def adopt(self, project: str, filename: str, purpose: str, path: Path, *,
                    file_id: str, expires_after_s: int | None = None) -> dict:
        """A file made by the gateway (a batch's output) at ``path``, moved into the store
        as ``file_id`` (expiring ``expires_after_s`` after now, if given). Idempotent: a
        call interrupted after the move is finished by the next one (the bytes are
        already in place)."""
        size = await asyncio.to_thread(_move, Path(path), self.blob(file_id))
        now = int(time.time())
        row = (file_id, filename, purpose, size, now,
               None if expires_after_s is None else now + expires_after_s)
        await self.db.run(_insert_file, project, row, True)
        return file_object(row)

    async def get(self, project: str, file_id: str) -> dict:
        """The file, or the 404 OpenAI gives for an unknown id."""
        rows = await self.db.run(_select, f"SELECT {FILE_COLUMNS} FROM files WHERE project = ? "
                                 f"AND id = ? AND {_LIVE}", (project, file_id, int(time.time())))
        if not rows:
            raise not_found(file_id)
        return file_object(rows[0])

    async def list(self, project: str, *, purpose: str | None, limit: int, after: str | None,
                   order: str) -> tuple[list[dict], bool]:
        """A page of the project's files, newest first for ``desc``; whether more follow."""
        return await self.db.run(_page, project, purpose, limit, after, order, int(time.time()))

    async def delete(self, project: str, file_id: str) -> None:
        if not await self.db.run(_delete_file, project, file_id):
            raise not_found(file_id)
        await asyncio.to_thread(self.blob(file_id).unlink, missing_ok=True)

    # -- uploads -------------------------------------------------------------------------

    async def create_upload(self, project: str, *, filename: str, purpose: str, size: int,
                            mime_type: str) -> dict:
        now = int(time.time())
        row = (new_id("upload_"), filename, purpose, size, mime_type, now, now + UPLOAD_TTL_S,
               "pending", None)
        await self.db.run(_insert_upload, project, row)
        return upload_object(row, None)

    async def upload(self, project: str, upload_id: str) -> tuple:
        """The upload's row (``UPLOAD_COLUMNS``), its status ``expired`` once past due."""
        rows = await self.db.run(_select, f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE "
                                 "project = ? AND id = ?", (project, upload_id))
        if not rows:
            raise NotFoundError(f"No such Upload object: {upload_id}", param="upload_id")
        row = rows[0]
        if row[7] == "pending" and row[6] <= time.time():
            row = (*row[:7], "expired", row[8])
        return row

    async def pending_upload(self, project: str, upload_id: str) -> tuple:
        row = await self.upload(project, upload_id)
        if row[7] != "pending":
            raise InvalidRequestError(f"Upload {upload_id} is {row[7]}: it takes no more "
                                      "parts and cannot be completed.", param="upload_id",
                                      code="invalid_upload_state")
        return row

    async def add_part(self, project: str, upload_id: str, writer: BlobWriter) -> dict:
        await self.pending_upload(project, upload_id)
        part_id, now = new_id("part_"), int(time.time())
        size = await writer.commit(self.parts / part_id)
        await self.db.run(_insert_part, part_id, upload_id, size, now)
        return part_object(part_id, upload_id, now)

    async def complete(self, project: str, upload_id: str, part_ids: list[str],
                       md5: str | None, *, max_bytes: int) -> dict:
        """Join the parts in ``part_ids``' order into a file; 400 when they do not add up
        to the declared bytes or the MD5 differs (the parts are kept for another try)."""
        row = await self.pending_upload(project, upload_id)
        sizes = dict(await self.db.run(_select, "SELECT id, bytes FROM parts WHERE "
                                       "upload_id = ?", (upload_id,)))
        unknown = [p for p in part_ids if p not in sizes]
        if unknown or len(set(part_ids)) != len(part_ids):
            raise InvalidRequestError(
                f"part_ids must name this upload's parts, each once: {unknown or part_ids} "
                "does not.", param="part_ids", code="invalid_value")
        total = sum(sizes[p] for p in part_ids)
        if total != row[3] or total > max_bytes:
            raise InvalidRequestError(
                f"The parts hold {total} bytes; the upload declared {row[3]}"
                + (f" and files may hold at most {max_bytes}" if total > max_bytes else "")
                + ".", param="part_ids", code="invalid_value")
        file_id = new_id("file-")
        _size, digest = await asyncio.to_thread(
            blobs.join, [self.parts / p for p in part_ids], self.blob(file_id))
        if md5 is not None and md5.lower() != digest:
            await asyncio.to_thread(self.blob(file_id).unlink, missing_ok=True)
            raise InvalidRequestError(f"The joined parts' MD5 is {digest}, not {md5}.",
                                      param="md5", code="invalid_value")
        now = int(time.time())
        file_row = (file_id, row[1], row[2], total, now, expiry(row[2], None, None,
                                                                  created_at=now))
        await self.db.run(_complete_upload, project, upload_id, file_row,
                          [p for p in sizes if p not in part_ids])
        for stray in (p for p in sizes if p not in part_ids):
            await asyncio.to_thread((self.parts / stray).unlink, missing_ok=True)
        return upload_object((*row[:7], "completed", file_id), file_object(file_row))

    async def cancel_upload(self, project: str, upload_id: str) -> dict:
        row = await self.pending_upload(project, upload_id)
        parts = await self.db.run(_cancel_upload, upload_id)
        for part in parts:
            await asyncio.to_thread((self.parts / part).unlink, missing_ok=True)
        return upload_object((*row[:7], "cancelled", None), None)

    # -- the database thread -------------------------------------------------------------

    def _purge(self, db: sqlite3.Connection, now: int) -> None:
        """Remove expired files and uploads, and the temp files a crash left."""
        gone = [r[0] for r in db.execute(f"SELECT id FROM files WHERE NOT {_LIVE}", (now,))]
        parts = [r[0] for r in db.execute(
            "SELECT p.id FROM parts p JOIN uploads u ON p.upload_id = u.id "
            "WHERE u.status != 'pending' OR u.expires_at <= ?", (now,))]
        with transaction(db):
            db.execute(f"DELETE FROM files WHERE NOT {_LIVE}", (now,))
            db.execute("DELETE FROM parts WHERE id IN (SELECT p.id FROM parts p JOIN uploads u "
                       "ON p.upload_id = u.id WHERE u.status != 'pending' OR u.expires_at <= ?)",
                       (now,))
        for name in gone:
            self.blob(name).unlink(missing_ok=True)
        for name in parts:
            (self.parts / name).unlink(missing_ok=True)
        blobs.sweep(self.folder)
        blobs.sweep(self.parts)

    async def close(self) -> None:
        await self.db.close()


def _move(source: Path, target: Path) -> int:
    private_dir(target.parent)
    if source.exists() or not target.exists():
        os.replace(source, target)
    return target.stat().st_size


def _select(db: sqlite3.Connection, sql: str, args: tuple) -> list[tuple]:
    return db.execute(sql, args).fetchall()


def _insert_file(db: sqlite3.Connection, project: str, row: tuple,
                 again: bool = False) -> None:
    """Insert a file's row (``again``: unless a row of that id is there already)."""
    db.execute(f"INSERT {'OR IGNORE ' if again else ''}INTO files (project, {FILE_COLUMNS}) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (project, *row))


def _page(db: sqlite3.Connection, project: str, purpose: str | None, limit: int,
          after: str | None, order: str, now: int) -> tuple[list[dict], bool]:
    where, args = ["project = ?", _LIVE], [project, now]
    if purpose is not None:
        where.append("purpose = ?")
        args.append(purpose)
    if after is not None:
        # After the cursor in the listing's order; an unknown cursor lists nothing after it.
        where.append(f"n {'<' if order == 'desc' else '>'} COALESCE((SELECT n FROM files "
                     f"WHERE id = ? AND project = ?), {'-1' if order == 'desc' else '1e18'})")
        args += [after, project]
    rows = db.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE {' AND '.join(where)} "
                      f"ORDER BY n {'DESC' if order == 'desc' else 'ASC'} LIMIT ?",
                      (*args, limit + 1)).fetchall()
    return [file_object(r) for r in rows[:limit]], len(rows) > limit


def _delete_file(db: sqlite3.Connection, project: str, file_id: str) -> bool:
    with transaction(db):
        return db.execute("DELETE FROM files WHERE project = ? AND id = ?",
                          (project, file_id)).rowcount > 0


def _insert_upload(db: sqlite3.Connection, project: str, row: tuple) -> None:
    db.execute(f"INSERT INTO uploads (project, {UPLOAD_COLUMNS}) VALUES "
               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (project, *row))


def _insert_part(db: sqlite3.Connection, part_id: str, upload_id: str, size: int,
                 now: int) -> None:
    db.execute("INSERT INTO parts VALUES (?, ?, ?, ?)", (part_id, upload_id, size, now))


def _complete_upload(db: sqlite3.Connection, project: str, upload_id: str, file_row: tuple,
                     unused: list[str]) -> None:
    with transaction(db):  # the file and the upload's end together, or neither
        _insert_file(db, project, file_row)
        db.execute("UPDATE uploads SET status = 'completed', file_id = ? WHERE id = ?",
                   (file_row[0], upload_id))
        db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))


def _cancel_upload(db: sqlite3.Connection, upload_id: str) -> list[str]:
    with transaction(db):
        parts = [r[0] for r in db.execute("SELECT id FROM parts WHERE upload_id = ?",
                                          (upload_id,))]
        db.execute("UPDATE uploads SET status = 'cancelled' WHERE id = ?", (upload_id,))
        db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    return parts

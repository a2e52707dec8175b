"""A file's bytes on disk, written and joined off the event loop, never held whole.

Uploads arrive as a stream of chunks (a 512 MB file is ~8,000 of aiohttp's 64 KiB reads):
``BlobWriter`` gathers them up to ``FLUSH_BYTES`` and writes each batch in a worker thread
to a private temp file beside the blobs (``.tmp-*``, 0600), counting the bytes against a
limit, then renames it into place; a writer given up (a client gone, a limit passed) leaves
nothing behind. ``join`` concatenates an upload's parts into one blob in a worker thread,
with the MD5 the client may check. ``sweep`` removes the temp files a crash left. Reading
back is aiohttp's ``FileResponse`` (``server/routes/files.py``) and, for batches, a line
reader of their own (``batches/lines.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from pathlib import Path

from behest_local.home import FILE_MODE, private_dir

FLUSH_BYTES = 1024 * 1024
"""Bytes gathered before one write in a worker thread: a thread hop per MiB, not per read."""
_TMP = ".tmp-"


class TooLarge(Exception):
    """More bytes arrived than the writer's ``limit``."""


class BlobWriter:
    """A temp file in ``folder`` taking chunks; ``commit(path)`` renames it to ``path``."""

    def __init__(self, folder: Path, *, limit: int) -> None:
        self.folder, self.limit = Path(folder), limit
        self.size = 0
        self.path = self.folder / f"{_TMP}{secrets.token_hex(8)}"
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    async def open(self) -> BlobWriter:
        self._fd = await asyncio.to_thread(_create, self.path)
        return self

    async def write(self, chunk: bytes) -> None:
        """Take ``chunk``; raises ``TooLarge`` once the total passes ``limit``."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(self.size)
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        if self._pending_bytes >= FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        data, self._pending, self._pending_bytes = self._pending, [], 0
        if data:
            await asyncio.to_thread(_write_all, self._fd, data)

    async def commit(self, path: Path) -> int:
        """Write what is left, make it durable and move it to ``path``; its size."""
        await self._flush()
        fd, self._fd = self._fd, None
        await asyncio.to_thread(_finish, fd, self.path, Path(path))
        return self.size

    async def discard(self) -> None:
        """Close and remove the temp file (safe to call twice, or after ``commit``)."""
        fd, self._fd, self._pending = self._fd, None, []
        if fd is not None:
            await asyncio.to_thread(_drop, fd, self.path)


def _create(path: Path) -> int:
    private_dir(path.parent)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)


def _write_all(fd: int, chunks: list[bytes]) -> None:
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def _finish(fd: int, temp: Path, path: Path) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def _drop(fd: int, path: Path) -> None:
    os.close(fd)
    path.unlink(missing_ok=True)


def join(parts: list[Path], path: Path) -> tuple[int, str]:
    """Concatenate ``parts`` into ``path`` (blocking: run it in a worker thread), then
    delete the parts; the size and MD5 hex digest of the whole."""
    md5 = hashlib.md5(usedforsecurity=False)
    temp = path.with_name(f"{_TMP}{secrets.token_hex(8)}")
    size = 0
    fd = _create(temp)
    try:
        for part in parts:
            with open(part, "rb") as source:
                while chunk := source.read(FLUSH_BYTES):
                    md5.update(chunk)
                    _write_all(fd, [chunk])
                    size += len(chunk)
    except BaseException:
        _drop(fd, temp)
        raise
    _finish(fd, temp, path)
    for part in parts:
        part.unlink(missing_ok=True)
    return size, md5.hexdigest()


def sweep(folder: Path) -> int:
    """Remove the temp files a crash left in ``folder`` (blocking); how many."""
    removed = 0
    if folder.is_dir():
        for stray in folder.glob(f"{_TMP}*"):
            stray.unlink(missing_ok=True)
            removed += 1
    return removed

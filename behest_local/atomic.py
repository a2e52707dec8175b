"""Crash-safe storage of small state files, shared by ``keys.json`` and the vault.

* :func:`atomic_write` writes a temp file beside the target (mode 0600), fsyncs it, renames
  it over the target and fsyncs the directory: readers see the old file or the new one, never
  a torn one, and a crash at any point leaves at worst a stray ``.<name>.*.tmp`` file.
* :func:`locked` holds a ``flock`` on a sibling lock file: exclusive for a read-modify-write,
  shared for a reader that must see several files consistently. Not reentrant: two locks on
  the same file from one process (even one shared, one exclusive) deadlock. Where there is
  no ``fcntl`` (Windows), filelock's ``lock_descriptor`` locks the file instead (LockFileEx,
  the primitive of its ``FileLock``): exclusive only, so a shared lock is an exclusive one
  there, and a contended one is retried every 50 ms rather than waited for in the kernel.
* :func:`file_sig` is a cheap "did it change?" signature; every atomic write changes it.
* :func:`remove_strays` deletes the temp files interrupted writes left (at start).

On Windows a directory cannot be opened to be fsynced: ``fsync_dir`` does nothing there
(NTFS journals its metadata itself).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from behest_local.home import FILE_MODE, private_dir

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

Signature = tuple[int, int, int, int]


def _lock(fd: int, *, shared: bool = False, blocking: bool = True) -> bool:
    """Lock the open file ``fd`` (released by closing it); False if ``blocking`` is False
    and another process holds it."""
    if fcntl is None:
        from filelock import lock_descriptor

        return lock_descriptor(fd, blocking=blocking)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) |
                    (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def fsync_dir(path: Path) -> None:
    """Make renames and unlinks in ``path`` durable (a no-op on Windows)."""
    if os.name == "nt":
        return
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably; the file ends up mode 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)  # the rename itself must survive a crash too


@contextlib.contextmanager
def locked(lock_path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive (or shared) flock on ``lock_path`` (created 0600, dir 0700)."""
    lock_path = Path(lock_path)
    private_dir(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        _lock(fd, shared=shared)
        yield
    finally:
        os.close(fd)  # releases the lock


def file_sig(path: Path) -> Signature | None:
    """(inode, mtime_ns, ctime_ns, size) of ``path``, or None if absent. A replace changes the
    inode; ctime guards against a freed inode number being reused by a later write."""
    with contextlib.suppress(FileNotFoundError):
        st = os.stat(path)
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    return None


def remove_strays(directory: Path) -> list[Path]:
    """Delete the ``*.tmp`` files in ``directory`` (the state dir holds no others) that
    interrupted writes left; the ones removed. A temp file of ``atomic_write`` whose target
    has a lock file is removed only while that lock is free: when it is held, another
    process (``behest-local keys create``, say) is writing that temp file right now."""
    removed = []
    for tmp in sorted(Path(directory).glob("*.tmp")):
        lock = _lock_of(tmp)
        fd = os.open(lock, os.O_RDWR) if lock is not None else None
        try:
            if fd is not None and not _lock(fd, blocking=False):
                continue  # a write in flight: its temp file is no stray
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(tmp)
                removed.append(tmp)
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock
    if removed:
        fsync_dir(Path(directory))
    return removed


def _lock_of(tmp: Path) -> Path | None:
    """The lock file of the target an ``atomic_write`` temp file (``.<name>.<random>.tmp``)
    was to replace, when that lock file exists."""
    if not tmp.name.startswith("."):
        return None
    target = tmp.name[1:-len(".tmp")].rpartition(".")[0]
    lock = tmp.with_name(target + ".lock")
    return lock if target and lock.is_file() else None

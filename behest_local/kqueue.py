"""macOS's (and the BSDs') kqueue for the file watcher: the kernel's vnode notifications
as a descriptor that the event loop reads when it becomes readable (``file_watch.py``).

The counterpart of ``inotify.py``, for the same reason: watchfiles' thread wakes every
``step`` to look for events, so an idle gateway on a Mac woke the CPU ~100 times a
second. A kqueue registered with ``loop.add_reader`` costs nothing until the kernel has an
event, and the event reaches the loop at once.

UNTESTED ON REAL macOS: CI runs on Linux, where ``select.kqueue`` does not exist. What
can be checked there is checked: the translation of kernel events into changed files is
two pure functions (``touched``, ``changed``) unit-tested with synthetic kevents, and
``select`` is asked for kqueue only where it has one (``available``).

kqueue watches open files, not names: each followed directory is opened and watched for
``NOTE_WRITE`` (an entry was added, removed or renamed: an atomic replace, a delete), and
each followed file that exists is opened and watched for writes, attribute changes and its
own deletion or rename. Events carry no file name, so after one the followed names in
that directory are stat'ed and those whose signature (inode, mtime, size) moved are
reported; a file whose inode changed (replaced by a rename) is opened again. Unlike
inotify's ``IN_CLOSE_WRITE`` a write is reported before the file is closed, as under
watchfiles: a ticking follower is called once more after each change (``file_watch``).
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# <sys/event.h>, the same on macOS and FreeBSD; taken from ``select`` where it has them.
KQ_FILTER_VNODE = getattr(select, "KQ_FILTER_VNODE", -4)
KQ_EV_ADD = getattr(select, "KQ_EV_ADD", 0x0001)
KQ_EV_CLEAR = getattr(select, "KQ_EV_CLEAR", 0x0020)
NOTE_DELETE = getattr(select, "KQ_NOTE_DELETE", 0x0001)
NOTE_WRITE = getattr(select, "KQ_NOTE_WRITE", 0x0002)
NOTE_EXTEND = getattr(select, "KQ_NOTE_EXTEND", 0x0004)
NOTE_ATTRIB = getattr(select, "KQ_NOTE_ATTRIB", 0x0008)
NOTE_RENAME = getattr(select, "KQ_NOTE_RENAME", 0x0020)
NOTE_REVOKE = getattr(select, "KQ_NOTE_REVOKE", 0x0040)

GONE = NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE
DIRECTORY_FLAGS = NOTE_WRITE | GONE
FILE_FLAGS = NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | GONE
O_EVTONLY = 0x8000 if sys.platform == "darwin" else 0
"""macOS: open for events only, so a watched file never keeps its volume from unmounting."""
_BATCH = 64

Signature = tuple[int, int, int] | None
"""``(inode, mtime_ns, size)`` of a file; None when there is none."""


@dataclass(frozen=True, slots=True)
class Watched:
    """What an open descriptor watches: ``name`` in ``directory``, or ("") the directory."""

    directory: str
    name: str = ""


def available() -> bool:
    """Whether this platform has kqueue (macOS, the BSDs)."""
    return hasattr(select, "kqueue")


def touched(events: Iterable[object], watched: Mapping[int, Watched]
            ) -> tuple[set[str], set[str]]:
    """The directories to look in again after ``events`` (kevents: ``ident``, ``filter``,
    ``fflags``), and those that are gone themselves (deleted, moved, revoked). Pure."""
    look: set[str] = set()
    gone: set[str] = set()
    for event in events:
        what = watched.get(event.ident)
        if what is None or event.filter != KQ_FILTER_VNODE:
            continue
        if not what.name and event.fflags & GONE:
            gone.add(what.directory)
        else:  # an entry of the directory, or a followed file written, replaced or gone
            look.add(what.directory)
    return look - gone, gone


def changed(before: Mapping[str, Signature], after: Mapping[str, Signature]) -> list[str]:
    """The names whose signature moved between ``before`` and ``after``. Pure."""
    return sorted(name for name, signature in after.items() if before.get(name) != signature)


def signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size) if stat.S_ISREG(st.st_mode) else None


class Kqueue:
    """One kqueue watching ``follows`` (directory -> the names followed in it); ``fd`` for
    ``loop.add_reader``, ``read`` for what changed."""

    def __init__(self, follows: Mapping[str, Iterable[str]]) -> None:
        self._kq = select.kqueue()
        self.fd: int = self._kq.fileno()
        self._names = {directory: sorted(set(names)) for directory, names in follows.items()}
        self._watched: dict[int, Watched] = {}
        self._armed: dict[tuple[str, str], tuple[int, int]] = {}  # -> (fd, inode)
        self._signatures: dict[str, dict[str, Signature]] = {}
        try:
            for directory, names in self._names.items():
                self._watch(Watched(directory), DIRECTORY_FLAGS)
                self._signatures[directory] = {}
                self._look(directory)
        except BaseException:
            self.close()
            raise

    def _watch(self, what: Watched, flags: int) -> int:
        path = os.path.join(what.directory, what.name) if what.name else what.directory
        fd = os.open(path, os.O_RDONLY | O_EVTONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._kq.control([select.kevent(fd, filter=KQ_FILTER_VNODE,
                                            flags=KQ_EV_ADD | KQ_EV_CLEAR, fflags=flags)], 0, 0)
        except BaseException:
            os.close(fd)
            raise
        self._watched[fd] = what
        return fd

    def _unwatch(self, fd: int) -> None:
        self._watched.pop(fd, None)
        os.close(fd)  # closing the descriptor removes its kevent

    def _look(self, directory: str) -> list[str]:
        """Stat the followed names in ``directory``, watch each file's current inode,
        and return the names whose signature moved."""
        after = {name: signature(os.path.join(directory, name))
                 for name in self._names[directory]}
        moved = changed(self._signatures[directory], after)
        self._signatures[directory] = after
        for name, now in after.items():
            armed = self._armed.get((directory, name))
            if armed is not None and (now is None or armed[1] != now[0]):
                self._unwatch(armed[0])  # gone, or replaced by another file
                del self._armed[(directory, name)]
                armed = None
            if armed is None and now is not None:
                try:
                    fd = self._watch(Watched(directory, name), FILE_FLAGS)
                except OSError:  # removed meanwhile: the directory's next event tells
                    continue
                self._armed[(directory, name)] = (fd, now[0])
        return moved

    def read(self) -> list[tuple[str, str | None]]:
        """Every change pending now, as ``(directory, name)``, or ``(directory, None)``
        for a directory that is itself gone; never blocks."""
        events = []
        while batch := self._kq.control(None, _BATCH, 0):
            events += batch
            if len(batch) < _BATCH:
                break
        look, gone = touched(events, self._watched)
        out: list[tuple[str, str | None]] = [(directory, None) for directory in sorted(gone)]
        for directory in sorted(look):
            out += [(directory, name) for name in self._look(directory)]
        return out

    def close(self) -> None:
        for fd in list(self._watched):
            self._unwatch(fd)
        self._armed.clear()
        if not self._kq.closed:
            self._kq.close()
        self.fd = -1

"""macOS's file watching (behest_local/kqueue.py), checked on Linux without a kqueue.

``select.kqueue`` exists only on macOS and the BSDs, so CI cannot run the real thing:
what is tested here is everything but the kernel. ``touched`` and ``changed`` turn
synthetic kevents and file signatures into what the file watcher reports; ``Kqueue``'s
bookkeeping (which descriptors it watches, re-opening a file replaced by a rename) runs
against a stand-in for ``select`` that records registrations and hands back the kevents
a test queues. Untested: that macOS delivers those kevents, and uvloop polling a kqueue.
"""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

import pytest

from behest_local import file_watch, kqueue
from behest_local.kqueue import (DIRECTORY_FLAGS, FILE_FLAGS, KQ_FILTER_VNODE, NOTE_ATTRIB,
                                 NOTE_DELETE, NOTE_RENAME, NOTE_WRITE, Watched, changed,
                                 touched)


def kevent(ident: int, fflags: int, filter: int = KQ_FILTER_VNODE) -> SimpleNamespace:
    return SimpleNamespace(ident=ident, filter=filter, fflags=fflags)


WATCHED = {3: Watched("/etc/b"), 4: Watched("/etc/b", "behest.toml"),
           5: Watched("/home/s"), 6: Watched("/home/s", "vault.json")}


def test_an_entry_written_in_a_directory_means_looking_in_it_again():
    assert touched([kevent(3, NOTE_WRITE)], WATCHED) == ({"/etc/b"}, set())


def test_a_followed_file_written_replaced_or_deleted_means_its_directory():
    for flags in (NOTE_WRITE, NOTE_ATTRIB, NOTE_DELETE, NOTE_RENAME):
        assert touched([kevent(6, flags)], WATCHED) == ({"/home/s"}, set())


def test_a_directory_deleted_or_moved_is_gone_not_looked_in():
    assert touched([kevent(3, NOTE_DELETE), kevent(5, NOTE_RENAME | NOTE_WRITE)],
                   WATCHED) == (set(), {"/etc/b", "/home/s"})


def test_unknown_descriptors_and_other_filters_are_ignored():
    assert touched([kevent(99, NOTE_WRITE), kevent(4, NOTE_WRITE, filter=-1)],
                   WATCHED) == (set(), set())


def test_only_names_whose_signature_moved_are_reported():
    before = {"a": (1, 10, 5), "b": (2, 10, 5), "c": None}
    after = {"a": (1, 10, 5), "b": (9, 11, 5), "c": (3, 12, 1)}
    assert changed(before, after) == ["b", "c"]
    assert changed(after, {**after, "b": None}) == ["b"]


class FakeSelect:
    """``select`` with a kqueue: registrations recorded, kevents queued by the test."""

    KQ_FILTER_VNODE = KQ_FILTER_VNODE

    def __init__(self) -> None:
        self.registered: dict[int, int] = {}  # fd -> fflags
        self.queued: list[SimpleNamespace] = []
        self.read_fd, self.write_fd = os.pipe()

    def kevent(self, fd, filter, flags, fflags):
        return SimpleNamespace(ident=fd, filter=filter, flags=flags, fflags=fflags)

    def kqueue(self):
        fake = self

        class Queue:
            closed = False

            def fileno(self):
                return fake.read_fd

            def control(self, changes, max_events, timeout):
                for change in changes or ():
                    fake.registered[change.ident] = change.fflags
                events, fake.queued = fake.queued[:max_events], fake.queued[max_events:]
                if not fake.queued:  # read: no longer readable, as a drained kqueue
                    os.set_blocking(fake.read_fd, False)
                    try:
                        os.read(fake.read_fd, 64)
                    except BlockingIOError:
                        pass
                return events

            def close(self):
                self.closed = True

        return Queue()


@pytest.fixture
def fake_select(monkeypatch):
    fake = FakeSelect()
    monkeypatch.setattr(kqueue, "select", fake)
    yield fake
    os.close(fake.read_fd), os.close(fake.write_fd)


def _fd_of(watch: kqueue.Kqueue, what: Watched) -> int:
    return next(fd for fd, watched in watch._watched.items() if watched == what)


def test_a_replaced_file_is_reported_and_watched_again_at_its_new_inode(tmp_path, fake_select):
    (tmp_path / "vault.json").write_text("{}")
    watch = kqueue.Kqueue({str(tmp_path): ["vault.json", "keys.json"]})
    directory = _fd_of(watch, Watched(str(tmp_path)))
    old = _fd_of(watch, Watched(str(tmp_path), "vault.json"))
    assert fake_select.registered == {directory: DIRECTORY_FLAGS, old: FILE_FLAGS}
    assert watch.read() == []  # nothing queued, nothing changed

    (tmp_path / "new").write_text('{"v": 1}')
    os.replace(tmp_path / "new", tmp_path / "vault.json")  # an atomic write
    fake_select.queued = [kevent(directory, NOTE_WRITE), kevent(old, NOTE_RENAME)]
    assert watch.read() == [(str(tmp_path), "vault.json")]
    new = _fd_of(watch, Watched(str(tmp_path), "vault.json"))
    assert os.fstat(new).st_ino == (tmp_path / "vault.json").stat().st_ino

    (tmp_path / "keys.json").write_text("[]")  # a followed file that appears
    fake_select.queued = [kevent(directory, NOTE_WRITE)]
    assert watch.read() == [(str(tmp_path), "keys.json")]
    watch.close()
    assert watch._watched == {}


def test_a_gone_directory_is_reported_as_such(tmp_path, fake_select):
    watch = kqueue.Kqueue({str(tmp_path): ["behest.toml"]})
    fake_select.queued = [kevent(_fd_of(watch, Watched(str(tmp_path))), NOTE_DELETE)]
    assert watch.read() == [(str(tmp_path), None)]
    watch.close()


async def test_the_file_watcher_uses_kqueue_where_there_is_no_inotify(tmp_path, monkeypatch,
                                                                     fake_select):
    """``FileWatch.run`` on a kqueue platform: the loop reads the queue when its
    descriptor is readable and calls the follower of the file that changed."""
    monkeypatch.setattr(file_watch.inotify, "available", lambda: False)
    monkeypatch.setattr(kqueue, "available", lambda: True)
    assert file_watch.backend_modules() == ()  # no watchfiles thread
    opened = asyncio.Event()

    class Opened(kqueue.Kqueue):
        def __init__(self, follows) -> None:
            super().__init__(follows)
            opened.set()

    monkeypatch.setattr(kqueue, "Kqueue", Opened)
    heard = asyncio.Event()
    watch = file_watch.FileWatch()
    watch.follow(tmp_path, ["behest.toml"], heard.set)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    await asyncio.wait_for(opened.wait(), 5)  # changes before this are not reported
    (tmp_path / "behest.toml").write_text("x = 1\n")
    fake_select.queued = [kevent(min(fake_select.registered), NOTE_WRITE)]
    os.write(fake_select.write_fd, b"!")  # the kqueue's descriptor becomes readable
    await asyncio.wait_for(heard.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_loop_that_cannot_wait_on_the_kqueue_falls_back_to_watchfiles(
        tmp_path, monkeypatch, fake_select, caplog):
    monkeypatch.setattr(file_watch.inotify, "available", lambda: False)
    monkeypatch.setattr(kqueue, "available", lambda: True)
    loop = asyncio.get_running_loop()

    def refuse(fd, callback, *args):
        raise NotImplementedError("no add_reader here")

    monkeypatch.setattr(loop, "add_reader", refuse)
    heard = asyncio.Event()
    watch = file_watch.FileWatch()
    watch.follow(tmp_path, ["behest.toml"], heard.set, tick=True)  # called once at start
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    await asyncio.wait_for(heard.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert "watching files with watchfiles instead" in caplog.text

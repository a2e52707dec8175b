"""The shared file watcher: one watcher for every follower, dispatch by file name, ticks,
and a failing follower that does not stop the others (behest_local/file_watch.py), on
both backends: inotify read by the event loop (Linux) and watchfiles' thread (elsewhere)."""

from __future__ import annotations

import asyncio
import logging

import pytest
import watchfiles

from behest_local import file_watch, inotify
from behest_local.file_watch import FileWatch
from behest_local.runtime.build import ServeOptions
from behest_local.runtime.running import start
from tests.conftest import poll_until
from tests.runtime.test_runtime_loop import TEST_SETTINGS, _warmed

pytestmark = pytest.mark.asyncio
linux_only = pytest.mark.skipif(not inotify.available(), reason="inotify is Linux's")


@pytest.fixture(params=["inotify", "watchfiles"])
def backend(request, monkeypatch) -> str:
    """Each backend in turn: watchfiles is what macOS and Windows get."""
    if request.param == "inotify" and not inotify.available():
        pytest.skip("inotify is Linux's")
    if request.param == "watchfiles":
        monkeypatch.setattr(inotify, "available", lambda: False)
    return request.param


async def _running(watch: FileWatch, probe_dir) -> tuple[asyncio.Event, asyncio.Task]:
    """Start ``watch`` and return once its thread sees events: a probe file is rewritten
    until its follower hears of it (events before the thread starts are not seen)."""
    seen = asyncio.Event()
    watch.follow(probe_dir, [".probe"], seen.set)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))
    for attempt in range(100):
        (probe_dir / ".probe").write_text(str(attempt))
        try:
            await asyncio.wait_for(seen.wait(), 0.1)
            return stop, task
        except asyncio.TimeoutError:
            continue
    raise AssertionError("the watcher never started")


async def test_each_follower_hears_only_of_its_own_files(tmp_path, backend):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    heard: list[str] = []
    watch = FileWatch()
    watch.follow(a, ["one.toml"], lambda: heard.append("one"))

    async def two() -> None:  # a coroutine follower is awaited
        heard.append("two")

    watch.follow(b, ["two.json"], two)
    stop, task = await _running(watch, a)
    try:
        (a / "other.txt").write_text("not followed")
        (b / "two.json").write_text("{}")
        await poll_until(lambda: "two" in heard)
        (a / "one.toml").write_text("x = 1")
        await poll_until(lambda: "one" in heard)
        assert heard.count("two") == 1 and heard.count("one") == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert task.exception() is None


async def test_a_failing_follower_is_logged_and_the_others_keep_hearing(tmp_path, caplog,
                                                                          backend):
    heard: list[int] = []

    def broken() -> None:
        raise ValueError("cannot parse it")

    watch = FileWatch()
    watch.follow(tmp_path, ["f.json"], broken, label="broken one")
    watch.follow(tmp_path, ["f.json"], lambda: heard.append(1))
    stop, task = await _running(watch, tmp_path)
    caplog.set_level(logging.WARNING, logger="behest_local.file_watch")
    try:
        (tmp_path / "f.json").write_text("1")
        await poll_until(lambda: len(heard) == 1)
        (tmp_path / "f.json").write_text("2")
        await poll_until(lambda: len(heard) == 2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    messages = [r.getMessage() for r in caplog.records]
    assert any("f.json" in m and "broken one" in m and "ValueError: cannot parse it" in m
               for m in messages), messages


async def test_a_ticking_follower_is_called_without_any_change_under_watchfiles(
        tmp_path, monkeypatch):
    monkeypatch.setattr(inotify, "available", lambda: False)
    monkeypatch.setattr(file_watch, "TICK_MS", 100)
    ticks: list[int] = []
    quiet: list[int] = []
    watch = FileWatch()
    watch.follow(tmp_path, ["a.json"], lambda: ticks.append(1), tick=True)
    watch.follow(tmp_path, ["b.json"], lambda: quiet.append(1))
    stop, task = await _running(watch, tmp_path)
    try:
        await poll_until(lambda: len(ticks) >= 2)
        assert quiet == []  # a tick is only for those who asked
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


@linux_only
async def test_a_ticking_follower_is_called_at_start_and_once_more_after_a_change_only(
        tmp_path, monkeypatch):
    monkeypatch.setattr(file_watch, "TICK_MS", 100)
    ticks: list[int] = []
    quiet: list[int] = []
    watch = FileWatch()
    watch.follow(tmp_path, ["a.json"], lambda: ticks.append(1), tick=True)
    watch.follow(tmp_path, ["b.json"], lambda: quiet.append(1))
    stop, task = await _running(watch, tmp_path)
    try:
        await poll_until(lambda: ticks == [1])  # the look when watching started
        assert watch.rechecks == {}  # no change yet: no timer at all
        (tmp_path / "a.json").write_text("{}")
        await poll_until(lambda: len(ticks) == 3)  # the change, then its one re-check
        assert watch.rechecks == {}  # and no timer left behind it
        assert quiet == []  # a tick is only for those who asked
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


@linux_only
async def test_inotify_hears_a_replace_a_delete_and_not_a_half_written_file(tmp_path):
    """An atomic write (a temp file renamed into place), a deletion, and a file written in
    two parts: heard once it is closed, never between the parts."""
    seen: list[str] = []
    marks: list[int] = []
    watch = FileWatch()
    target = tmp_path / "keys.json"
    watch.follow(tmp_path, ["keys.json"], lambda: seen.append(
        target.read_text() if target.exists() else "<gone>"))
    watch.follow(tmp_path, ["mark"], lambda: marks.append(1))
    stop, task = await _running(watch, tmp_path)
    try:
        (tmp_path / ".keys.json.x.tmp").write_text("replaced")
        (tmp_path / ".keys.json.x.tmp").replace(target)
        await poll_until(lambda: seen == ["replaced"])
        target.unlink()
        await poll_until(lambda: seen == ["replaced", "<gone>"])
        with open(target, "w") as f:
            f.write("half ")
            f.flush()
            # The kernel queues events in order: once the mark is heard, a write event
            # of the half file would have been too.
            (tmp_path / "mark").write_text("")
            await poll_until(lambda: marks)
            assert len(seen) == 2
            f.write("and whole")
        await poll_until(lambda: len(seen) == 3)
        assert seen[2] == "half and whole"
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_nothing_followed_returns_at_once():
    watch = FileWatch()
    assert watch.directories() == [] and watch.follows == ()
    assert await asyncio.wait_for(watch.run(asyncio.Event()), 1) is None  # no thread started


async def test_the_server_runs_one_watcher_for_all_its_files(tmp_path, monkeypatch, backend):
    """One watcher, on the state dir (keys, vault) and the config's directory. On Linux
    it is inotify on the event loop, with no watchfiles thread (it woke 100 times a second);
    elsewhere exactly one ``awatch`` (each is a thread taking the GIL every step)."""
    calls: list[tuple] = []
    real = watchfiles.awatch

    def counting(*paths, **kwargs):
        calls.append((paths, kwargs))
        return real(*paths, **kwargs)

    monkeypatch.setattr(watchfiles, "awatch", counting)
    home = tmp_path / "home"
    config = tmp_path / "project" / "behest.toml"
    config.parent.mkdir()
    config.write_text("")
    running = await start(ServeOptions(home=home, config_path=config), settings=TEST_SETTINGS)
    try:
        await _warmed(running)
        assert running.files.directories() == sorted({str(home), str(config.parent.resolve())})
        names = {name for follow in running.files.follows for name in follow.names}
        assert {"behest.toml", "vault.json", "keys.json", "deployed.toml"} <= names
        if backend == "inotify":
            assert calls == []
        else:
            await poll_until(lambda: calls)
            (paths, kwargs), = calls
            assert set(paths) == {str(home), str(config.parent.resolve())}
            assert kwargs["step"] == file_watch.STEP_MS
    finally:
        await running.close()

"""The TUI's actions that take data out: copy as curl, export HAR, save as fixture.

A mixin of ``BehestApp`` (app.py), kept apart because it is the app's only file I/O.
Every action reads records (``record_of``: built in a worker thread, redacted) and
writes files from a thread, so the event loop never waits on the disk. Exports go to
``<state dir>/exports`` and fixtures to ``<state dir>/fixtures``. Copy as curl says where
the command went (clipboard.py); when only OSC 52 carried it, which no program can
confirm, the command is also written to ``exports/curl-<id>.sh`` and the toast says so.
A toast names a file on a line of its own, its folder on the line before (``place``), so
the name is never split across lines however narrow the terminal.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from behest_local.atomic import atomic_write
from behest_local.home import private_dir
from behest_local.observe import export
from behest_local.observe.fixtures import FixtureError, save_fixture
from behest_local.tui.clipboard import copy_text


def place(path: Path) -> str:
    """``path`` for a toast: its folder (``~`` for the home directory) on one line, its
    name on the next."""
    folder = str(path.parent)
    home = str(Path.home())
    if folder == home or folder.startswith(home + "/"):
        folder = "~" + folder[len(home):]
    return f"{folder}/\n{path.name}"


class ExportActions:
    """Needs ``home``, ``exchanges``, ``record_of``, ``clipboard_tool`` and ``notify``
    from the app."""

    def _directory(self, name: str) -> Path:
        return (self.home or Path.cwd()) / name

    async def action_copy_curl(self) -> None:
        record = await self._selected_record()
        if record is None:
            return
        command = export.curl_command(record)
        copied = await copy_text(self, command, self.clipboard_tool)
        message = f"copied curl for {record['id']} to {copied.where}"
        if not copied.known:
            path = self._directory("exports") / f"curl-{record['id']}.sh"

            def write() -> None:
                private_dir(path.parent)
                atomic_write(path, (command + "\n").encode())

            try:
                await asyncio.to_thread(write)
            except OSError as exc:
                message += f"; writing it to a file failed too: {exc.strerror}"
            else:
                message += f", which a terminal may ignore; also written to\n{place(path)}"
        self.notify(f"{message}\n($BEHEST_API_KEY stands in for the key)", timeout=10,
                    markup=False)

    async def action_export(self) -> None:
        ids = self.exchanges.shown_ids
        records = [r for r in [await self.record_of(i) for i in ids] if r is not None]
        if not records:
            self.notify("nothing to export: the list is empty", severity="warning", timeout=3)
            return
        directory = self._directory("exports")
        path = directory / time.strftime("behest-%Y%m%d-%H%M%S.har")

        def write() -> None:
            private_dir(directory)
            export.save(records, path)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error", markup=False)
            return
        self.notify(f"exported {len(records)} exchanges to\n{place(path)}", timeout=8,
                    markup=False)

    async def action_fixture(self) -> None:
        record = await self._selected_record()
        if record is None:
            return
        try:
            path = await asyncio.to_thread(save_fixture, record, self._directory("fixtures"))
        except (FixtureError, OSError) as exc:
            self.notify(str(exc), severity="error", timeout=8, markup=False)
            return
        self.notify(f"saved the fixture to\n{place(path)}", timeout=8, markup=False)

    async def _selected_record(self) -> dict | None:
        selected = self.exchanges.selected_id
        if selected is None:
            self.notify("select an exchange first", severity="warning", timeout=3)
            return None
        return await self.record_of(selected)

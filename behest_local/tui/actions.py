"""The TUI's actions that take data out: copy as curl, export HAR, save as fixture.

A mixin of ``BehestApp`` (app.py), kept apart because it is the app's only file I/O.
Every action reads records (``record_of``: built in a worker thread, redacted) and
writes files from a thread, so the event loop never waits on the disk. Exports go to
``<state dir>/exports`` and fixtures to ``<state dir>/fixtures``; a notification names
the file.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from behest_local.home import private_dir
from behest_local.observe import export
from behest_local.observe.fixtures import FixtureError, save_fixture


class ExportActions:
    """Needs ``home``, ``exchanges``, ``record_of`` and ``notify`` from the app."""

    async def action_copy_curl(self) -> None:
        record = await self._selected_record()
        if record is not None:
            self.copy_to_clipboard(export.curl_command(record))
            self.notify(f"copied curl for {record['id']} ($BEHEST_API_KEY stands in for "
                        "the key)", timeout=4)

    async def action_export(self) -> None:
        ids = self.exchanges.shown_ids
        records = [r for r in [await self.record_of(i) for i in ids] if r is not None]
        if not records:
            self.notify("nothing to export: the list is empty", severity="warning", timeout=3)
            return
        directory = (self.home or Path.cwd()) / "exports"
        path = directory / time.strftime("behest-%Y%m%d-%H%M%S.har")

        def write() -> None:
            private_dir(directory)
            export.save(records, path)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.notify(f"exported {len(records)} exchanges to {path}", timeout=8)

    async def action_fixture(self) -> None:
        record = await self._selected_record()
        if record is None:
            return
        directory = (self.home or Path.cwd()) / "fixtures"
        try:
            path = await asyncio.to_thread(save_fixture, record, directory)
        except (FixtureError, OSError) as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.notify(f"saved fixture {path}", timeout=8)

    async def _selected_record(self) -> dict | None:
        selected = self.exchanges.selected_id
        if selected is None:
            self.notify("select an exchange first", severity="warning", timeout=3)
            return None
        return await self.record_of(selected)

"""Snapshots of the TUI's main states, with fixed ids, clocks and time zone: the list with
its cursor row highlighted and the stream timeline at 80×24, 120×36 and 200×50 (the
columns the width keeps, cut in the middle where they must), the rest at 120×36.

Update baselines with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` only
after reviewing the HTML report pytest-textual-snapshot writes for a failure.
"""

from __future__ import annotations

import pytest

from behest_local.exchange.events import ConfigRejected
from behest_local.tui.app import BehestApp
from tests.trace_support import fake_exchange, make_store, settle

# The plugin is in the test extra; a bare install reports these as skipped (-ra), not broken.
pytest.importorskip("pytest_textual_snapshot", reason="pip install -e '.[test]'")

URL = "http://127.0.0.1:7717"
SIZE = (120, 36)
SIZES = [(80, 24), (120, 36), (200, 50)]


def mixed_app() -> BehestApp:
    store, clock = make_store()
    fake_exchange(store, clock, 1, pieces=["Hi there."])
    fake_exchange(store, clock, 2, stream=True, pieces=["Hel", "lo", "!"], requested="default",
                  user="alice")
    fake_exchange(store, clock, 3, status=401, project="billing")
    fake_exchange(store, clock, 4, stream=True, pieces=["Par", "tial"], status=200,
                  error="upstream failed mid-stream")
    fake_exchange(store, clock, 5, stream=True, pieces=["Still", " going"], status=None)
    return BehestApp(store, url=URL, tick=3600)


def stalled_app() -> BehestApp:
    store, clock = make_store()
    gaps = [0.0, 0.02, 0.02, 0.02, 1.5, 0.02, 0.02, 0.02, 0.0]
    fake_exchange(store, clock, 7, stream=True, gap=gaps,
                  pieces=["The", " quick", " brown", " fox", " jumps", " over", " it"])
    return BehestApp(store, url=URL, tick=3600)


async def _settled(pilot) -> None:
    await settle(pilot)


class TestSnapshots:
    def test_empty_state(self, snap_compare):
        assert snap_compare(BehestApp(make_store()[0], url=URL, tick=3600), terminal_size=SIZE,
                            run_before=_settled)

    @pytest.mark.parametrize("size", SIZES, ids=lambda size: "%dx%d" % size)
    def test_mixed_statuses_with_the_cursor_on_a_finished_stream(self, snap_compare, size):
        async def second_row(pilot):
            await settle(pilot)
            pilot.app.exchanges.move_cursor(row=1)  # highlighted, not the last row
            await settle(pilot)

        assert snap_compare(mixed_app(), terminal_size=size, run_before=second_row)

    @pytest.mark.parametrize("size", SIZES, ids=lambda size: "%dx%d" % size)
    def test_stream_timeline_with_a_stall(self, snap_compare, size):
        async def timeline(pilot):
            await settle(pilot)
            pilot.app.detail.show_tab("timeline")
            await settle(pilot)

        assert snap_compare(stalled_app(), terminal_size=size, run_before=timeline)

    def test_config_rejected_in_the_header_and_a_toast(self, snap_compare):
        async def rejected(pilot):
            pilot.app.feed.config_event(ConfigRejected(
                0.0, "/home/u/behest.toml",
                "behest.toml:7: projects.local.provider_model: unknown model 'gpt-5o'\n"
                "  hint: did you mean 'gpt-4o'?"))
            pilot.app.refresh_feed()
            await settle(pilot)

        assert snap_compare(mixed_app(), terminal_size=SIZE, run_before=rejected)

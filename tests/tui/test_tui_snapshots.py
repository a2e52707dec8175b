"""Snapshots of the TUI's main states at 120×36, with fixed ids, clocks and time zone.

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

    def test_mixed_statuses_with_a_stream_in_progress(self, snap_compare):
        assert snap_compare(mixed_app(), terminal_size=SIZE, run_before=_settled)

    def test_stream_timeline_with_a_stall(self, snap_compare):
        async def timeline(pilot):
            await settle(pilot)
            pilot.app.detail.show_tab("timeline")
            await settle(pilot)

        assert snap_compare(stalled_app(), terminal_size=SIZE, run_before=timeline)

    def test_config_rejected_in_the_header_and_a_toast(self, snap_compare):
        async def rejected(pilot):
            pilot.app.feed.config_event(ConfigRejected(
                0.0, "/home/u/behest.toml",
                "behest.toml:7: projects.local.provider_model: unknown model 'gpt-5o'\n"
                "  hint: did you mean 'gpt-4o'?"))
            pilot.app.refresh_feed()
            await settle(pilot)

        assert snap_compare(mixed_app(), terminal_size=SIZE, run_before=rejected)

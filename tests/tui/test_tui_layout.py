"""The exchange list fits the terminal: which columns show at 80, 120 and 200 columns, where
cells are cut, that the cursor row is drawn in the cursor colours, the cost figure, and the
mark of a model the gateway warned about."""

from __future__ import annotations

import pytest

from behest_local.finops.prices import reported_cost
from behest_local.observe.record import build_record
from behest_local.tui.app import BehestApp
from behest_local.tui.panes import overview_text
from behest_local.tui.row import COLUMNS, ellipsize, layout, usd
from tests.trace_support import fake_exchange, make_store, rendered, settle

URL = "http://127.0.0.1:7717"
LONG_MODEL = "claude-sonnet-4-20250514-experimental-long-name"


def test_at_80_columns_time_status_model_duration_and_cost_stay():
    shown = [COLUMNS[n].key for n, _ in layout(78, {})]
    assert {"time", "status", "model", "duration", "cost"} <= set(shown)
    assert "id" not in shown and "who" not in shown and "progress" not in shown
    assert shown == [c.key for c in COLUMNS if c.key in shown]  # in display order


def test_columns_drop_in_rank_order_as_the_terminal_narrows():
    previous = None
    for width in range(200, 20, -1):
        shown = {COLUMNS[n].key for n, _ in layout(width, {})}
        if previous is not None:
            assert shown <= previous  # a narrower terminal never brings a column back
            for gone in previous - shown:
                assert all(COLUMNS[[c.key for c in COLUMNS].index(k)].keep
                           < COLUMNS[[c.key for c in COLUMNS].index(gone)].keep
                           for k in shown)
        previous = shown
        assert sum(w for _, w in layout(width, {})) <= max(width, 9)


def test_at_200_columns_every_column_is_as_wide_as_its_widest_cell():
    widest = {"model": len(LONG_MODEL) + 10, "request": 30, "who": 20, "id": 29, "cost": 11}
    widths = {COLUMNS[n].key: w for n, w in layout(198, widest)}
    assert set(widths) == {c.key for c in COLUMNS}
    for key, width in widest.items():
        assert widths[key] == width


def test_ids_and_models_are_cut_in_the_middle_other_cells_at_the_end():
    assert ellipsize("req_0123456789abcdef01234567", 13, middle=True) == "req_01…234567"
    assert ellipsize("gpt-4o-mini@emulated", 15, middle=True) == "gpt-4o-…mulated"
    assert ellipsize("billing/alice-the-user", 10) == "billing/a…"
    assert not COLUMNS[[c.key for c in COLUMNS].index("request")].middle  # method, path start
    assert ellipsize("short", 10, middle=True) == "short"


@pytest.mark.parametrize("cost, shown", [(None, "-"), (0.0, "$0.00"), (0.0000138, "$0.000014"),
                                         (0.5, "$0.50"), (12.3456789, "$12.345679")])
def test_the_cost_is_the_figure_the_usage_report_states(cost, shown):
    assert usd(cost) == shown
    if cost:
        assert float(shown[1:]) == reported_cost(cost)


async def test_the_cursor_row_is_drawn_in_the_cursor_colours_across_the_width():
    store, clock = make_store()
    for n in range(1, 4):
        fake_exchange(store, clock, n, model=LONG_MODEL)
    app = BehestApp(store, url=URL, tick=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.exchanges
        assert table.cursor_row == 2
        cursor = table.get_component_rich_style("exchange-list--cursor").bgcolor
        plain = table.rich_style.bgcolor
        assert cursor != plain
        for y, expect in ((1, plain), (2, plain), (3, cursor)):
            line = table.render_line(y)
            assert {s.style.bgcolor for s in line if s.text.strip()} == {expect}
            assert line.cell_length == table.size.width
        await pilot.press("up")
        assert {s.style.bgcolor for s in table.render_line(2)} == {cursor}
        screen = rendered(app)
        assert "claude-s" in screen and "…" in screen  # cut in the middle at 80 columns
        assert table.columns[:3] == ["time", "request", "model"]


async def test_at_200_columns_nothing_that_fits_is_cut():
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, model=LONG_MODEL, user="alice")
    app = BehestApp(store, url=URL, tick=3600)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        screen = rendered(app)
        assert f"{LONG_MODEL}@emulated" in screen
        assert exchange.id in screen and "local/alice" in screen
        assert usd(exchange.cost) in screen or exchange.cost is None


def test_the_detail_title_keeps_the_id_whole_and_cuts_a_long_path_in_its_middle():
    from behest_local.tui.exchange_detail import title_text

    record = {"method": "POST", "id": "req_0123456789abcdef01234567",
              "path": "/v1/projects/a-very-long-project-slug/deployments/chat/completions"}
    text = title_text(record, 78).plain
    assert len(text) <= 78 and text.endswith("  req_0123456789abcdef01234567")
    assert text.startswith("POST /v1/projects/") and "…" in text and "completions" in text


async def test_a_warned_model_is_marked_in_the_list_and_explained_in_the_overview():
    warning = "unknown model 'gtp-4o'; did you mean 'gpt-4o'?"
    store, clock = make_store()
    warned = fake_exchange(store, clock, 1, model="gtp-4o", warning=warning)
    fake_exchange(store, clock, 2, model="gpt-4o")
    app = BehestApp(store, url=URL, tick=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        rows = rendered(app).splitlines()
        assert any("⚠ gtp-4o@emulated" in row for row in rows)
        assert not any("⚠ gpt-4o@emulated" in row for row in rows)
    overview = overview_text(build_record(warned), None, None).plain
    assert f"warning  {warning}" in overview

"""The command palette lists the app's own actions with their keys, and runs them."""

from __future__ import annotations

from textual.command import CommandPalette

from behest_local.tui.app import BehestApp
from tests.trace_support import fake_exchange, make_store, rendered, settle, until

URL = "http://127.0.0.1:7717"
LISTED = ("Pause (space)", "Clear (c)", "Errors only (e)", "Status (s)", "Search (/)",
          "Export HAR (x)", "Save fixture (w)", "Copy curl (y)", "Follow (f)", "Quit (q)",
          "Zoom detail (z)", "Detail (enter)", "Timeline tab (6)")


async def test_every_action_with_a_key_is_in_the_palette_with_it():
    app = BehestApp(make_store()[0], url=URL, tick=3600)
    async with app.run_test(size=(120, 36)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
    for title in LISTED:
        assert title in titles
    assert "Quit" not in titles  # Textual's own, without a key: ours says q
    assert not any("API key" in title for title in titles)  # no key was created


async def test_the_palette_shows_them_and_runs_the_one_chosen():
    store, clock = make_store()
    fake_exchange(store, clock, 1)
    app = BehestApp(store, url=URL, tick=3600, first_keys={"local": "behest_sk_live_" + "0" * 32})
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("escape")  # the first-run notice
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette)
                    and "Export HAR (x)" in rendered(app))
        await pilot.press(*"pause")
        await until(pilot, lambda: "Pause or resume the live list" in rendered(app))
        await pilot.press("enter")
        await until(pilot, lambda: app.paused)
        assert app.paused  # the palette ran "pause"
        await pilot.press("ctrl+p", *"show the api key")
        await until(pilot, lambda: "first-run notice" in rendered(app))
        await pilot.press("enter")
        await until(pilot, lambda: "0" * 32 in rendered(app))
        assert "0" * 32 in rendered(app)  # ... and "show the API key": the notice again

"""First run and the copy actions: the new key inside the TUI, and honest copies.

The key created at start is shown in a notice with the base URL and a copy action; copies
say where they went (the system clipboard, when a tool took it, or only OSC 52, which no
program can confirm), copy as curl also writes a file when it cannot know, and toasts
keep a file's name on one line at 80 columns.
"""

from __future__ import annotations

import re
from pathlib import Path

from behest_local.runtime.build import build_gateway
from behest_local.runtime.serve import banner_lines, first_keys
from behest_local.tui.app import BehestApp
from behest_local.tui.exchange_list import ExchangeList
from behest_local.tui.first_run import FirstRun
from tests.conftest import TEST_SETTINGS
from tests.trace_support import fake_exchange, make_store, rendered, settle, until

URL = "http://127.0.0.1:7717"
KEY = "behest_sk_live_0123456789abcdef0123456789abcdef"
SMALL = (80, 24)


def flat(app) -> str:
    """The screen's words in order, borders dropped: what a toast says, however wrapped."""
    return " ".join(rendered(app).translate(str.maketrans("", "", "▌█▎▊")).split())


def recorder(tmp_path: Path) -> tuple[tuple[str, ...], Path]:
    """A stand-in for xclip: a command that keeps what it is given in a file."""
    kept = tmp_path / "clipboard.txt"
    return ("sh", "-c", f"cat > '{kept}'"), kept


async def test_the_key_created_at_start_is_shown_with_the_base_url_and_a_copy_action():
    app = BehestApp(make_store()[0], url=URL, tick=3600, first_keys={"local": KEY})
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, FirstRun)
        screen = rendered(app)
        assert KEY in screen and f"{URL}/v1" in screen and "project local" in screen
        assert "q quits" in screen and "esc" in screen
        await pilot.press("k")
        await settle(pilot)
        assert app.clipboard == KEY
        status = flat(app)
        assert "Sent the key to the terminal's clipboard (OSC 52)" in status
        assert "shift+drag" in status  # it cannot know the terminal took it
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, FirstRun) and KEY not in rendered(app)
        assert isinstance(app.focused, ExchangeList)
        app.action_show_key()  # the command palette's "show the API key" reopens it
        await settle(pilot)
        assert KEY in rendered(app)


async def test_copying_the_key_says_the_system_clipboard_took_it(tmp_path):
    app = BehestApp(make_store()[0], url=URL, tick=3600, first_keys={"local": KEY})
    app.clipboard_tool, kept = recorder(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.click("#copy-key")
        await until(pilot, lambda: "system clipboard" in flat(app))
        assert kept.read_text() == KEY
        assert "Sent the key to the system clipboard (sh) and the terminal's" in flat(app)
        await pilot.press("q")  # quits from the notice too
    assert app.return_code == 0


async def test_no_notice_without_a_new_key():
    app = BehestApp(make_store()[0], url=URL, tick=3600)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert not isinstance(app.screen, FirstRun)
        app.action_show_key()
        await settle(pilot)
        assert not isinstance(app.screen, FirstRun)


def test_the_banner_shows_a_new_key_once_and_names_q_while_the_tui_runs(tmp_path):
    gateway = build_gateway(TEST_SETTINGS, tmp_path)
    created = first_keys(gateway)
    assert list(created) == [p.id for p in TEST_SETTINGS.projects]
    tui = banner_lines(gateway, URL, created=created, tui=True)
    assert any(created["local"] in line for line in tui)
    assert tui[-1].endswith("(q in the TUI to quit)") and "Ctrl-C" not in "\n".join(tui)
    assert first_keys(gateway) == {}  # the next start: a hint, never the key again
    again = "\n".join(banner_lines(gateway, URL))
    assert created["local"] not in again and "(Ctrl-C to stop)" in again


async def test_copy_as_curl_writes_a_file_when_it_cannot_know_and_says_so(tmp_path):
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1)
    app = BehestApp(store, url=URL, tick=3600, home=tmp_path)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("y")
        name = f"curl-{exchange.id}.sh"
        await until(pilot, lambda: name in rendered(app))
        written = (tmp_path / "exports" / name).read_text()
        assert written == app.clipboard + "\n" and written.startswith("curl ")
        assert "OSC 52" in flat(app) and "also written to" in flat(app)
        assert re.search(rf"▌ {re.escape(name)}\s", rendered(app))  # whole on its line


async def test_copy_as_curl_says_the_system_clipboard_took_it_and_writes_no_file(tmp_path):
    store, clock = make_store()
    fake_exchange(store, clock, 1)
    app = BehestApp(store, url=URL, tick=3600, home=tmp_path)
    app.clipboard_tool, kept = recorder(tmp_path)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, lambda: "system clipboard (sh)" in flat(app))
        assert kept.read_text() == app.clipboard
        assert not (tmp_path / "exports").exists()


async def test_a_toast_never_splits_a_file_name_at_80_columns(tmp_path):
    store, clock = make_store()
    for n in range(1, 3):
        fake_exchange(store, clock, n, stream=True, pieces=["a", "b"])
    home = tmp_path / "a-state-directory-with-a-rather-long-name" / "behest-local"
    app = BehestApp(store, url=URL, tick=3600, home=home)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await until(pilot, lambda: any((home / "exports").glob("*.har")))
        name = next((home / "exports").glob("*.har")).name
        await until(pilot, lambda: re.search(rf"▌ {re.escape(name)}\s", rendered(app)))
        assert re.search(rf"▌ {re.escape(name)}\s", rendered(app)), "the HAR name, whole"
        await pilot.press("w")
        await until(pilot, lambda: re.search(r"▌ req_0{23}2\.json\s", rendered(app)))
        assert re.search(r"▌ req_0{23}2\.json\s", rendered(app)), "the fixture name, whole"

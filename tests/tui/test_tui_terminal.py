"""``behest-local`` on a pseudo-terminal, as a new user first starts it.

The default command, on an 80×24 pty with a fresh state dir: the screen is read through a
terminal emulator (pyte), so what is asserted is what a user sees. The API key created
at start is on the TUI's screen (not only in the banner it covers), it authenticates a
request whose row then shows in the list, and ``q`` quits with exit code 0.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pyte", reason="pip install -e '.[test]'")

from tests.tui.pty_terminal import (  # noqa: E402
    BASE_URL, KEY, Terminal, behest_local, chat_once, tui_env)


def test_a_first_start_shows_the_key_in_the_tui_and_q_quits(tmp_path):
    home = tmp_path / "state"
    terminal = Terminal([*behest_local(), "--port", "0", "--home", str(home)], tmp_path,
                        tui_env())
    try:
        screen = terminal.read_until(lambda s: KEY.search(s) and "your API key" in s)
        key = KEY.search(screen).group(0)
        port = BASE_URL.search(screen).group(1)
        assert "q quits" in screen
        chat_once(port, key)
        terminal.send(b"\x1b")  # close the notice: the list, the new row selected
        screen = terminal.read_until(lambda s: "gpt-4o@emulated" in s and KEY.search(s) is None)
        row = next(line for line in screen.splitlines() if "gpt-4o@emulated" in line)
        assert " 200 " in row and "$0.0" in row  # its status and its cost, at 80 columns
        assert "q quit" in screen.splitlines()[-1]  # the footer names the way out
        terminal.send(b"q")
        assert terminal.wait() == 0
    finally:
        terminal.close()

"""TUI test fixtures: a fixed time zone, no animations, no system clipboard.

The list's clock column depends on the time zone; animations (the tab underline) make
every Pilot pause wait for them to finish and would make snapshots timing-dependent.
Copy actions must not reach the clipboard of the machine running the tests: the app
finds no system clipboard tool unless a test gives it one (``app.clipboard_tool``).
"""

from __future__ import annotations

import time

import pytest
import textual.constants


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def no_animations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def no_system_clipboard(monkeypatch: pytest.MonkeyPatch) -> None:
    from behest_local.tui import clipboard

    monkeypatch.setattr(clipboard, "system_tool", lambda *args, **kwargs: None)

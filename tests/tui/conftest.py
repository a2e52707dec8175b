"""TUI test fixtures: a fixed time zone, and no animations.

The list's clock column depends on the time zone; animations (the tab underline) make
every Pilot pause wait for them to finish and would make snapshots timing-dependent.
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

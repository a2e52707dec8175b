"""The command palette (``ctrl+p``): the app's own actions, each with its key.

Textual's palette lists only its system commands (theme, quit, keys, screenshot) unless
the app adds its own. ``palette_commands`` derives them from the app's key bindings, so a
key and its palette entry are declared once (``BehestApp.BINDINGS``, whose ``tooltip``
is the entry's help): every binding with a tooltip becomes an entry titled with its
description and key (``Export HAR (x)``). Entries that are not app bindings are added
here: ``enter`` into the detail (a binding of the list) and, when a key was created at
start, the first-run notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.app import App, SystemCommand

EXTRA = (("detail", "focus_detail", "enter",
          "Move the keyboard into the open detail tab, to scroll it (escape returns)"),)
"""(description, action, key, help) of entries bound outside the app's own bindings."""


def palette_commands(app: App) -> Iterator[SystemCommand]:
    """The app's actions for the palette, each titled with its key."""
    seen = set()
    for binding in app.BINDINGS:
        if not binding.tooltip or binding.action in seen:
            continue
        seen.add(binding.action)
        key = binding.key_display or app.get_key_display(binding)
        yield SystemCommand(_title(binding.description, key), binding.tooltip,
                            partial(app.run_action, binding.action))
    for description, action, key, help_text in EXTRA:
        yield SystemCommand(_title(description, key), help_text, partial(app.run_action, action))
    if getattr(app, "first_keys", None):
        yield SystemCommand("Show the API key created at start",
                            "The first-run notice: the new key, the base URL, copy actions",
                            partial(app.run_action, "show_key"))


def _title(description: str, key: str) -> str:
    # Capitalised like Textual's own entries, which the palette sorts them among.
    return f"{description[:1].upper()}{description[1:]} ({key})"

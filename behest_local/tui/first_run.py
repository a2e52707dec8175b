"""The first-run notice: the API key created at start, shown inside the TUI.

On the first start in a terminal, ``runtime/serve.py`` creates a key for each project that
has none and prints it in the banner, which the TUI's screen then covers until the user
quits. This modal shows it where the user is looking: each new key (shown this once:
only its hash is kept), the OpenAI base URL, a copy action (clipboard.py: it says where
the key went) and how to close it and to quit. ``escape``/``enter`` close it, ``k``
copies the key, ``b`` the base URL, ``q`` quits as everywhere in the app. The command palette
reopens it for as long as the app runs (``BehestApp.action_show_key``).
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from behest_local.tui.clipboard import copy_text


def notice_text(keys: Mapping[str, str], base_url: str) -> Text:
    """The notice's body: every new key on a line of its own, never cut or wrapped."""
    text = Text()
    if len(keys) == 1:
        text.append("A new API key was created for project ")
        text.append(next(iter(keys)), style="bold")
    else:
        text.append("A new API key was created for each of these projects")
    text.append(". It is shown this once (only its hash is kept):\n\n")
    for project, key in keys.items():
        if len(keys) > 1:
            text.append(f"  {project}\n", style="dim")
        text.append(f"  {key}\n", style="bold green")
    text.append("\nOpenAI base URL  ", style="dim")
    text.append(base_url, style="bold")
    text.append("\n\nPoint an OpenAI SDK at it with the key (or export BEHEST_API_KEY) and "
                "send a request: it shows up in the list, selected, its detail below.")
    return text


class FirstRun(ModalScreen[None]):
    """The notice (module docstring)."""

    BINDINGS = [Binding("escape,enter", "dismiss_notice", "close"),
                Binding("k", "copy_key", "copy key"),
                Binding("b", "copy_url", "copy base URL"),
                # A modal screen hides the app's bindings: quitting must still be ``q``.
                Binding("q", "app.quit", "quit")]
    DEFAULT_CSS = """
    FirstRun { align: center middle; }
    FirstRun > Vertical { width: 78; max-width: 100%; height: auto; max-height: 100%;
                          border: thick $accent; background: $surface; padding: 0 1; }
    FirstRun #first-run-title { text-style: bold; color: $text-accent; }
    FirstRun #first-run-body { margin: 1 0 0 0; }
    FirstRun #first-run-status { height: auto; margin: 1 0 0 0; color: $text-muted; }
    FirstRun Horizontal { height: auto; margin: 1 0 0 0; }
    FirstRun Button { margin: 0 1 0 0; }
    """

    def __init__(self, keys: Mapping[str, str], base_url: str,
                 tool: tuple[str, ...] | None) -> None:
        super().__init__()
        self.keys, self.base_url, self.tool = dict(keys), base_url, tool

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("behest-local is running: your API key", id="first-run-title")
            yield Static(notice_text(self.keys, self.base_url), id="first-run-body")
            yield Static("k copies the key · b the base URL · esc closes this · q quits "
                         "behest-local (the key also stays in the terminal after it)",
                         id="first-run-status")
            with Horizontal():
                yield Button("Copy key (k)", id="copy-key", variant="primary")
                yield Button("Copy base URL (b)", id="copy-url")
                yield Button("Close (esc)", id="close")

    @on(Button.Pressed, "#copy-key")
    async def action_copy_key(self) -> None:
        many = len(self.keys) > 1
        text = "\n".join(f"{p}: {k}" if many else k for p, k in self.keys.items())
        await self._copy(text, "the keys" if many else "the key")

    @on(Button.Pressed, "#copy-url")
    async def action_copy_url(self) -> None:
        await self._copy(self.base_url, "the base URL")

    @on(Button.Pressed, "#close")
    def action_dismiss_notice(self) -> None:
        self.dismiss(None)

    async def _copy(self, text: str, what: str) -> None:
        copied = await copy_text(self.app, text, self.tool)
        hint = "" if copied.known else (" If it is not there, select it with the mouse "
                                        "(shift+drag in most terminals).")
        self.query_one("#first-run-status", Static).update(
            Text(f"Sent {what} to {copied.where}.{hint}"))

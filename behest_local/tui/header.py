"""The TUI's header: where the gateway listens and what state it is in.

Two lines: the OpenAI base URL and the config status (the last reload's result, or the
error that kept the previous config in force); then the vault, the request rate and
in-flight count, the trace database, rate-limit gauges once limits exist, and whether
the view is paused. ``header_text`` is pure (tests and snapshots call it); the widget
only re-renders when that text changes, at most once a second plus on config events.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from behest_local import __version__
from behest_local.tui.feed import ConfigStatus

Gauge = tuple[str, float, float]
"""``(label, used, limit)``: one rate-limit gauge (e.g. ``("local rpm", 12, 60)``)."""


@dataclass(frozen=True, slots=True)
class HeaderState:
    url: str
    config: ConfigStatus
    vault: str
    rate: float
    in_flight: int
    traces: str | None = None
    gauges: tuple[Gauge, ...] = ()
    paused: bool = False


def _bar(used: float, limit: float, width: int = 6) -> str:
    filled = 0 if limit <= 0 else min(width, round(width * used / limit))
    return "█" * filled + "░" * (width - filled)


def header_text(state: HeaderState) -> Text:
    # Never wrap: a long config error is cut with "…" rather than pushing line two away.
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" behest-local {__version__} ", style="bold reverse")
    text.append(f"  {state.url}/v1  ", style="bold")
    config = state.config
    if config.badge:  # an admin's act (a kill switch): red while something is stopped
        text.append(f" {config.badge} ", style="bold white on red" if config.ok is False
                    else "bold black on green")
        text.append(f" {config.message}", style="red" if config.ok is False else "green")
    elif config.ok is False:
        text.append(" config rejected ", style="bold white on red")
        text.append(f" {config.message}", style="red")
    elif config.ok:
        text.append(" config ok ", style="bold black on green")
        text.append(f" {config.message}", style="green")
    else:
        text.append("config: ", style="dim")
        text.append(config.message)
    text.append("\n ")
    text.append(state.vault)
    text.append(f" · {state.rate:.1f} req/s · {state.in_flight} in flight")
    if state.traces:
        text.append(f" · {state.traces}")
    for label, used, limit in state.gauges:
        text.append(f" · {label} {_bar(used, limit)} {used:g}/{limit:g}")
    if state.paused:
        text.append("  ")
        text.append(" PAUSED ", style="bold black on yellow")
    return text


def vault_summary(gateway: object) -> str:
    """The vault's state in a few words, from the provider-key index the gateway keeps in
    memory (vault/provider_keys.py); without one, from the vault's metadata file (blocking:
    call off the loop). Never unlocks anything."""
    index = getattr(gateway, "provider_keys", None)
    try:
        if index is not None:
            if index.unreadable is not None:  # requests needing a key fail: say why here too
                return f"vault: unreadable, {index.unreadable}"
            names = sorted(index.providers)
        else:
            from behest_local.vault.entries import read_entries

            names = [e.provider for e in read_entries(getattr(gateway, "home"))]
    except Exception as exc:  # a broken vault file is state to show, not a crash
        return f"vault: unreadable ({type(exc).__name__})"
    if not names:
        return "vault: no provider keys (behest-local vault set PROVIDER)"
    return f"vault: {len(names)} provider key{'s' if len(names) > 1 else ''} ({', '.join(names)})"


class StatusHeader(Static):
    """Renders ``header_text`` and skips identical updates."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._last: str | None = None

    def show(self, state: HeaderState) -> None:
        text = header_text(state)
        if text.markup != self._last:
            self._last = text.markup
            self.update(text, layout=False)  # fixed height: repaint, never re-layout

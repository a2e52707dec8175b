"""The headless front end: one log line per finished exchange.

A ``TraceStore`` subscriber, like the TUI; it subscribes to the terminal events only
(``LineLogger.EVENTS``: finished or failed), so the other phases are not even built for
it and stream chunks cost it nothing. Lines go to a text stream (stdout by default) and
hold no secret: exchanges carry only redacted data. They hold the client's own text
(the decoded path, the user id, the requested model, error messages quoting them), so
each line passes through ``printable``: a ``%0a`` in a path cannot forge a line, nor a
``%1b[`` drive the terminal.

Subscribers run on the request's own task, so with ``batch`` set the logger only
appends the line and writes what gathered once per ``batch`` seconds (one write and
one flush, instead of a syscall per request on the event loop). ``close`` writes what
is left; without a running event loop (tests, scripts) a line is written at once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import TextIO

from behest_local.exchange.events import ExchangeFailed, ExchangeFinished, TraceEvent
from behest_local.exchange.exchange import Exchange
from behest_local.printable import printable

_ENDS = (ExchangeFinished, ExchangeFailed)

COUNT_LABELS = {"token": "tok", "character": "chars", "second": "s", "image": "img"}
"""How a line labels its input+output counts, by what they count (``finops/prices.Unit``:
``tts-1`` records characters, ``whisper-1`` seconds, DALL·E images)."""
_LABELS_KEPT = 256  # model names come from clients: remember a bounded number of them


class LineLogger:
    """Writes ``format_line`` for every ended exchange to ``out``.

    Subscribe with ``store.subscribe(logger, events=LineLogger.EVENTS)``.

    Args:
        out: the text stream (stdout when None).
        batch: seconds lines may wait to be written together; 0 writes each at once.
        counts_of: what a model's usage counts (``"token"``, ``"character"`` …); given by
            the caller, since pricing (finops) sits above this layer. Tokens when None.
    """

    EVENTS = _ENDS

    def __init__(self, out: TextIO | None = None, *, batch: float = 0.0,
                 counts_of: Callable[[str | None], str] | None = None) -> None:
        self.out = out or sys.stdout
        self.batch = batch
        self.counts_of = counts_of
        self._labels: dict[str | None, str] = {}
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        # The last second's "HH:MM:SS": localtime and strftime cost more than the rest
        # of a line, and at any useful rate many lines share a second.
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, event: TraceEvent, exchange: Exchange) -> None:
        if not isinstance(event, _ENDS):
            return
        second = int(exchange.wall_time)
        if second != self._second[0]:
            self._second = (second, _clock(exchange.wall_time))
        self._pending.append(format_line(exchange, clock=self._second[1],
                                         counts=self._label(exchange.model)))
        if self._timer is not None:
            return
        if self.batch > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._timer = loop.call_later(self.batch, self.flush)
                return
        self.flush()

    def _label(self, model: str | None) -> str:
        if self.counts_of is None:
            return "tok"
        label = self._labels.get(model)
        if label is None:
            label = COUNT_LABELS.get(self.counts_of(model), "tok")
            if len(self._labels) < _LABELS_KEPT:
                self._labels[model] = label
        return label

    def flush(self) -> None:
        """Write the lines gathered so far."""
        self._timer = None
        if not self._pending:
            return
        lines, self._pending = "\n".join(self._pending) + "\n", []
        try:
            self.out.write(lines)
            self.out.flush()
        except (OSError, ValueError):  # stdout closed or gone: the gateway keeps serving
            pass

    def close(self) -> None:
        """Stop the timer and write what is left (at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
        self.flush()


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f}ms" if seconds < 10 else f"{seconds:.1f}s"


def _clock(wall_time: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall_time))


def format_line(exchange: Exchange, *, clock: str | None = None, counts: str = "tok") -> str:
    """One line for ``exchange``; ``clock`` is its ``HH:MM:SS`` when already known, and
    ``counts`` the label of its input+output counts (``COUNT_LABELS``).

    Its fields joined by two spaces; built as one f-string plus the optional fields, not a
    list joined at the end (it runs once per request, on the event loop). Escaped as a
    whole, once: most fields can carry a client's text."""
    status = exchange.status
    line = (f"{clock or _clock(exchange.wall_time)}  {status if status else '-':>3}  "
            f"{exchange.method}  {exchange.path}")
    project = exchange.project
    if project:
        user = exchange.user
        line = f"{line}  {project}/{user}" if user else f"{line}  {project}"
    model = exchange.model
    if model:
        requested = exchange.requested_model
        if requested and requested != model:
            line = f"{line}  {requested}→{model} ({exchange.provider})"
        else:
            line = f"{line}  {model} ({exchange.provider})"
    if exchange.stream:
        line = (f"{line}  stream {exchange.chunks} events "
                f"ttft {_ms(exchange.ttft)}")
    ended = exchange.ended
    line = f"{line}  {_ms(None if ended is None else ended - exchange.started)}"
    if exchange.prompt_tokens is not None:
        line = f"{line}  {exchange.prompt_tokens}+{exchange.completion_tokens or 0} {counts}"
    if exchange.error:
        line = f"{line}  error: {exchange.error}"
    if exchange.warning:
        line = f"{line}  warning: {exchange.warning}"
    return printable(f"{line}  {exchange.id}")

"""The headless front end: one log line per finished exchange.

A ``TraceStore`` subscriber, like the TUI will be; it reacts only to the terminal events
(finished or failed) so stream chunks cost it nothing. Lines go to a text stream
(stdout by default) and hold no secret: exchanges carry only redacted data.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from behest_local.events import ExchangeFailed, ExchangeFinished, TraceEvent
from behest_local.exchange import Exchange


class LineLogger:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def __call__(self, event: TraceEvent, exchange: Exchange) -> None:
        if isinstance(event, (ExchangeFinished, ExchangeFailed)):
            self.out.write(format_line(exchange) + "\n")
            self.out.flush()


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f}ms" if seconds < 10 else f"{seconds:.1f}s"


def format_line(exchange: Exchange) -> str:
    clock = time.strftime("%H:%M:%S", time.localtime(exchange.wall_time))
    parts = [clock, f"{exchange.status or '-':>3}", exchange.method, exchange.path]
    if exchange.project:
        who = exchange.project + (f"/{exchange.user}" if exchange.user else "")
        parts.append(who)
    if exchange.model:
        requested = exchange.requested_model
        arrow = f"{requested}→" if requested and requested != exchange.model else ""
        parts.append(f"{arrow}{exchange.model} ({exchange.provider})")
    if exchange.stream:
        parts.append(f"stream {len(exchange.chunk_times)} events ttft {_ms(exchange.ttft)}")
    parts.append(_ms(exchange.duration))
    if exchange.prompt_tokens is not None:
        parts.append(f"{exchange.prompt_tokens}+{exchange.completion_tokens or 0} tok")
    if exchange.error:
        parts.append(f"error: {exchange.error}")
    parts.append(exchange.id)
    return "  ".join(parts)

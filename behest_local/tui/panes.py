"""What each detail tab says about a record: pure functions, no widgets.

``overview_text`` is a short styled summary (a ``Static``); the other tabs can be long
(64 KiB bodies, 128 KiB of stream events, thousands of timeline rows), so they are
plain lines for a ``Log``, which renders only the lines on screen. Lines are wrapped to
the pane's width here (``fold``), because a ``Log`` does not wrap and JSON has few
spaces to wrap at: at JSON token boundaries (after a comma, a brace, a key's colon) and
spaces, so a raw SSE event is never split inside a word or a number; prose (the
assistant's message) is wrapped at words. A record keeps
bodies as they were sent (exchange/scrub.py does not re-serialise them), so JSON bodies are
pretty-printed here, for display only (``body_lines``). Everything a client or an
upstream wrote (paths, header values, bodies, the message, stream events, ids) is
escaped with ``printable`` before it is folded, so a line's width is what is shown and
no control character reaches the terminal (Textual's ``Log`` only blanks C0 codes up
to 0x14, so ESC would pass).
"""

from __future__ import annotations

import json
import re
import textwrap
import time
from collections.abc import Iterable
from functools import lru_cache

from rich.text import Text

from behest_local.exchange.capture import MAX_BODY
from behest_local.exchange.timing import duration
from behest_local.finops.prices import TOKENS, unit_of
from behest_local.printable import printable
from behest_local.tui.row import usd

INDENT = 15


_PIECE = re.compile(r'(?:[^ ,{\[:]|:(?<!":))*(?:[ ,{\[]+|:|$)')
"""A run of text up to where a line may break: after spaces, a comma, an opening brace or
bracket, or a JSON key's colon (``"id":``), never inside a word, a number or a URL."""


def fold(lines: Iterable[str], width: int, indent: int = 0) -> list[str]:
    """Wrap each line to ``width`` columns at token boundaries (``_PIECE``), continuing
    on indented lines. Only a word longer than a whole line is cut (a base64 blob, a JWT):
    there is nowhere else to break it."""
    width = max(width, indent + 20)
    out: list[str] = []
    for line in lines:
        if len(line) <= width:  # most lines: no tokenising
            out.append(line)
            continue
        current = ""
        for piece in _PIECE.findall(line):
            if len(current) + len(piece) > width and current.strip():
                out.append(current.rstrip())
                current = " " * indent
            while len(current) + len(piece) > width:  # a word wider than a line
                room = width - len(current)
                out.append(current + piece[:room])
                current, piece = " " * indent, piece[room:]
            current += piece
        out.append(current)
    return out


def _field(text: Text, label: str, value: object, style: str = "") -> None:
    if value is None or value == "":
        return
    text.append(f"{label:>14}  ", style="dim")
    text.append(f"{printable(str(value))}\n", style=style)


def overview_text(record: dict, reason: str | None, probe: dict | None) -> Text:
    text = Text()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["wall_time"]))
    _field(text, "request", f"{record['method']} {record['path']}", "bold")
    if record.get("dialect", "openai") != "openai":  # the gateway's own needs no label
        how = "native" if record["provider"] == record["dialect"] else "via chat"
        _field(text, "dialect", f"{record['dialect']} ({how})" if record["provider"]
               else record["dialect"])
    _field(text, "id", record["id"])
    _field(text, "trace", record["trace_id"])
    _field(text, "received", stamp)
    status = record["status"]
    _field(text, "status", "running…" if status is None else status,
           "red" if record["error"] or (status or 0) >= 400 else "green")
    _field(text, "error", record["error"], "red")
    who = "/".join(p for p in (record["project"], record["user"], record["session"]) if p)
    _field(text, "project", who or None)
    _field(text, "credential", record["credential"])
    if record["model"]:
        requested = record["requested_model"]
        arrow = f"{requested} → " if requested and requested != record["model"] else ""
        _field(text, "model", f"{arrow}{record['model']} via {record['provider']}")
    _field(text, "warning", record.get("warning"), "yellow")  # x-behest-warning, as sent
    # What the guardrails found and did: entity types, counts and the action, no value.
    _field(text, "guardrails", record.get("guardrails"), "magenta")
    _field(text, "why", reason)
    if record["stream"]:
        _field(text, "stream", f"{record['chunks']} events, {record['bytes_sent']} bytes, "
                               f"TTFT {duration(record['ttft'])}")
    _field(text, "duration", duration(record["duration"]) if record["duration"] else None)
    unit = unit_of(record["model"])
    if record["prompt_tokens"] is not None and unit is TOKENS:
        _field(text, "tokens", f"{record['prompt_tokens']} prompt + "
                               f"{record['completion_tokens'] or 0} completion")
    elif record["prompt_tokens"] is not None:  # characters, seconds or images: one count
        count = record["prompt_tokens"] + (record["completion_tokens"] or 0)
        variant = record.get("variant")
        _field(text, "billed", f"{count} {unit.counts}{'' if count == 1 else 's'}"
                               f"{f', {variant}' if variant else ''}")
    if record["cost"] is not None:
        _field(text, "cost", usd(record["cost"]))
    if probe:
        _field(text, "probe", f"{probe['level']}: {probe['verdict']}",
               "bold red" if probe["level"] == "buffered" else "")
    if not record["recorded"]:
        text.append("\nheaders and bodies were not recorded for this exchange\n", style="dim")
    return text


def _headers(headers: list) -> list[str]:
    return [printable(f"{name}: {value}") for name, value in headers] or \
        ["(no headers recorded)"]


@lru_cache(maxsize=8)  # a refreshing stream re-renders the same bodies: indent them once
def body_lines(body: str) -> tuple[str, ...]:
    """A body's display lines: JSON indented by two, anything else as it is."""
    if body.lstrip()[:1] in ("{", "["):
        try:
            body = json.dumps(json.loads(body), ensure_ascii=False, indent=2)
        except ValueError:  # cut at the recording cap, or not JSON after all
            pass
    return tuple(printable(line) for line in body.splitlines())


def request_lines(record: dict, width: int) -> list[str]:
    request = record["request"]
    lines = _headers(request["headers"]) + [""]
    if request["body"] is not None:
        size = request["body_size"] or 0
        # A media or form body is shown as its summary, whole, never cut.
        cut = f" (first {MAX_BODY // 1024} KiB)" if size > MAX_BODY and not request.get(
            "media") else ""
        lines += [f"body: {size} bytes{cut}", *body_lines(request["body"])]
    else:
        lines.append(request["body_note"] or "no body")
    return fold(lines, width, 2)


def response_lines(record: dict, width: int) -> list[str]:
    response = record["response"]
    lines = [f"HTTP {response['status'] or '…'}", *_headers(response["headers"]), ""]
    if response["body"] is not None:
        lines += body_lines(response["body"])
    elif record["stream"]:
        lines.append(f"a stream of {record['chunks']} events: see the message, events and "
                     "timeline tabs")
    return fold(lines, width, 2)


def message_lines(record: dict, width: int) -> list[str]:
    if record.get("partial"):
        return ["decoding the stream…"]
    message = record.get("message")
    if not message:
        return ["no assistant message (yet)"]
    wrap = textwrap.TextWrapper(width=max(width, 20), replace_whitespace=False,
                                drop_whitespace=False)
    lines: list[str] = []
    for choice in message["choices"]:
        if len(message["choices"]) > 1:
            lines.append(f"── choice {choice['index']}")
        if choice["reasoning"]:
            lines += ["reasoning:", *_prose(choice["reasoning"], wrap), ""]
        lines.append(f"{choice['role']}:")
        lines += _prose(choice["content"] or "", wrap)
        for call in choice["tool_calls"]:
            lines += ["", printable(f"tool call {call['name']}  {call['id'] or ''}")]
            lines += fold([printable(line) for line in call["arguments"].splitlines()] or [""],
                          width)
        if choice["finish_reason"]:
            lines += ["", printable(f"finish_reason: {choice['finish_reason']}")]
    usage = message.get("usage")
    if usage:
        lines.append(f"usage: {usage.get('prompt_tokens', usage.get('input_tokens'))} in, "
                     f"{usage.get('completion_tokens', usage.get('output_tokens'))} out")
    if message.get("error"):
        lines += fold([printable(f"error: {message['error']}")], width, 2)
    return lines


def _prose(text: str, wrap: textwrap.TextWrapper) -> list[str]:
    out: list[str] = []
    for paragraph in text.split("\n"):
        out += wrap.wrap(printable(paragraph)) or [""]
    return out


def events_lines(record: dict, width: int) -> list[str]:
    """Each event: its number, departure time, then its data as sent (folded)."""
    if record.get("partial"):
        return ["decoding the stream…"]
    events = record["events"]
    if not events:
        return ["no stream events recorded"]
    departures = record["timeline"]["departures"]
    lines: list[str] = []
    for n, event in enumerate(events):
        at = departures[event["frame"]] if event["frame"] < len(departures) else None
        when = "-" if at is None else f"{at * 1000:.1f}ms"
        data = event["data"] if event["event"] == "message" else \
            f"event: {event['event']}  {event['data']}"
        lines += fold([f"{n:>4} {when:>9} {printable(data)}"], width, INDENT)
    if record.get("events_dropped"):
        lines.append(f"… {record['events_dropped']} more events not kept (the capture cap); "
                     "their timings are complete")
    return lines

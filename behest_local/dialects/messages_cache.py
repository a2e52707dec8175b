"""Prompt caching as the emulated model plays it: ``cache_control`` breakpoints → usage.

Anthropic caches a prompt's prefix up to each ``cache_control`` breakpoint (on a tool, a
system block or a message block; a top-level ``cache_control`` marks the last block) for
five minutes, or an hour with ``ttl: "1h"``, and reports what it wrote
(``cache_creation_input_tokens``) and what it read (``cache_read_input_tokens``), both left
out of ``input_tokens`` (anthropic-ingress.md §1, §5). The emulated model does the same, so
code that reads those counts (Claude Code shows them) sees a cache at work offline:
``breakpoints`` digests each breakpoint's prefix (in prefix order: tools, system,
messages), and ``PromptCache`` remembers the digests it has seen and for how long.
A prefix's tokens are its share of the prompt's characters, so reads and writes never add
up to more than the prompt. The real API's minimum cacheable length is not emulated.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import NamedTuple

TTL_S = {"5m": 300.0, "1h": 3600.0}
_MAX_ENTRIES = 4096
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


class Breakpoint(NamedTuple):
    digest: str
    """The prefix's identity: a hash of the model and every block up to the breakpoint."""
    chars: int
    """The prefix's length in characters of JSON, for its share of the prompt's tokens."""
    ttl_s: float


def _blocks(body: dict) -> list[dict]:
    """The prompt's blocks in prefix order: tools, system, then each message's."""
    blocks: list[dict] = list(body.get("tools") or ())
    system = body.get("system")
    if isinstance(system, list):
        blocks += system
    elif system:
        blocks.append({"type": "text", "text": system})
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, list):
            blocks += [{"role": message.get("role"), **b} for b in content if isinstance(b, dict)]
        else:
            blocks.append({"role": message.get("role"), "type": "text", "text": content})
    return blocks


def _text(block: dict) -> str:
    return _encode({k: v for k, v in block.items() if k != "cache_control"})


def breakpoints(body: dict) -> list[Breakpoint]:
    """The request's cache breakpoints, shortest prefix first (none without
    ``cache_control``)."""
    blocks = _blocks(body)
    marks = [i for i, block in enumerate(blocks) if isinstance(block.get("cache_control"), dict)]
    top = body.get("cache_control")
    if isinstance(top, dict) and blocks and len(blocks) - 1 not in marks:
        marks.append(len(blocks) - 1)
    out: list[Breakpoint] = []
    digest = hashlib.sha256(str(body.get("model")).encode())
    done = chars = 0
    for mark in marks:
        for block in blocks[done:mark + 1]:
            text = _text(block)
            digest.update(text.encode())
            chars += len(text)
        done = mark + 1
        control = blocks[mark].get("cache_control") or top or {}
        out.append(Breakpoint(digest.copy().hexdigest(), chars,
                              TTL_S.get(control.get("ttl"), TTL_S["5m"])))
    return out


def total_chars(body: dict) -> int:
    """The prompt's characters as ``breakpoints`` counts them (every block)."""
    return sum(len(_text(block)) for block in _blocks(body))


class PromptCache:
    """The prefixes the emulated model has "cached", until their TTL runs out (a read
    refreshes it, as Anthropic's does). Bounded: the oldest go first. Event-loop only."""

    def __init__(self) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()

    def use(self, points: list[Breakpoint], now: float) -> tuple[int, int]:
        """``(chars read, chars written)`` for a request with ``points``: the longest prefix
        still cached is read, what lies past it up to the last breakpoint is written."""
        read = 0
        for point in points:
            until = self._until.get(point.digest)
            if until is not None and until > now:
                read = point.chars
        for point in points:
            self._until[point.digest] = now + point.ttl_s
            self._until.move_to_end(point.digest)
        while len(self._until) > _MAX_ENTRIES:
            self._until.popitem(last=False)
        written = (points[-1].chars - read) if points else 0
        return read, max(0, written)

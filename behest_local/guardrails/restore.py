"""Putting masked values back: a whole reply (``restore``) or a stream (``StreamRestorer``).

A masked request carries ``<ENTITY_N>`` placeholders (``shield.py``); the model tends to
repeat them, and the client must see the originals. In a stream a placeholder may arrive
split across events (``<PERS`` | ``ON_1>``): ``StreamRestorer.feed`` emits everything it
can and holds back only a tail that could still become a placeholder (it starts with the
last ``<`` and is a prefix of one of this request's placeholders), so the held text is
never longer than the longest placeholder and ordinary text is never delayed. ``flush``
gives back what is held when the stream ends.

Only projects with MASK findings build a restorer: everyone else's stream relay does no
per-event work for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]{1,20}_\d{1,6}>")
"""``<ENTITY_N>``: bounded, so a reply of ``<<<<`` costs a constant per ``<``."""


def restore(text: str, originals: Mapping[str, str]) -> str:
    """``text`` with each of ``originals``' placeholders replaced by its value."""
    if "<" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: originals.get(m.group(), m.group()), text)


class StreamRestorer:
    """Restores placeholders in a stream of text deltas (one per choice)."""

    __slots__ = ("originals", "held", "_longest")

    def __init__(self, originals: Mapping[str, str]) -> None:
        self.originals = originals
        self.held = ""
        self._longest = max(map(len, originals), default=0)

    def feed(self, delta: str) -> str:
        """What can be sent of ``held + delta``, restored; the rest stays held."""
        text = self.held + delta if self.held else delta
        if "<" not in text:
            self.held = ""
            return text
        last = text.rfind("<", max(0, len(text) - self._longest))
        tail = text[last:] if last != -1 else ""
        if tail and ">" not in tail and any(p.startswith(tail) for p in self.originals):
            self.held = tail
            return restore(text[:last], self.originals)
        self.held = ""
        return restore(text, self.originals)

    def flush(self) -> str:
        """What is still held, at the end of the stream (it never became a placeholder)."""
        held, self.held = self.held, ""
        return held

"""Recognising a plain text delta by its text alone: ``DeltaTemplate``.

Most events of an OpenAI-compatible stream are the same chunk over and over with another
``content`` string: same ``id``, ``model``, ``created``, one choice, no finish, no usage.
``stream.Translator`` relays such a chunk as the upstream wrote it once it has checked
it (``_as_sent``), which means parsing every event and walking its choices.

A ``DeltaTemplate`` is learnt from the first such chunk: the event's text split around
its content string, ``head`` + ``"…"`` + ``tail``. A later event whose text is ``head``,
then one JSON string, then ``tail`` is that chunk with other content, so it needs no
parse and no check: only the string is decoded (by ``json``'s own C scanner, with the
same strictness as a whole parse). Anything else, including a valid event written with
other spacing or key order, goes the general way, so the template only ever saves work.

Where it sits: ``stream.Translator.feed``, once per event of every OpenAI-compatible
stream. Reads only; the output is the very dict the general way would have produced.
"""

from __future__ import annotations

import json
from json.decoder import scanstring

_CONTENT_AT = '"delta":{"content":"'
"""Where the content string opens in the compact form OpenAI (and most servers) send."""


class DeltaTemplate:
    """The text of one plain content delta with its content cut out (module docstring)."""

    __slots__ = ("head", "tail", "_open", "_chunk", "_choice")

    def __init__(self, head: str, tail: str, chunk: dict, choice: dict) -> None:
        self.head, self.tail = head, tail
        self._open = len(head)  # index of the content's opening quote
        self._chunk, self._choice = chunk, choice

    @classmethod
    def learn(cls, chunk: dict, data: str) -> DeltaTemplate | None:
        """A template from ``chunk`` (parsed from ``data``, and relayed as sent), or None
        when it is not a plain delta in compact form."""
        choices = chunk.get("choices")
        if type(choices) is not list or len(choices) != 1:
            return None
        choice = choices[0]
        delta = choice.get("delta") if type(choice) is dict else None
        if (type(delta) is not dict or len(delta) != 1 or type(delta.get("content")) is not str
                or choice.get("finish_reason") is not None):
            return None
        at = data.find(_CONTENT_AT)
        if at < 0:
            return None
        opening = at + len(_CONTENT_AT) - 1
        try:
            content, end = scanstring(data, opening + 1)
        except ValueError:
            return None
        if content != delta["content"]:
            return None  # found another "content" than the one the chunk holds
        head, tail = data[:opening], data[end:]
        # Sound only if the cut-out string is exactly the delta's content: with an empty
        # string in its place the text must mean the same chunk with empty content.
        try:
            probe = json.loads(f'{head}""{tail}')
        except ValueError:
            return None
        plain = {**choice, "delta": {"content": ""}}
        if probe != {**chunk, "choices": [plain]}:
            return None
        return cls(head, tail, chunk, choice)

    def match(self, data: str) -> dict | None:
        """The chunk ``data`` means, if it is this template with another content; else
        None (the caller parses it)."""
        opening = self._open
        if (len(data) <= opening or data[opening] != '"' or not data.startswith(self.head)
                or not data.endswith(self.tail)):
            return None
        try:
            content, end = scanstring(data, opening + 1)
        except ValueError:
            return None  # malformed: the general way reports it
        if end != len(data) - len(self.tail):
            return None
        # The template's chunk with the new content: assigning existing keys keeps the
        # members in the upstream's order. Nested values are shared with the template's
        # chunk, read-only as for any ``EventJSON`` (sse.py).
        chunk = dict(self._chunk)
        chunk["choices"] = [{**self._choice, "delta": {"content": content}}]
        return chunk

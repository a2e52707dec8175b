"""Token arithmetic for the emulated model: split text into BPE-like pieces and count them.

The emulated provider has no real tokenizer, yet clients see token counts in ``usage`` and
receive streamed replies one delta at a time. This module owns both: ``split_tokens`` cuts a
reply into the pieces the stream sends (their concatenation is always the original text), and
``count_prompt_tokens`` estimates ``usage.prompt_tokens`` for a chat request with OpenAI's
per-message overheads, in bounded time whatever the prompt's size (long lists are sampled,
text past ``EXACT_CHARS`` estimated at ~4 characters a token). It is pure and used by the
composer's callers, never by the composer.

The pieces imitate cl100k-style pre-tokenisation: a word keeps its leading space, digits come
in groups of up to three, punctuation stands alone, newlines are their own piece, and long
words are cut into short chunks the way BPE splits rare words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# One alternative per piece kind; the order matters because the first match wins. The last
# alternative accepts any single character, so every position of any text is covered and
# the pieces always concatenate back to the input.
_PIECE = re.compile(
    r"""
      \r\n|\r|\n                        # a line break is its own piece
    | '(?:s|t|re|ve|m|ll|d)\b           # English contractions, as cl100k splits them
    | \x20?[^\W\d_]+                    # a word with its optional leading space
    | \x20?\d{1,3}                      # digits, at most three per piece
    | \x20?(?:[^\w\s]|_)                # one punctuation mark
    | [^\S\r\n]+(?!\S)                  # spaces that do not lead into a word
    | [^\S\r\n]+                        # other runs of spaces and tabs
    | .                                 # anything left (never reached in practice)
    """,
    re.VERBOSE | re.IGNORECASE | re.DOTALL,
)

# A real BPE vocabulary holds common words whole but splits rare long ones; these lengths
# keep "Hello world" and "migration successful" at two tokens each while
# "internationalization" becomes four.
_WHOLE_WORD_MAX = 10
_WORD_CHUNK = 5

# OpenAI's documented estimate: every message costs three tokens of framing, a ``name``
# field one more, and the reply is primed with three.
_PER_MESSAGE = 3
_PER_NAME = 1
_REPLY_PRIMING = 3
# Low-detail images cost a flat 85 tokens on OpenAI; the emulator does not look at pixels.
_IMAGE_TOKENS = 85
_PER_TOOL_CALL = 3
# Content nested deeper than this is not counted: it guards against self-referencing input.
_MAX_DEPTH = 16


def _long_word(piece: str) -> int:
    """How many pieces ``piece`` becomes: one, or ``_WORD_CHUNK``-letter chunks of a word
    longer than ``_WHOLE_WORD_MAX`` letters (its leading space stays on the first)."""
    core = piece.lstrip(" ")
    if len(core) <= _WHOLE_WORD_MAX or not core.isalpha():
        return 1
    return -(-len(core) // _WORD_CHUNK)


def split_tokens(text: str) -> list[str]:
    """Cut ``text`` into roughly token-sized pieces for streaming.

    Args:
        text: any string, including the empty string.

    Returns:
        Non-empty pieces whose concatenation is exactly ``text``.
    """
    pieces = _PIECE.findall(text)
    if max(map(len, pieces), default=0) <= _WHOLE_WORD_MAX:  # at C speed: no piece to cut
        return pieces
    out: list[str] = []
    for piece in pieces:
        if len(piece) <= _WHOLE_WORD_MAX or _long_word(piece) == 1:
            out.append(piece)
            continue
        core = piece.lstrip(" ")
        lead = piece[: len(piece) - len(core)]
        out.extend((lead if start == 0 else "") + core[start : start + _WORD_CHUNK]
                   for start in range(0, len(core), _WORD_CHUNK))
    return out


def count_tokens(text: str) -> int:
    """The number of pieces ``split_tokens(text)`` returns, without cutting long words.

    On the path of every metered stream event (``finops.meter.StreamMeter``), so it is
    one ``findall`` and, only for pieces long enough to be cut, a little arithmetic; a
    delta that is one word (with its leading space) skips even the ``findall``."""
    core = text[1:] if text[:1] == " " else text
    if core.isalpha():  # letters only: the word alternative takes it all as one piece
        return 1 if len(core) <= _WHOLE_WORD_MAX else -(-len(core) // _WORD_CHUNK)
    pieces = _PIECE.findall(text)
    count = len(pieces)
    # A text this short has no piece to cut; else ``max`` looks for one at C speed.
    if len(text) > _WHOLE_WORD_MAX and max(map(len, pieces)) > _WHOLE_WORD_MAX:
        for piece in pieces:
            if len(piece) > _WHOLE_WORD_MAX:
                count += _long_word(piece) - 1
    return count


CHARS_PER_TOKEN = 4
"""OpenAI's rule of thumb for English text."""


def estimate_tokens(text: str) -> int:
    """``text``'s tokens at ``CHARS_PER_TOKEN``: the linear estimate for text too long to cut
    into pieces on the event loop."""
    return -(-len(text) // CHARS_PER_TOKEN)


EXACT_CHARS = 256 * 1024
"""Characters of one prompt counted piece by piece (~8 ms); the rest are estimated."""
SAMPLED_ITEMS = 256
"""Items of one list (keys of one mapping) counted; a longer one is sampled evenly and
the count scaled to its length, so 500,000 messages cost what 256 do."""
_TOOL_NODES = 4096
"""Tool definitions of up to this many JSON values are counted as their JSON text."""


def sampled_sum(items: list, count: Callable[[Any], int]) -> int:
    """``sum(map(count, items))``, from ``SAMPLED_ITEMS`` evenly spaced items (scaled to
    the length) when ``items`` is longer: deterministic, and bounded in cost."""
    if len(items) <= SAMPLED_ITEMS:
        return sum(map(count, items))
    step = len(items) / SAMPLED_ITEMS
    sampled = sum(count(items[int(i * step)]) for i in range(SAMPLED_ITEMS))
    return round(sampled * len(items) / SAMPLED_ITEMS)


class _Count:
    """One prompt's count: exact while ``EXACT_CHARS`` last, then estimated, and sampled
    wherever a list is long, so its cost does not grow with the prompt."""

    __slots__ = ("exact_left",)

    def __init__(self) -> None:
        self.exact_left = EXACT_CHARS

    def text(self, text: str) -> int:
        if len(text) <= self.exact_left:
            self.exact_left -= len(text)
            return count_tokens(text)
        self.exact_left = 0
        return estimate_tokens(text)

    def value(self, value: object, depth: int = 0) -> int:
        """Tokens for an arbitrary JSON-like value; unknown objects count by their ``str``."""
        if depth > _MAX_DEPTH or value is None:
            return 0
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bool, int, float)):
            return 1
        if isinstance(value, dict):
            # Each key/value pair costs its parts plus a separator, as in serialized JSON.
            return sampled_sum(list(value.items()), lambda kv: self.value(kv[0], depth + 1)
                             + self.value(kv[1], depth + 1) + 1)
        if isinstance(value, (list, tuple)):
            items = value if isinstance(value, list) else list(value)
            return sampled_sum(items, lambda item: self.value(item, depth + 1))
        return self.text(str(value))

    def content(self, content: object) -> int:
        """Tokens for a message ``content``: a string, None, or a list of typed parts."""
        if content is None:
            return 0
        if isinstance(content, str):
            return self.text(content)
        if not isinstance(content, list):
            return self.value(content)
        return sampled_sum(content, self._part)

    def _part(self, part: object) -> int:
        if isinstance(part, dict) and part.get("type") == "image_url":
            return _IMAGE_TOKENS
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            return self.text(part["text"])
        return self.value(part)

    def tool_calls(self, tool_calls: object) -> int:
        if not isinstance(tool_calls, list):
            return self.value(tool_calls)
        return sampled_sum(tool_calls, self._tool_call)

    def _tool_call(self, call: object) -> int:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            return (_PER_TOOL_CALL + self.value(function.get("name"))
                    + self.value(function.get("arguments")))
        return self.value(call)

    def tools(self, tools: object) -> int:
        """Tool definitions are sent to the model as text, so count their serialized JSON
        (when small enough to serialize on the loop; else value by value)."""
        if _nodes_within(tools, _TOOL_NODES):
            try:
                return self.text(json.dumps(tools, ensure_ascii=False, default=str))
            except (TypeError, ValueError, RecursionError):
                pass  # unserializable or circular definitions: the structural count
        return self.value(tools)

    def message(self, message: object) -> int:
        total = _PER_MESSAGE
        if not isinstance(message, dict):
            return total + self.value(message)
        total += self.value(message.get("role"))
        total += self.content(message.get("content"))
        if message.get("name"):
            total += _PER_NAME + self.value(message.get("name"))
        if message.get("tool_calls"):
            total += self.tool_calls(message.get("tool_calls"))
        if message.get("tool_call_id"):
            total += self.value(message.get("tool_call_id"))
        return total


def _nodes_within(value: object, budget: int) -> bool:
    """Whether ``value`` holds at most ``budget`` JSON values (found without walking more)."""
    stack, seen = [value], 0
    while stack:
        seen += 1
        if seen > budget:
            return False
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return True


def count_prompt_tokens(messages: list[dict], tools: list[dict] | None = None) -> int:
    """Estimate ``usage.prompt_tokens`` for a chat request the way OpenAI bills it.

    Args:
        messages: the request's ``messages``. Any shape is tolerated: content may be a
            string, None, a list of ``text``/``image_url`` parts, or something unexpected.
        tools: the request's ``tools``, counted as their JSON text.

    Returns:
        A plausible, deterministic count; never raises for JSON-like input. A prompt of up
        to ``EXACT_CHARS`` characters and ``SAMPLED_ITEMS`` items per list is counted piece
        by piece; a bigger one is estimated (see ``_Count``), in bounded time.
    """
    count = _Count()
    total = _REPLY_PRIMING
    if isinstance(messages, list):
        total += sampled_sum(messages, count.message)
    if tools:
        total += count.tools(tools)
    return total

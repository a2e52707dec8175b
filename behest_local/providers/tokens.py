"""Token arithmetic for the emulated model: split text into BPE-like pieces and count them.

The emulated provider has no real tokenizer, yet clients see token counts in ``usage`` and
receive streamed replies one delta at a time. This module owns both: ``split_tokens`` cuts a
reply into the pieces the stream sends (their concatenation is always the original text), and
``count_prompt_tokens`` estimates ``usage.prompt_tokens`` for a chat request with OpenAI's
per-message overheads. It is pure and used by the composer's callers, never by the composer.

The pieces imitate cl100k-style pre-tokenisation: a word keeps its leading space, digits come
in groups of up to three, punctuation stands alone, newlines are their own piece, and long
words are cut into short chunks the way BPE splits rare words.
"""

from __future__ import annotations

import json
import re

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
    if not any(len(piece) > _WHOLE_WORD_MAX for piece in pieces):
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


def _count_value(value: object, depth: int = 0) -> int:
    """Tokens for an arbitrary JSON-like value; unknown objects count by their ``str``."""
    if depth > _MAX_DEPTH or value is None:
        return 0
    if isinstance(value, str):
        return count_tokens(value)
    if isinstance(value, (bool, int, float)):
        return 1
    if isinstance(value, dict):
        # Each key/value pair costs its parts plus a separator, as in serialized JSON.
        return sum(_count_value(k, depth + 1) + _count_value(v, depth + 1) + 1 for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_count_value(item, depth + 1) for item in value)
    return count_tokens(str(value))


def _count_content(content: object) -> int:
    """Tokens for a message ``content``: a string, None, or a list of typed parts."""
    if content is None:
        return 0
    if isinstance(content, str):
        return count_tokens(content)
    if not isinstance(content, list):
        return _count_value(content)
    total = 0
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            total += _IMAGE_TOKENS
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            total += count_tokens(part["text"])
        else:
            total += _count_value(part)
    return total


def _count_tool_calls(tool_calls: object) -> int:
    if not isinstance(tool_calls, list):
        return _count_value(tool_calls)
    total = 0
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            total += _PER_TOOL_CALL + _count_value(function.get("name")) + _count_value(function.get("arguments"))
        else:
            total += _count_value(call)
    return total


def _count_tools(tools: object) -> int:
    """Tool definitions are sent to the model as text, so count their serialized JSON."""
    try:
        return count_tokens(json.dumps(tools, ensure_ascii=False, default=str))
    except (TypeError, ValueError, RecursionError):
        # Unserializable or circular definitions: fall back to the structural count.
        return _count_value(tools)


def count_prompt_tokens(messages: list[dict], tools: list[dict] | None = None) -> int:
    """Estimate ``usage.prompt_tokens`` for a chat request the way OpenAI bills it.

    Args:
        messages: the request's ``messages``. Any shape is tolerated: content may be a
            string, None, a list of ``text``/``image_url`` parts, or something unexpected.
        tools: the request's ``tools``, counted as their JSON text.

    Returns:
        A plausible, deterministic count; never raises for JSON-like input.
    """
    total = _REPLY_PRIMING
    for message in messages if isinstance(messages, list) else []:
        total += _PER_MESSAGE
        if not isinstance(message, dict):
            total += _count_value(message)
            continue
        total += _count_value(message.get("role"))
        total += _count_content(message.get("content"))
        if message.get("name"):
            total += _PER_NAME + _count_value(message.get("name"))
        if message.get("tool_calls"):
            total += _count_tool_calls(message.get("tool_calls"))
        if message.get("tool_call_id"):
            total += _count_value(message.get("tool_call_id"))
    if tools:
        total += _count_tools(tools)
    return total

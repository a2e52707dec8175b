"""Recognise the prompts that dictate the reply word for word, and the style a system prompt asks for.

Migration smoke tests send ``Respond with "migration successful".`` and compare the output
exactly, so the emulated model must obey such instructions literally: no quotes, no added
period, nothing around it. This module owns those literal instructions (quoted "say X",
"Reply with exactly: X", "Repeat after me: X", "Answer only with X", and a system prompt's
"Always respond with X") and the one style cue the emulator honours, terseness. The text
answers in ``answers`` consult it first.
"""

from __future__ import annotations

import re

_VERB = r"(?:respond|reply|answer|say|output|print|return|write|type|echo)"
# Words allowed between the verb and the quoted text: 'Respond only with the word "OK"'.
_FILLER = r"(?:\s+(?:back|only|just|exactly|simply|verbatim|precisely|with|to\s+me|the|a|single|following|" \
          r"(?:word|phrase|text|string|sentence|message|answer)s?)|\s*[:,\-])*"
_QUOTED = (r'\s*(?:"(?P<dq>[^"\n]+)"|“(?P<cq>[^”\n]+)”|\'(?P<sq>[^\'\n]+)\'|`(?P<bq>[^`\n]+)`'
           r"|«\s*(?P<gq>[^»\n]+?)\s*»)")  # fmt: skip
_QUOTED_INSTRUCTION = re.compile(rf"\b{_VERB}{_FILLER}{_QUOTED}", re.I)

# Colon forms hand over text verbatim, so it is kept exactly, final period included.
_VERBATIM = re.compile(
    r"(?:\brepeat after me|\b(?:respond|reply|answer|say|output)\s+(?:back\s+)?(?:with\s+)?exactly)"
    r"\s*[:,\-]\s*(?P<text>.+?)\s*$",
    re.I | re.S,
)
# Sentence forms end with the instruction's own punctuation, which is not part of the text.
_ONLY_WITH = re.compile(
    r"\b(?:respond|reply|answer|output)\s+(?:only|just)\s+with\s*:?\s*(?P<text>[^\n]+?)\s*[.!]?\s*$", re.I
)
_SHORT_SAY = re.compile(
    r"^\s*(?:please\s+)?(?:just\s+|only\s+)?say\s+(?P<text>[^\"“'`\n][^\n]{0,40}?)\s*[.!]?\s*$", re.I
)
_NOT_LITERAL = frozenset({"something", "anything", "a", "an", "the", "what", "how", "why", "me", "it", "that",
                          "this", "more", "hello to", "goodbye to", "hi to", "nothing", "yes or no"})  # fmt: skip
_YES_OR_NO = re.compile(r"^(?:a\s+)?(?:simple\s+)?[\"']?(yes|no)[\"']?\s*(?:or|/)\s*[\"']?(yes|no)\b", re.I)
_ALWAYS = re.compile(rf"\balways\s+{_VERB}{_FILLER}{_QUOTED}", re.I)

_TERSE = re.compile(
    r"\b(?:terse|brief|briefly|concise|concisely|succinct|short answers?|be short|one sentence|"
    r"one word|few words|no more than \w+ words|laconic|tl;?dr)\b",
    re.I,
)


def _quoted_text(match: re.Match[str]) -> str:
    return next(v for k, v in match.groupdict().items() if k.endswith("q") and v is not None)


def literal_reply(user: str, instructions: str = "") -> str | None:
    """The exact reply the user (or the system prompt) dictates, or None.

    Args:
        user: the last user message.
        instructions: the system/developer text; only an "always respond with X" there counts.

    Returns:
        The dictated text, without the quotes around it.
    """
    match = _QUOTED_INSTRUCTION.search(user)
    if match:
        return _quoted_text(match)
    match = _VERBATIM.search(user)
    if match:
        return _unquote(match.group("text"))
    match = _ONLY_WITH.search(user)
    if match:
        text = _unquote(match.group("text"))
        yes_no = _YES_OR_NO.match(text)
        return yes_no.group(1).capitalize() if yes_no else text
    match = _SHORT_SAY.match(user)
    if match:
        text = match.group("text")
        words = text.lower().split()
        # "Say something nice" or "say hello to Bob" describe a reply; "Say hi" dictates one.
        describes = not words or words[0] in _NOT_LITERAL or any(p in text.lower() for p in _NOT_LITERAL if " " in p)
        if len(words) <= 4 and not describes:
            return text
    match = _ALWAYS.search(instructions)
    return _quoted_text(match) if match else None


def _unquote(text: str) -> str:
    text = text.strip()
    for left, right in ('""', "“”", "''", "``"):
        if len(text) >= 2 and text[0] == left and text[-1] == right:
            return text[1:-1]
    return text


def wants_terse(instructions: str, user: str) -> bool:
    """Whether the system prompt or the message asks for short answers."""
    return bool(_TERSE.search(instructions) or _TERSE.search(user))


def shorten(text: str) -> str:
    """A terse version of an answer: the code block if any, else the list, else one sentence."""
    fence = re.search(r"```.*?```", text, re.S)
    if fence:
        return fence.group()
    items = [line for line in text.splitlines() if re.match(r"\s*\d+\.\s", line)]
    if items:
        return "\n".join(items)
    first = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]
    return first

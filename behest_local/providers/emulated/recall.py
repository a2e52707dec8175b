"""What the user said about themselves earlier in the conversation, recalled on request.

The first thing people try against a chat model with history (a thread, a Responses chain
with ``previous_response_id``, a conversation) is "My dog is called Biscuit." … "What is my
dog called?". A real model answers from the history; so does the emulated model, within
the bounded view of the conversation it reads (``bounds.py``). ``recall_answer`` is asked
before the other intents of ``answers.py``:

* facts are read from the earlier user messages, newest first: "my NOUN is called/named X",
  "my NOUN's name is X", "the name of my NOUN is X", "my name is X", "call me X",
  "I live in X", and the plain "my NOUN is X" ("my favourite colour is teal");
* questions: "what is my NOUN called/named?", "what's my NOUN's name?", "what is my name?",
  "who am I?", "where do I live?", "what is my NOUN?";
* a question about a fact never stated gets an honest "you haven't told me", not a guess;
  any other message is left to the other intents (``None``).
"""

from __future__ import annotations

import re

_VALUE = r"(?P<value>[^.!?\n,;]{1,60}?)"
_END = r"\s*(?:[.!?\n,;]|\band\b|\bbut\b|$)"
_WORD = r"[a-z][a-z-]*"
_NOUN = rf"(?P<noun>{_WORD}(?: {_WORD})??)"  # lazy: "cat" before "cat called"

# Statements, in the order they are tried on each earlier message.
_NAMED = re.compile(rf"\bmy {_NOUN}(?:'s name)? is (?:called |named )?{_VALUE}{_END}", re.I)
_NAME_OF = re.compile(rf"\bthe name of my {_NOUN} is {_VALUE}{_END}", re.I)
_MY_NAME = re.compile(rf"\b(?:my name is|call me|i'?m called|i am called) {_VALUE}{_END}", re.I)
_LIVE = re.compile(rf"\bi live in {_VALUE}{_END}", re.I)

# Questions, asked of the last user message.
_ASK_NAMED = re.compile(
    rf"^\W*(?:what(?:'s| is) (?:the name of )?my {_NOUN}(?:'s name)?(?: called| named)?"
    rf"|what do i call my (?P<called>{_WORD}(?: {_WORD})?))\W*$", re.I)
_ASK_MY_NAME = re.compile(r"^\W*(?:what(?:'s| is) my name|who am i|what am i called)\W*$", re.I)
_ASK_LIVE = re.compile(r"^\W*(?:where do i live|where(?:'s| is) my home)\W*$", re.I)

_NOT_NOUNS = frozenset({"name", "question", "problem", "point", "answer", "guess", "plan"})


def recall_answer(question: str, earlier_users: tuple[str, ...]) -> str | None:
    """The answer to ``question`` from what the user said before, or None when it is not a
    question about the user's own facts."""
    asked = question.strip()
    if len(asked) > 120:
        return None
    if _ASK_MY_NAME.match(asked):
        name = _latest(earlier_users, lambda text: _first(_MY_NAME, text))
        return (f"Your name is {name}: you told me earlier in this conversation." if name
                else "You haven't told me your name in this conversation.")
    if _ASK_LIVE.match(asked):
        place = _latest(earlier_users, lambda text: _first(_LIVE, text))
        return (f"You live in {place}, as you told me earlier." if place
                else "You haven't told me where you live in this conversation.")
    match = _ASK_NAMED.match(asked)
    if match is None:
        return None
    noun = (match.group("noun") or match.group("called")).lower()
    if noun in _NOT_NOUNS:
        return None
    value = _latest(earlier_users, lambda text: _fact_about(noun, text))
    if value is None:
        return f"You haven't told me about your {noun} in this conversation."
    naming = re.search(r"\b(?:called|named|name)\b|\bcall\b", asked, re.I)
    verb = "is called" if naming else "is"
    return f"Your {noun} {verb} {value}: you told me earlier in this conversation."


def _latest(texts: tuple[str, ...], find) -> str | None:
    """The newest message's fact: a later "my dog is called Rex" corrects an earlier one."""
    for text in reversed(texts):
        found = find(text)
        if found:
            return found
    return None


def _fact_about(noun: str, text: str) -> str | None:
    for pattern in (_NAMED, _NAME_OF):
        for match in pattern.finditer(text):
            if match.group("noun").lower() == noun:
                return _value(match)
    return None


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return _value(match) if match else None


def _value(match: re.Match[str]) -> str | None:
    value = match.group("value").strip(" \"'“”")
    return value or None

"""The content policy (block phrases and patterns) and prompt-injection heuristics.

``ContentPolicy`` is compiled once per configuration (``compile_policy``, cached on the
frozen settings' values): the phrases become one case-insensitive, whole-word
alternation and the user's patterns are compiled after ``pattern_problem`` has refused
the ones that could backtrack catastrophically. That check is the bound on user regexes:
a pattern may not repeat a group that itself holds a repetition (``(a+)+``, ``(\\w*x)*``)
or use a backreference, the two constructs behind exponential or polynomial blow-ups in
a backtracking engine; what is left is linear in the text for practical purposes, and is
run piece by piece (``recognizers.pieces``) so no call holds the loop for long.

Injection heuristics recognise the common phrasings of "ignore your instructions",
role overrides (a fake ``system:`` turn, chat-template tokens), system-prompt
exfiltration and jailbreak personas. They only ever record (shadow): a heuristic is too
coarse to refuse a request on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from behest_local.guardrails.recognizers import pieces

try:  # the parser behind ``re.compile``: a private module, renamed in 3.11
    from re import _parser as sre_parse  # type: ignore[attr-defined]
    from re import _constants as sre_constants  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT,
            getattr(sre_constants, "POSSESSIVE_REPEAT", sre_constants.MAX_REPEAT)}


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` may not be a content pattern, or None when it may."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    if _risky(parsed, inside_repeat=False):
        return ("a repeated group holds a repetition or a backreference (such as (a+)+), "
                "which can take exponential time on some text")
    return None


def _risky(items: Any, *, inside_repeat: bool) -> bool:
    for op, arg in items:
        if op in _REPEATS:
            low, high, body = arg
            if inside_repeat and low != high:  # a fixed count (``b{2}``) adds no choices
                return True
            if _risky(body, inside_repeat=inside_repeat or high > 1):
                return True
        elif op is sre_constants.GROUPREF or op is sre_constants.GROUPREF_EXISTS:
            return True
        elif op is sre_constants.SUBPATTERN:
            if _risky(arg[-1], inside_repeat=inside_repeat):
                return True
        elif op is sre_constants.BRANCH:
            if any(_risky(branch, inside_repeat=inside_repeat) for branch in arg[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if _risky(arg[1], inside_repeat=inside_repeat):
                return True
    return False


class ContentPolicy:
    """A project's block phrases and patterns, compiled."""

    __slots__ = ("phrases", "patterns")

    def __init__(self, block: Iterable[str], patterns: Iterable[str]) -> None:
        words = [r"\s+".join(map(re.escape, phrase.split())) for phrase in block
                 if phrase.strip()]
        self.phrases = re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)",
                                  re.IGNORECASE) if words else None
        self.patterns = tuple(re.compile(p) for p in patterns)

    def matches(self, text: str) -> int:
        """How many phrases and patterns ``text`` matches (0: it passes)."""
        hits = 0
        for start, end in pieces(text):
            piece = text[start:end]
            if self.phrases is not None:
                hits += sum(1 for _ in self.phrases.finditer(piece))
            hits += sum(1 for p in self.patterns if p.search(piece))
        return hits


@functools.lru_cache(maxsize=64)
def compile_policy(block: tuple[str, ...], patterns: tuple[str, ...]) -> ContentPolicy:
    """The compiled policy of these settings (cached: a project's settings are frozen)."""
    return ContentPolicy(block, patterns)


_S = r"\s{1,8}"
INJECTION_RULES: tuple[tuple[str, re.Pattern, tuple[str, ...]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE), keywords) for name, pattern, keywords in (
        ("ignore_instructions",
         rf"\b(?:ignore|disregard|forget|override){_S}(?:(?:all|any|the|your){_S}){{0,2}}"
         rf"(?:previous|prior|above|earlier|preceding|system|original){_S}"
         r"(?:instructions|prompts?|rules|directions|messages)",
         ("ignore", "disregard", "forget", "override")),
        ("role_override",
         r"(?:^|\n)\s{0,8}(?:system|assistant|developer)\s{0,8}:|<\|im_start\|>|\[/?INST\]"
         rf"|<<SYS>>|\byou{_S}are{_S}now{_S}(?:in{_S})?(?:developer|god|admin|unrestricted)\b",
         ("system", "assistant", "developer", "<|im_start|>", "inst]", "<<sys>>", "are now")),
        ("prompt_exfiltration",
         rf"\b(?:reveal|show|print|repeat|output|display|leak|tell{_S}me){_S}(?:me{_S})?"
         rf"(?:your|the){_S}(?:(?:full|entire|hidden|initial|original){_S}){{0,2}}"
         rf"(?:system{_S}prompt|instructions|initial{_S}prompt|hidden{_S}prompt)",
         ("prompt", "instructions")),
        ("jailbreak_persona",
         rf"\b(?:(?-i:DAN)|do{_S}anything{_S}now|jailbreak(?:ed)?|no{_S}restrictions|"
         rf"without{_S}any{_S}(?:rules|restrictions|filters))\b",
         ("dan", "anything", "jailbreak", "restrictions", "without")),
    ))
"""Named cues of prompt injection (a hit records the rule's name, never the text), each
with the lower-case words one of which any match holds: a piece without them is not
searched (a substring test in C is a hundred times cheaper than the regex)."""


def injection_cues(text: str) -> tuple[str, ...]:
    """The names of the injection rules ``text`` trips, in ``INJECTION_RULES`` order."""
    hit: set[str] = set()
    for start, end in pieces(text):
        piece = text[start:end]
        lowered = piece.lower()
        hit.update(name for name, rule, keywords in INJECTION_RULES
                   if name not in hit and any(k in lowered for k in keywords)
                   and rule.search(piece))
    return tuple(name for name, _, _ in INJECTION_RULES if name in hit)

"""Write a string that a JSON Schema ``pattern`` accepts.

String fields in structured-output schemas often carry a ``pattern`` (``^\\d{3}-\\d{4}$``,
``^[A-Z]{3}$``). ``schema_values`` first tries meaningful candidates from the prompt against
the pattern; when none match it calls ``sample_pattern`` here, which walks the parse tree of
the regular expression and emits one matching string. Python's own parser (``re._parser``)
does the parsing, so every syntax ``re`` accepts is understood; lookarounds are skipped and the
caller verifies the result with ``re.search``. Pure, deterministic for a given ``rng``.
"""

from __future__ import annotations

import random
import re
import string

try:  # The parser is private API; without it the caller falls back to prompt candidates.
    from re import _parser as sre_parser
except ImportError:  # pragma: no cover - every supported Python has it
    sre_parser = None

# Characters a sampled class may produce, most readable first so "[^0-9]" yields a letter.
_ALPHABET = string.ascii_lowercase + string.ascii_uppercase + string.digits + " -_.@/:+,#!?*()"

# Open-ended repeats ("+", "*", "{2,}") get at most this many extra copies: enough to look
# like data, short enough to stay within typical maxLength limits.
_MAX_EXTRA_REPEATS = 3
# Patterns nested deeper than this, or asking for longer strings, are not sampled: they are
# almost certainly adversarial ("((a{1000}){1000}){1000}").
_MAX_DEPTH = 40
_MAX_OUTPUT = 2_000


class _Unsupported(Exception):
    """The pattern uses a construct this sampler cannot reproduce."""


def sample_pattern(pattern: str, rng: random.Random, *, extra: int | None = None) -> str | None:
    """One string matching ``pattern`` (as ``re.search`` would), or None if unsure.

    Args:
        pattern: a regular expression in JSON Schema (ECMA 262, close to Python) syntax.
        rng: source of choices for classes, alternatives and repeat counts.
        extra: copies beyond the minimum for each repeat ("+", "{2,8}"); random (0-3) when
            None. Callers vary it to meet ``minLength``/``maxLength``.
    """
    if sre_parser is None:
        return None
    try:
        parsed = sre_parser.parse(pattern)
        return _emit(parsed, rng, {}, extra, 0)
    except (re.error, _Unsupported, ValueError, OverflowError, RecursionError, IndexError, TypeError):
        # An unparseable or exotic pattern: the caller falls back to its own candidates.
        return None


def _emit(items: object, rng: random.Random, groups: dict[int, str], extra: int | None, depth: int) -> str:
    if depth > _MAX_DEPTH:
        raise _Unsupported
    out: list[str] = []
    for op, av in items:  # type: ignore[attr-defined]
        name = getattr(op, "name", str(op))
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "NOT_LITERAL":
            out.append(next(c for c in _ALPHABET if ord(c) != av))
        elif name == "ANY":
            out.append(rng.choice(string.ascii_lowercase))
        elif name == "IN":
            out.append(_pick_from_class(av, rng))
        elif name == "BRANCH":
            out.append(_emit(rng.choice(av[1]), rng, groups, extra, depth + 1))
        elif name == "SUBPATTERN":
            group, _add, _del, inner = av
            text = _emit(inner, rng, groups, extra, depth + 1)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, inner = av
            more = rng.randint(0, _MAX_EXTRA_REPEATS) if extra is None else extra
            count = min(low + more, high) if high >= low else low
            produced = 0
            for _ in range(count):
                piece = _emit(inner, rng, groups, extra, depth + 1)
                produced += len(piece)
                if produced > _MAX_OUTPUT:
                    raise _Unsupported
                out.append(piece)
        elif name == "GROUPREF":
            out.append(groups.get(av, ""))
        elif name == "GROUPREF_EXISTS":
            group, yes, no = av
            branch = yes if group in groups else no
            out.append(_emit(branch, rng, groups, extra, depth + 1) if branch else "")
        elif name == "ATOMIC_GROUP":
            out.append(_emit(av, rng, groups, extra, depth + 1))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # anchors and lookarounds consume nothing; the caller verifies
        elif name == "CATEGORY":
            out.append(_pick_from_class([(op, av)], rng))
        else:
            raise _Unsupported
    text = "".join(out)
    if len(text) > _MAX_OUTPUT:
        raise _Unsupported
    return text


def _pick_from_class(items: list, rng: random.Random) -> str:
    """A character inside a ``[...]`` class (or ``\\d``, ``\\w`` ...)."""
    allowed = [c for c in _ALPHABET if _in_class(c, items)]
    if allowed:
        return rng.choice(allowed)
    # Classes made only of non-ASCII characters ("[à-ü]"): take their first member.
    for op, av in items:
        name = getattr(op, "name", str(op))
        if name == "LITERAL":
            return chr(av)
        if name == "RANGE":
            return chr(av[0])
    raise _Unsupported


def _in_class(char: str, items: list) -> bool:
    negate = False
    hit = False
    for op, av in items:
        name = getattr(op, "name", str(op))
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            hit = hit or ord(char) == av
        elif name == "RANGE":
            hit = hit or av[0] <= ord(char) <= av[1]
        elif name == "CATEGORY":
            hit = hit or _in_category(char, getattr(av, "name", str(av)))
        else:
            raise _Unsupported
    return hit != negate


def _in_category(char: str, category: str) -> bool:
    positive = category.replace("_NOT_", "_")
    if positive.endswith("DIGIT"):
        found = char.isdigit()
    elif positive.endswith("SPACE"):
        found = char.isspace()
    elif positive.endswith("WORD"):
        found = char.isalnum() or char == "_"
    elif positive.endswith("LINEBREAK"):
        found = char == "\n"
    else:
        raise _Unsupported
    return found != ("_NOT_" in category)

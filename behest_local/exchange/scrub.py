"""Redaction of recorded text: bodies, stream fragments and anything else a trace keeps.

``redact_value`` (below) already hides credential *headers* before an event exists. This
module covers the rest of what the trace records (exchange/capture.py): request and response
bodies and the raw stream events, which are shown in the TUI and written to SQLite,
HAR, JSONL and fixtures. A secret can reach a body in three ways: a field that holds
one (``"api_key": …``), a key pasted into a prompt, or a model echoing either back.
Three rules catch them:

* values under secret-sounding JSON keys are replaced whatever they look like;
* strings shaped like provider or gateway keys (``sk-…``, ``behest_sk_live_…``, JWTs…)
  are replaced wherever they appear;
* the exact credentials the request presented (``known``) are replaced wherever they
  appear, so even a key without a recognisable shape never leaks through an echo.

A streamed echo is split across events (``" sk"``, ``"-"``, ``"proj"``…), so no single
event matches. ``redact_fragments`` therefore matches on the joined text and masks each
fragment's share of a match. Replacements keep the short hint ``redact_value`` keeps
(the key's kind, never anything usable).

This runs for every recorded exchange (on the trace database's writer thread), so the
common case is made cheap without changing a result: ``has_anchor`` and
``may_need_redaction`` are exact prefilters (a few substring scans prove that nothing
can match), and a body with nothing to redact is kept as it was sent, never parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

# Headers whose values are credentials. Redacted before anything is recorded (Portkey's
# log middleware does the same before broadcasting to live log clients).
SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "set-cookie",
     "proxy-authorization", "x-admin-secret"}
)


def redact_value(name: str, value: str) -> str:
    """The value to record for header ``name``: credentials keep a short hint only."""
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, _, token = value.partition(" ")
    if token and scheme.lower() in {"bearer", "basic"}:
        return f"{scheme} {_hint(token)}"
    return _hint(value)


def _hint(token: str) -> str:
    # The first characters of a key identify its kind (behest_sk_live_, sk-ant-) without
    # revealing anything usable; never more than 8 and never more than a third.
    keep = min(8, len(token) // 3)
    return f"{token[:keep]}…[redacted]"


REDACTED = "…[redacted]"

# Key shapes seen in the wild; each needs enough characters after its prefix that prose
# ("sk-learn") is left alone. With a distinctive prefix (``sk-proj-``) four characters
# are enough, so a key still arriving in a live stream is hidden almost at once.
#
# Written so the regex engine can skip ahead: every alternative opens with a literal
# (the engine then only tries positions holding one of their first characters) and
# checks the word boundary *after* that literal (``(?<!\wsk-)`` is ``\b`` before ``sk-``).
# A bearer token has no literal of its own, so it is found separately (``shape_spans``).
_TOKEN_CHARS = r"[A-Za-z0-9_\-]"
_PREFIXED = ["gsk", "xai", "ghp", "gho", "github_pat", "glpat", "hf", "r8", "pplx", "csk"]
_SHAPES = [
    # ``sk-proj-…`` before plain ``sk-…``: same literal, so the order is kept inside it
    rf"sk-(?<!\wsk-)(?:(?:proj|ant|svcacct|admin|or-v1)-{_TOKEN_CHARS}{{4,}}"
    rf"|{_TOKEN_CHARS}{{16,}})",
    r"behest_sk_(?<!\wbehest_sk_)(?:live|test)_[A-Za-z0-9]+",
    r"bh_(?<!\wbh_)(?:live|test)_[A-Za-z0-9]+",
    rf"AIza(?<!\wAIza){_TOKEN_CHARS}{{8,}}",
    *(rf"{p}_(?<!\w{p}_){_TOKEN_CHARS}{{8,}}" for p in _PREFIXED),
    r"xai-(?<!\wxai-)[A-Za-z0-9]{8,}",
    r"AKIA(?<!\wAKIA)[0-9A-Z]{12,}",
    rf"eyJ(?<!\weyJ){_TOKEN_CHARS}{{4,}}\.{_TOKEN_CHARS}{{4,}}\.{_TOKEN_CHARS}*",  # JWT
]
PREFIXED_SHAPES = re.compile("|".join(_SHAPES))
BEARER = "earer "  # after "Bearer " or "bearer "
BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/\-]{8,}=*")

# Literals of which every shape holds one (a bearer token: just before it), so text
# without any of them cannot hold a shape and the regex is not run at all. Checked
# with ``in`` (a fast scan in C), behind a one-character scan where that character is
# rare, so typical text takes few scans. tests/test_scrub.py proves the claim on
# generated text.
ANCHORS = ("sk-", "sk_", BEARER, "AIza", "AKIA", "eyJ", "xai", "plx_",
           "bh_", "hf_", "r8_", "ghp_", "gho_", "pat_")
_BEFORE_UNDERSCORE = frozenset({"bh", "hf", "r8", "hp", "ho", "at"})  # the last six


def has_anchor(text: str) -> bool:
    """False only when ``text`` cannot hold a key shape (a cheap, exact prefilter)."""
    if "sk" in text and ("sk-" in text or "sk_" in text):
        return True
    if BEARER in text:
        return True
    if "A" in text and ("AIza" in text or "AKIA" in text):
        return True
    if "J" in text and "eyJ" in text:
        return True
    if "x" in text and ("xai" in text or "plx_" in text):
        return True
    # JSON holds a few underscores (``finish_reason``): looking at each is cheaper than
    # six more scans, until there are many.
    index, seen = text.find("_", 2), 0
    while index != -1:
        if text[index - 2:index] in _BEFORE_UNDERSCORE:
            return True
        seen += 1
        if seen > 8:
            return any(anchor in text for anchor in ANCHORS[8:])
        index = text.find("_", index + 1)
    return False


def _next_bearer(text: str, pos: int) -> tuple[int, int] | None:
    """The first bearer token starting at or after ``pos`` (the prefix may lie before)."""
    i = text.find(BEARER, max(0, pos - len(BEARER)))
    while i != -1:
        if i > 0 and text[i - 1] in "Bb":
            token = BEARER_TOKEN.match(text, i + len(BEARER))
            if token is not None:
                return token.span()
        i = text.find(BEARER, i + 1)
    return None


def shape_spans(text: str) -> list[tuple[int, int]]:
    """Where key shapes are in ``text``: the spans a left-to-right, non-overlapping scan
    for any shape finds (as ``finditer`` over all shapes with the bearer token last)."""
    if not has_anchor(text):
        return []
    spans: list[tuple[int, int]] = []
    pos = 0
    match = PREFIXED_SHAPES.search(text)
    bearer = _next_bearer(text, 0) if BEARER in text else None
    while match is not None or bearer is not None:
        # A prefixed shape wins a tie: it comes first in the alternation.
        if match is not None and (bearer is None or match.start() <= bearer[0]):
            span = match.span()
        else:
            span = bearer
        spans.append(span)
        pos = span[1]
        if match is not None and match.start() < pos:
            match = PREFIXED_SHAPES.search(text, pos)
        if bearer is not None and bearer[0] < pos:
            bearer = _next_bearer(text, pos)
    return spans


SECRET_KEYS = frozenset({
    "api_key", "apikey", "api-key", "x-api-key", "authorization", "password", "passwd",
    "secret", "client_secret", "access_token", "refresh_token", "id_token", "token",
    "private_key", "session_token", "x-goog-api-key", "proxy-authorization", "cookie",
})
MIN_KNOWN = 6  # a "credential" shorter than this would redact ordinary words


def hint(token: str) -> str:
    """What is shown instead of ``token``: at most 8 leading characters, never a third."""
    keep = min(8, len(token) // 3)
    return token[:keep] + REDACTED


def _spans(text: str, known: Iterable[str]) -> list[tuple[int, int]]:
    # A match that is already a hint (``sk-proj-…[redacted]``) stays as it is, so
    # redacting twice (a stored record shown again) changes nothing.
    spans = [s for s in shape_spans(text) if not text.startswith(REDACTED, s[1])]
    for secret in known:
        if len(secret) < MIN_KNOWN or secret not in text:
            continue
        start = text.find(secret)
        while start != -1:
            spans.append((start, start + len(secret)))
            start = text.find(secret, start + 1)
    if len(spans) < 2:
        return spans
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact_text(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every key-shaped string and every ``known`` credential replaced
    (``text`` itself when there is none)."""
    if len(text) < MIN_KNOWN:  # shorter than any shape or credential
        return text
    spans = _spans(text, known)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(hint(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_json(value: object, known: Iterable[str] = ()) -> object:
    """A JSON value with secret fields and secret-shaped strings replaced: ``value``
    itself when nothing needed replacing, else a copy (only changed parts are copied)."""
    if isinstance(value, str):
        return redact_text(value, known)
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            if isinstance(item, str) and item and key.lower() in SECRET_KEYS:
                new = hint(item)
            elif isinstance(item, (str, dict, list)):
                new = redact_json(item, known)
            else:
                continue
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        copied = None
        for n, item in enumerate(value):
            if isinstance(item, (str, dict, list)):
                new = redact_json(item, known)
                if new is not item:
                    if copied is None:
                        copied = list(value)
                    copied[n] = new
        return value if copied is None else copied
    return value


# A JSON body names a secret field as ``"<name>"``; checked on the lowered text, so
# ``"API_KEY"`` counts as it does for ``redact_json``.
_QUOTED_KEYS = tuple(f'"{key}"' for key in sorted(SECRET_KEYS))
_KEY_ENDINGS = ('key"', 'token"', 'secret"', 'pass', 'authorization"', 'cookie"')
_JSON_ESCAPED = frozenset('"\\/') | frozenset(map(chr, range(0x20)))


def may_need_redaction(text: str, known: Iterable[str] = ()) -> bool:
    """False only when neither ``redact_text(text)`` nor ``redact_json(json.loads(text))``
    can change anything: no shape anchor, no known credential, no secret field name.

    Exact for JSON because an escape can only hide those behind ``\\u`` (any character)
    or, for a credential holding ``"``, ``\\``, ``/`` or a control character, behind a
    two-character escape: both cases answer True.
    """
    if "\\u" in text or has_anchor(text):
        return True
    backslash = "\\" in text
    for secret in known:
        if len(secret) >= MIN_KNOWN and (secret in text or (
                backslash and not _JSON_ESCAPED.isdisjoint(secret))):
            return True
    lowered = text.lower()
    for ending in _KEY_ENDINGS:
        if ending in lowered:
            return any(key in lowered for key in _QUOTED_KEYS)
    return False


def redact_body(raw: bytes, known: Iterable[str] = ()) -> str:
    """A recorded body as redacted text: as it came when nothing needs redacting, else
    JSON redacted field by field (and re-serialised), else plain text.

    A body cut at the recording cap is no longer valid JSON; it falls back to text
    redaction, which still catches key shapes and known credentials. Readers that show
    a body pretty-print it themselves (tui/panes.py).
    """
    text = raw.decode("utf-8", errors="replace")
    known = tuple(known)
    if not may_need_redaction(text, known):
        return text
    try:
        parsed = json.loads(text)
    except ValueError:
        return redact_text(text, known)
    redacted = redact_json(parsed, known)
    if redacted is parsed:
        return text
    return json.dumps(redacted, ensure_ascii=False)


def redact_fragments(fragments: list[str], known: Iterable[str] = ()) -> list[str]:
    """Redact secrets that span consecutive fragments of one text (a streamed message).

    Each fragment keeps its own text outside any match; the part of it inside a match
    becomes ``[redacted]`` (the first fragment of a match also keeps the hint's prefix),
    so an event view still shows where the secret went without showing any of it.
    """
    joined = "".join(fragments)
    spans = _spans(joined, known)
    if not spans:
        return fragments
    # The first fragment of a match keeps the hint's prefix, cut to its share of the match.
    return _splice(fragments, joined, spans, lambda s, e, lo, hi: hint(
        joined[s:e]).removesuffix(REDACTED)[: hi - lo] + "[redacted]" if lo == s
        else "[redacted]")


def replace_values(fragments: list[str], values: Iterable[tuple[str, str]]) -> list[str]:
    """``fragments`` of one text (a streamed message) with each ``(value, label)``'s value
    replaced by its label, across fragment boundaries too: the fragment where a value
    starts gets the label, the others lose their part of it. ``fragments`` itself when no
    value occurs. (The guardrails' findings: ``Capture.pii``.)"""
    joined = "".join(fragments)
    spans: list[tuple[int, int, str]] = []
    for value, label in values:
        start = joined.find(value) if value else -1
        while start != -1:
            spans.append((start, start + len(value), label))
            start = joined.find(value, start + len(value))
    if not spans:
        return fragments
    spans.sort()
    kept = [spans[0]]
    for span in spans[1:]:
        if span[0] >= kept[-1][1]:
            kept.append(span)
    labels = {(s, e): label for s, e, label in kept}
    return _splice(fragments, joined, [(s, e) for s, e, _ in kept],
                   lambda s, e, lo, hi: labels[s, e] if lo == s else "")


def _splice(fragments: list[str], joined: str, spans: list[tuple[int, int]],
            shown: Callable[[int, int, int, int], str]) -> list[str]:
    """``fragments`` (pieces of ``joined``) with the part of each span ``(s, e)`` that falls
    in a fragment (``lo``..``hi``) replaced by ``shown(s, e, lo, hi)``; ``spans`` sorted,
    none overlapping."""
    out: list[str] = []
    offset = 0
    for fragment in fragments:
        start, end = offset, offset + len(fragment)
        offset = end
        pieces: list[str] = []
        cursor = start
        for s, e in spans:
            if e <= start or s >= end:
                continue
            lo, hi = max(s, start), min(e, end)
            pieces.append(joined[cursor:lo])
            pieces.append(shown(s, e, lo, hi))
            cursor = hi
        pieces.append(joined[cursor:end])
        out.append("".join(pieces))
    return out

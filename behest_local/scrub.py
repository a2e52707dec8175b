"""Redaction of recorded text: bodies, stream fragments and anything else a trace keeps.

``exchange.redact_value`` already hides credential *headers* before an event exists. This
module covers the rest of what the trace records (capture.py): request and response
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
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

REDACTED = "…[redacted]"

# Key shapes seen in the wild; each needs enough characters after its prefix that prose
# ("sk-learn") is left alone. With a distinctive prefix (``sk-proj-``) four characters
# are enough, so a key still arriving in a live stream is hidden almost at once.
_SHAPES = [
    r"\bsk-(?:proj|ant|svcacct|admin|or-v1)-[A-Za-z0-9_\-]{4,}",
    r"\bsk-[A-Za-z0-9_\-]{16,}",
    r"\bbehest_sk_(?:live|test)_[A-Za-z0-9]+",
    r"\bbh_(?:live|test)_[A-Za-z0-9]+",
    r"\bAIza[0-9A-Za-z_\-]{8,}",
    r"\b(?:gsk|xai|ghp|gho|github_pat|glpat|hf|r8|pplx|csk)_[A-Za-z0-9_\-]{8,}",
    r"\bxai-[A-Za-z0-9]{8,}",
    r"\bAKIA[0-9A-Z]{12,}",
    r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",  # JWT
    r"(?<=[Bb]earer )[A-Za-z0-9._~+/\-]{8,}=*",
]
SHAPES = re.compile("|".join(f"(?:{s})" for s in _SHAPES))

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
    spans = [m.span() for m in SHAPES.finditer(text) if not text.startswith(REDACTED, m.end())]
    for secret in known:
        if len(secret) < MIN_KNOWN:
            continue
        start = text.find(secret)
        while start != -1:
            spans.append((start, start + len(secret)))
            start = text.find(secret, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact_text(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every key-shaped string and every ``known`` credential replaced."""
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
    """A copy of a JSON value with secret fields and secret-shaped strings replaced."""
    known = tuple(known)
    if isinstance(value, dict):
        return {k: (hint(v) if isinstance(v, str) and k.lower() in SECRET_KEYS and v
                    else redact_json(v, known)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, known) for v in value]
    if isinstance(value, str):
        return redact_text(value, known)
    return value


def redact_body(raw: bytes, known: Iterable[str] = ()) -> str:
    """A recorded body as redacted text: JSON re-serialised field by field, else plain text.

    A body cut at the recording cap is no longer valid JSON; it falls back to text
    redaction, which still catches key shapes and known credentials.
    """
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return redact_text(text, known)
    return json.dumps(redact_json(parsed, known), ensure_ascii=False, indent=2)


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
            prefix = hint(joined[s:e]).removesuffix(REDACTED) if lo == s else ""
            pieces.append(prefix[: hi - lo] + "[redacted]")
            cursor = hi
        pieces.append(joined[cursor:end])
        out.append("".join(pieces))
    return out

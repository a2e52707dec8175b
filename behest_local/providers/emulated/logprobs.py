"""Token log probabilities for the emulated model's replies (``logprobs`` / ``top_logprobs``).

Clients that ask for ``logprobs: true`` read ``choices[i].logprobs.content``: one entry per
output token with its text, a log probability, its UTF-8 bytes and, for ``top_logprobs: k``,
the k likeliest tokens at that position, the chosen one first (reference/providers.md §1.3).
The emulated model has no distribution, so the numbers are made up, but deterministically
(from the token and its position) and consistently: every value is at most 0, the chosen
token is the likeliest of its alternatives, and the probabilities at one position sum to at
most 1. The provider attaches the whole list to a reply, or each entry to the stream chunk
that carries its token; this is computed once per reply, before streaming starts.
"""

from __future__ import annotations

import hashlib
import math

# Alternatives offered at a position, besides the chosen token (cycled, never the same text).
_ALTERNATIVES = (" the", " a", ",", " and", ".", " to", " of", " is", " in", " it", " that", " for",
                 " this", " you", " with", " on", " be", " as", " at", " or")  # fmt: skip
_MAX_TOP = 20


def token_logprobs(tokens: list[str], top: int | None) -> list[dict]:
    """One ``logprobs.content`` entry per token, each with ``top`` alternatives (0 to 20)."""
    k = max(0, min(top or 0, _MAX_TOP))
    return [_entry(token, position, k) for position, token in enumerate(tokens)]


def logprobs_object(entries: list[dict] | None) -> dict | None:
    """The ``logprobs`` object of a choice or chunk: None when not asked for."""
    return None if entries is None else {"content": entries, "refusal": None}


def _entry(token: str, position: int, k: int) -> dict:
    digest = hashlib.sha256(f"{position}\x00{token}".encode("utf-8", "surrogatepass")).digest()
    # The chosen token's probability: between 0.35 and 0.999, so the log is in [-1.05, -0.001].
    chosen = 0.35 + 0.649 * (digest[0] / 255)
    logprob = round(math.log(chosen), 6)
    top = []
    if k:
        top.append(_alternative(token, logprob))
        rest = 1 - chosen
        offset = digest[1] % len(_ALTERNATIVES)
        for n in range(k - 1):
            # Each next alternative takes at most half of what remains: decreasing, summing < 1.
            rest /= 2
            text = _ALTERNATIVES[(offset + n) % len(_ALTERNATIVES)]
            if text == token:
                text = text.strip() or "_"
            top.append(_alternative(text, round(math.log(max(rest, 1e-12)), 6)))
    return {**_alternative(token, logprob), "top_logprobs": top}


def _alternative(token: str, logprob: float) -> dict:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8", "surrogatepass"))}

"""Deterministic offline embeddings for ``POST /v1/embeddings``.

The emulated provider's ``embed`` lands here: :func:`validate_embeddings_request` checks the
body the way OpenAI does (same 400s, ``param`` naming the field), and
:func:`create_embeddings` answers with OpenAI's response object. Vectors come from feature
hashing (word unigrams + character trigrams, blake2b → bucket and sign), so they are stable
across runs and machines, unit-norm, and texts sharing words or spelling land closer together
than unrelated ones: good enough for wiring up retrieval code offline, meaningless as
semantics. Each feature also lands in the first 64 and 256 dimensions, so a vector shortened
with ``dimensions`` (OpenAI's truncate-and-renormalise) keeps a signal, as Matryoshka-trained
models do. Pure computation: no I/O, no numpy.

Cost: ~1-3 µs per character, and ~1 µs per float of JSON out. OpenAI's limits bound the first
(``MAX_INPUT_TOKENS`` per input, ``MAX_REQUEST_TOKENS`` per request: a 400 above them, as
OpenAI answers); the second is up to 2,048 × 3,072 floats. So a request beyond a few inputs
is answered by ``create_encoded`` in a worker thread (``provider.EmulatedProvider.embed``),
which also makes the JSON body a piece at a time (``json_text.encode_body``): one
``json.dumps`` of a maximal reply held the loop for ~5 s.
"""

from __future__ import annotations

import base64
import math
import re
import sys
from array import array
from collections.abc import Iterable, Iterator
from functools import lru_cache
from hashlib import blake2b

from behest_local.dialects.checks import first_negative, item_types, token_text
from behest_local.errors import InvalidRequestError
from behest_local.providers.tokens import count_tokens, estimate_tokens
from behest_local.json_text import EncodedJSON, encode_body, joined

# Native output size per model id; any other id is served with DEFAULT_DIMS.
EMBEDDING_MODELS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "mistral-embed": 1024,
}
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
DEFAULT_DIMS = 1536
MAX_INPUTS = 2048  # OpenAI's per-request limit on input items
MAX_INPUT_TOKENS = 8192  # OpenAI's context length of its embedding models
MAX_REQUEST_TOKENS = 300_000  # OpenAI's limit on the tokens of all inputs of one request
_EXACT_CHARS = 128 * 1024  # an input longer than this is counted by estimate (one C call)
_INLINE_CHARS = 16 * 1024  # requests this small are answered on the event loop
_ALLOWED_KEYS = frozenset({"input", "model", "encoding_format", "dimensions", "user"})
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# (how many leading dimensions a tier may hit, weight): full width, then the Matryoshka heads.
_TIERS = ((None, 1.0), (256, 0.5), (64, 0.25))
_API_REF = "Please check the API reference: https://platform.openai.com/docs/api-reference."


@lru_cache(maxsize=65536)
def _feature_bits(feature: str) -> tuple[tuple[int, float], ...]:
    """Per-tier (32-bit bucket seed, sign) for one feature; independent of the output size."""
    digest = blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    h = int.from_bytes(digest, "little")
    return tuple(((h >> (32 * i)) & 0xFFFFFFFF, -1.0 if (h >> (96 + i)) & 1 else 1.0)
                 for i in range(len(_TIERS)))


def _features(text: str) -> Iterable[tuple[str, float]]:
    norm = _SPACE.sub(" ", text.casefold()).strip()
    if not norm:
        return
    for word in _WORD.findall(norm):
        yield "w:" + word, 1.0
    padded = f" {norm} "
    for i in range(len(padded) - 2):
        yield "c:" + padded[i:i + 3], 0.5


def _fixed(dims: int) -> list[float]:
    """The vector for text with no features (empty or whitespace): uniform, unit-norm."""
    return [1.0 / math.sqrt(dims)] * dims


def embed_text(text: str, dims: int) -> list[float]:
    """A deterministic unit-norm vector of ``dims`` floats for ``text``.

    Raises:
        ValueError: ``dims`` < 1.
    """
    if dims < 1:
        raise ValueError(f"dims must be >= 1, got {dims}")
    acc: dict[int, float] = {}  # sparse: only touched buckets, so cost scales with the text
    heads = [(min(cap, dims) if cap else dims, w) for cap, w in _TIERS]
    for feature, weight in _features(text):
        for (seed, sign), (width, tier_w) in zip(_feature_bits(feature), heads):
            idx = seed % width
            acc[idx] = acc.get(idx, 0.0) + sign * weight * tier_w
    norm = math.sqrt(math.fsum(v * v for v in acc.values()))
    if norm == 0.0:  # no features, or (vanishingly rarely) exact cancellation
        return _fixed(dims)
    vec = [0.0] * dims
    for idx, v in acc.items():
        vec[idx] = v / norm
    return vec


def shorten(vec: list[float], dims: int) -> list[float]:
    """OpenAI's ``dimensions`` for v3 models: keep the first ``dims`` values, renormalise."""
    if dims < 1:
        raise ValueError(f"dims must be >= 1, got {dims}")
    head = vec[:dims]
    norm = math.sqrt(math.fsum(v * v for v in head))
    return [v / norm for v in head] if norm else _fixed(len(head))


def encode_base64(vec: list[float]) -> str:
    """Little-endian float32, base64: what the openai SDK decodes for ``encoding_format=base64``."""
    packed = array("f", vec)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _invalid(message: str, param: str | None) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _token_array(value: list, param: str) -> str:
    if not value:
        raise _invalid(f"'$.{param}' is invalid: a token array must not be empty. {_API_REF}", param)
    # C-level passes (``checks``): an array may hold millions of ids; the loop only names one.
    bad = first_negative(value) if item_types(value) == {int} else \
        next(i for i, tok in enumerate(value) if not _is_int(tok))
    if bad is not None:
        raise _invalid(f"'$.{param}' is invalid: token ids must be non-negative integers, "
                       f"got {value[bad]!r} at [{bad}]. {_API_REF}", f"{param}[{bad}]")
    return token_text(value)


def _texts(value: object) -> tuple[list[str], list[int] | None]:
    """(texts to embed, token counts when the input was token ids else None)."""
    if isinstance(value, str):
        if not value:
            raise _invalid(f"'$.input' is invalid: it must not be an empty string. {_API_REF}", "input")
        return [value], None
    if not isinstance(value, list) or not value:
        raise _invalid("'$.input' is invalid: expected a non-empty string, a list of strings, "
                       f"a token array or a list of token arrays. {_API_REF}", "input")
    if len(value) > MAX_INPUTS:
        raise _invalid(f"'$.input' is invalid: at most {MAX_INPUTS} inputs per request, "
                       f"got {len(value)}. {_API_REF}", "input")
    if all(_is_int(x) for x in value):
        return [_token_array(value, "input")], [len(value)]
    if all(isinstance(x, list) for x in value):
        return [_token_array(x, f"input[{i}]") for i, x in enumerate(value)], [len(x) for x in value]
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            what = "an empty string" if item == "" else f"of type {type(item).__name__}"
            raise _invalid(f"'$.input' is invalid: input[{i}] is {what}; items must be non-empty "
                           f"strings (or all token arrays). {_API_REF}", f"input[{i}]")
    return list(value), None


def _check(body: object, model: str | None) -> tuple[list[str], list[int] | None, str, str, int | None]:
    """(texts, token counts or None, model, encoding_format, dimensions) of a checked body."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.", None)
    for key in body:
        if key not in _ALLOWED_KEYS:
            raise _invalid(f"Unrecognized request argument supplied: {key}", key)
    if "input" not in body:
        raise _invalid("'input' is a required property", "input")
    texts, token_counts = _texts(body["input"])
    body_model = body.get("model")
    if body_model is not None and (not isinstance(body_model, str) or not body_model):
        raise _invalid("'model' must be a non-empty string.", "model")
    model = model or body_model or DEFAULT_EMBEDDING_MODEL
    fmt = body.get("encoding_format")
    if fmt is None:
        fmt = "float"
    if fmt not in ("float", "base64"):
        raise _invalid(f"{fmt!r} is not one of ['float', 'base64'] - 'encoding_format'",
                       "encoding_format")
    dims = body.get("dimensions")
    if dims is not None:
        if not model.startswith("text-embedding-3"):
            raise _invalid("This model does not support specifying dimensions.", "dimensions")
        native = EMBEDDING_MODELS.get(model, DEFAULT_DIMS)
        if not _is_int(dims) or not 1 <= dims <= native:
            raise _invalid(f"Invalid value for 'dimensions': {dims!r}. {model} supports 1 to "
                           f"{native} dimensions.", "dimensions")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _invalid(f"Invalid type for 'user': expected a string, got {type(user).__name__}.", "user")
    return texts, token_counts, model, fmt, dims


def validate_embeddings_request(body: object, *, model: str | None = None) -> dict:
    """Check an OpenAI embeddings body as OpenAI would.

    Args:
        body: the decoded JSON body.
        model: the routed model, if known; it decides whether ``dimensions`` is allowed
            (else ``body["model"]``, else ``text-embedding-3-small``).

    Returns:
        A copy of the body without null fields and with ``encoding_format`` filled in
        (``"float"``); validating it again succeeds, so it can go on to ``create_embeddings``.

    Raises:
        InvalidRequestError: with ``param`` naming the offending field.
    """
    fmt = _check(body, model)[3]
    return {**{k: v for k, v in body.items() if v is not None}, "encoding_format": fmt}


def create_embeddings(body: dict, *, model: str) -> dict:
    """The full OpenAI ``list`` of embeddings for ``body``, served as ``model``.

    Raises:
        InvalidRequestError: see :func:`validate_embeddings_request`.
    """
    head, items = _embeddings(body, model)
    return _reply(head, list(items))


def create_encoded(body: dict, model: str) -> EncodedJSON:
    """``create_embeddings`` as its JSON body, made one embedding at a time (for a worker
    thread: see the module docstring). No vector outlives its piece of JSON: 2,048 lists of
    1,536 floats kept until the end made each young garbage collection walk them, ~0.1 s
    with the GIL held. The object holds the reply's fields but ``data``."""
    head, items = _embeddings(body, model)
    empty = bytes(encode_body(_reply(head, [])))
    # The first b'"data":[]' is the key's own: only "object" ("list") comes before it.
    at = empty.index(b'"data":[]') + len(b'"data":[')
    chunks = [empty[:at]]
    for index, item in enumerate(items):
        chunks += [b"," if index else b"", bytes(encode_body(item))]
    chunks.append(empty[at:])
    return EncodedJSON(head, joined(chunks))


def _reply(head: dict, data: list) -> dict:
    return {"object": head["object"], "data": data, "model": head["model"], "usage": head["usage"]}


def _embeddings(body: dict, model: str) -> tuple[dict, Iterator[dict]]:
    """The reply's fields but ``data``, and its items, each computed when it is asked for."""
    texts, token_counts, model, fmt, dims = _check(body, model)
    token_counts = _within_limits(texts, token_counts)
    native = EMBEDDING_MODELS.get(model, DEFAULT_DIMS)

    def items() -> Iterator[dict]:
        for i, text in enumerate(texts):
            vec = embed_text(text, native)  # full size first: a shortened vector is its prefix
            if dims is not None:
                vec = shorten(vec, dims)
            yield {"object": "embedding", "index": i,
                   "embedding": encode_base64(vec) if fmt == "base64" else vec}

    tokens = sum(token_counts)
    return ({"object": "list", "model": model,
             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, items())


def _within_limits(texts: list[str], token_counts: list[int] | None) -> list[int]:
    """Each input's tokens, after OpenAI's checks: at most ``MAX_INPUT_TOKENS`` each and
    ``MAX_REQUEST_TOKENS`` in all. Past ``_EXACT_CHARS`` an input is counted by estimate:
    it is far over the limit whatever its exact count."""
    if token_counts is None:
        token_counts = [count_tokens(t) if len(t) <= _EXACT_CHARS else estimate_tokens(t)
                        for t in texts]
    for i, count in enumerate(token_counts):
        if count > MAX_INPUT_TOKENS:
            param = "input" if len(token_counts) == 1 else f"input[{i}]"
            raise _invalid(f"Invalid '{param}': this model's maximum context length is "
                           f"{MAX_INPUT_TOKENS} tokens, however you requested {count} tokens "
                           f"({count} in your prompt; 0 for the completion). Please reduce your "
                           "prompt; or completion length.", param)
    total = sum(token_counts)
    if total > MAX_REQUEST_TOKENS:
        raise InvalidRequestError(f"Requested {total} tokens, max {MAX_REQUEST_TOKENS} tokens per "
                                  "request", param="input", code="max_tokens_per_request")
    return token_counts


def is_light(body: dict) -> bool:
    """Whether ``create_embeddings(body)`` is cheap enough for the event loop: a few short
    inputs (the usual request)."""
    value = body.get("input")
    if isinstance(value, str):
        return len(value) <= _INLINE_CHARS
    return isinstance(value, list) and len(value) <= 16 and sum(
        len(item) if isinstance(item, (str, list)) else 1 for item in value) <= _INLINE_CHARS

"""The OpenAI-side shapes every adapter produces, and the request every transport returns.

Each provider package translates *into* OpenAI chat completions; this module is the one
place that knows what those objects look like (providers.md §1.3–1.5), so the Anthropic,
Gemini and Cohere translators build ``chat.completion`` / ``chat.completion.chunk`` dicts,
usage objects and ``UpstreamError``s the same way. It also holds ``UpstreamRequest``, the
value ``transport.request(…)`` returns: the one object in the flow that carries a
provider key in plaintext, so its ``repr`` masks the auth headers. Pure, no I/O.

It lives in ``openai_compat/`` because that package owns the OpenAI wire shape (the
pass-through adapter's input and output are exactly these objects).
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from behest_local.errors import InvalidRequestError, UpstreamError
from behest_local.secret import MASK, Secret

# Headers whose values are credentials; never shown by ``UpstreamRequest.__repr__``.
AUTH_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """What to send upstream: ``method`` ``url`` with ``headers`` and a ``json`` body, or
    ``body``'s bytes as they are (a multipart upload; ``headers`` name its type).

    ``headers`` holds the revealed key: use it for the one request, do not keep or log it.
    """

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    json: dict | None = None
    body: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shown = {k: (MASK if k.lower() in AUTH_HEADERS else v) for k, v in self.headers.items()}
        return f"UpstreamRequest({self.method} {self.url}, headers={shown})"

    def __iter__(self):
        """Unpacks as ``url, headers, json`` (the POST case)."""
        return iter((self.url, self.headers, self.json))


@dataclass(frozen=True, slots=True)
class EmbedCall:
    """An embeddings request: the validated OpenAI body and the routed upstream model."""

    body: dict
    model: str


def reveal(key: Secret | str | None) -> str:
    """The key's plaintext, revealed only while building headers (see ``secret.Secret``)."""
    if key is None:
        return ""
    return key.reveal() if isinstance(key, Secret) else key


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


# -- completions ------------------------------------------------------------------------


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def tool_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def tool_call(id: str, name: str, arguments: str) -> dict:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def usage(prompt: int, completion: int, *, total: int | None = None, cached: int | None = None,
          cache_write: int | None = None, reasoning: int | None = None) -> dict:
    """An OpenAI ``CompletionUsage``; the detail objects appear only when reported."""
    out: dict = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion if total is None else total}
    details = {k: v for k, v in (("cached_tokens", cached), ("cache_write_tokens", cache_write))
               if v is not None}
    if details:
        out["prompt_tokens_details"] = details
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def message(content: str | None, tool_calls: list[dict]) -> dict:
    out: dict = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        out["tool_calls"] = tool_calls
    return out


def completion(*, id: str, model: str, choices: list[dict], usage: dict | None,
               created: int | None = None) -> dict:
    """A ``chat.completion``; ``choices`` are ``{index, message, finish_reason}`` dicts."""
    return {"id": id, "object": "chat.completion",
            "created": int(time.time()) if created is None else created, "model": model,
            "choices": [{"logprobs": None, **c} for c in choices], "usage": usage}


class ChunkFactory:
    """Builds the chunks of one stream: same ``id``/``created``/``model`` on every chunk, and
    ``usage: null`` on each one when the client set ``stream_options.include_usage`` (§1.4)."""

    __slots__ = ("id", "model", "created", "include_usage")

    def __init__(self, model: str, *, include_usage: bool, id: str | None = None) -> None:
        self.id = id or completion_id()
        self.model = model
        self.created = int(time.time())
        self.include_usage = include_usage

    def chunk(self, delta: dict, finish_reason: str | None = None, index: int = 0) -> dict:
        out = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model,
               "choices": [{"index": index, "delta": delta, "logprobs": None,
                            "finish_reason": finish_reason}]}
        if self.include_usage:
            out["usage"] = None
        return out

    def usage_chunk(self, usage: dict) -> dict:
        """The ``include_usage`` chunk: whole-request usage and ``choices: []`` (§1.4)."""
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": usage}


def include_usage(request: Mapping) -> bool:
    return bool((request.get("stream_options") or {}).get("include_usage"))


def requested_max_tokens(request: Mapping) -> int | None:
    """``max_completion_tokens ?? max_tokens`` (§1.2: the former supersedes the latter)."""
    value = request.get("max_completion_tokens")
    return request.get("max_tokens") if value is None else value


def stop_list(request: Mapping) -> list[str]:
    stop = request.get("stop")
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def text_of(content: object) -> str:
    """The text of an OpenAI message ``content`` (a string or a list of text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content
                   if isinstance(p, dict) and p.get("type") in ("text", "input_text"))


def arguments_object(arguments: object, where: str) -> dict:
    """A tool call's JSON-string arguments as the object Anthropic and Gemini want."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        raise InvalidRequestError("Tool call arguments must be a JSON object string.",
                                  param=where) from None
    if not isinstance(value, dict):
        raise InvalidRequestError("Tool call arguments must be a JSON object.", param=where)
    return value


def embeddings(vectors: list[list[float]], *, model: str, prompt_tokens: int,
               encoding_format: str | None = None) -> dict:
    """An OpenAI embeddings response (§3). ``base64`` packs little-endian float32, which the
    openai SDK requests by default and decodes itself."""
    def encode(vector: list[float]) -> list[float] | str:
        if encoding_format != "base64":
            return vector
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}


def embedding_texts(body: Mapping, provider: str) -> list[str]:
    """The texts of an embeddings ``input`` (a string or a list of strings)."""
    inputs = body["input"]
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidRequestError(f"{provider} embeds text: token-id input is not translated.",
                                  param="input")
    return texts


# -- errors -----------------------------------------------------------------------------

# The OpenAI ``error.type`` a status gets when the upstream's own type is not OpenAI's.
_TYPES = {401: "invalid_request_error", 403: "permission_error", 404: "invalid_request_error",
          429: "rate_limit_error"}


def upstream_error(status: int, message: str, *, code: object = None,
                   headers: Mapping[str, str] | None = None) -> UpstreamError:
    """An ``UpstreamError`` keeping the upstream's status and message (issue 5: "upstream
    errors mapped to OpenAI-format errors with the upstream's status and message"). The
    native error type travels in ``code`` so nothing is lost; ``Retry-After`` is kept so
    client back-off still works."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    keep = {k: v for k, v in (headers or {}).items()
            if k.lower() in ("retry-after", "retry-after-ms")}
    return UpstreamError(message or f"upstream returned HTTP {status}", status=status,
                         type=kind, code=None if code is None else str(code), headers=keep)


def load_error_body(body: bytes) -> object:
    """The JSON of an error body, or None when it is not JSON (an HTML page from a proxy)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def raw_message(status: int, body: bytes) -> str:
    """A short, readable message for a non-JSON error body."""
    text = body[:300].decode("utf-8", "replace").strip()
    return f"upstream returned HTTP {status}" + (f": {text}" if text else "")


_scan_json = json.JSONDecoder().scan_once
"""The C scanner ``json.loads`` ends in: called directly, without the two Python layers and
two whitespace matches around it (about half the cost of parsing a short event)."""


def parse_event_json(data: str, provider: str) -> dict:
    """One SSE event's JSON payload; malformed JSON is an upstream failure (502)."""
    if data[:1] == "{" and data[-1:] == "}":  # the usual event: one object, no spaces around
        try:
            value, end = _scan_json(data, 0)
        except (StopIteration, ValueError):
            end = -1  # malformed: ``json.loads`` below says how
        if end == len(data):  # all of it, exactly as ``json.loads`` would have read it
            return value
    try:
        value = json.loads(data)
    except ValueError:
        raise UpstreamError(f"{provider} sent a malformed stream event: {data[:200]!r}",
                            status=502, code="bad_upstream_event") from None
    if not isinstance(value, dict):
        raise UpstreamError(f"{provider} sent a non-object stream event: {data[:200]!r}",
                            status=502, code="bad_upstream_event")
    return value


def truncated(provider: str) -> UpstreamError:
    """The stream ended before the provider's terminator (pitfall 23: never add ``[DONE]``
    to a truncated upstream stream, report it)."""
    return UpstreamError(f"{provider} closed the stream before it finished", status=502,
                         code="upstream_stream_truncated")


def native_request(op: str, url: str, auth: dict[str, str], payload: object,
                   to_native, headers: dict[str, str] | None = None) -> UpstreamRequest:
    """The request of a provider whose every operation is one fixed path: ``models`` is a
    GET, the rest POST ``to_native(op, payload)``, asking for SSE when the body streams.
    ``auth`` carries the revealed key; ``headers`` (config extras) are applied last."""
    out = {**auth, "Accept": "application/json"}
    if op == "models":
        out.update(headers or {})
        return UpstreamRequest("GET", url, out)
    body = to_native(op, payload)
    if body.get("stream"):
        out["Accept"] = "text/event-stream"
    out["Content-Type"] = "application/json"
    out.update(headers or {})
    return UpstreamRequest("POST", url, out, body)

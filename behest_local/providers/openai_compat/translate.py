"""Translation for OpenAI-compatible upstreams: near pass-through, plus per-profile quirks.

OpenAI and custom servers get the client's request as sent (with the routed model). Two
profiles need rewriting, both from providers.md:

* Mistral (§9.2, §9.6, pitfall 21) rejects unknown fields with 422 ``extra_forbidden`` and
  tool-call ids that are not 9 alphanumerics, so only its known fields are sent, ``seed``
  becomes ``random_seed``, ``max_completion_tokens`` becomes ``max_tokens``, and foreign
  tool-call ids are rewritten by a stable hash (the same id maps to the same 9 characters in
  the assistant turn and in its tool result, with no state kept between requests);
  embeddings send ``dimensions`` as ``output_dimension`` and only its known fields.
* OpenRouter (§10) reports errors with a numeric ``code``.

Responses are normalised so the client always sees OpenAI's shape: ``model_length`` →
``length`` (§9.3), a tool call's ``arguments`` object → JSON string, ``total_tokens``
filled in; a ``finish_reason: "error"`` is an upstream failure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from behest_local.errors import UpstreamError
from behest_local.providers.shapes import (
    load_error_body,
    raw_message,
    requested_max_tokens,
    upstream_error,
)

# Mistral's ChatCompletionRequest fields (§9.2); anything else is a 422.
MISTRAL_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop",
    "random_seed", "metadata", "response_format", "tools", "tool_choice", "presence_penalty",
    "frequency_penalty", "n", "prediction", "parallel_tool_calls", "reasoning_effort",
    "prompt_mode", "safe_prompt", "prompt_cache_key",
})
MISTRAL_MESSAGE_FIELDS = {
    "system": ("role", "content"),
    "user": ("role", "content"),
    "assistant": ("role", "content", "tool_calls", "prefix"),
    "tool": ("role", "content", "tool_call_id", "name"),
}
MISTRAL_EMBED_FIELDS = frozenset({"model", "input", "metadata", "output_dimension",
                                  "output_dtype", "encoding_format"})
MISTRAL_ID = re.compile(r"^[A-Za-z0-9]{9}$")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

FINISH_REASONS = {"model_length": "length"}


def to_native(op: str, payload, profile) -> dict:
    """The JSON body for ``op`` (``"chat"`` or ``"embed"``)."""
    if op == "embed":
        body = {**payload.body, "model": payload.model}
        return mistral_embed_body(body) if profile.strict_fields else body
    body = {**payload.request, "model": payload.model}
    if body.get("stream") and profile.usage_always_on:
        # Ask for usage even if the client did not, so the gateway can record it; the stream
        # translator hides the usage chunk from a client that did not ask (§1.4).
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    if profile.strict_fields:
        body = mistral_body(body)
    return body


def mistral_body(body: dict) -> dict:
    """Reduce an OpenAI request to what Mistral accepts (§9.6)."""
    body = dict(body)
    if "seed" in body:
        body.setdefault("random_seed", body.pop("seed"))
    limit = requested_max_tokens(body)
    body.pop("max_completion_tokens", None)
    if limit is not None:
        body["max_tokens"] = limit
    if body.get("tool_choice") == "required":
        body["tool_choice"] = "any"  # equivalent, and accepted by every Mistral model (§9.2)
    out = {k: v for k, v in body.items() if k in MISTRAL_FIELDS}
    out["messages"] = [_mistral_message(m) for m in body["messages"]]
    return out


def mistral_embed_body(body: dict) -> dict:
    """Mistral's EmbeddingRequest: ``dimensions`` is ``output_dimension``, and ``user`` (not
    a field there) would be a 422 ``extra_forbidden``."""
    out = {k: v for k, v in body.items() if k in MISTRAL_EMBED_FIELDS}
    if body.get("dimensions") is not None:
        out["output_dimension"] = body["dimensions"]
    return out


def _mistral_message(message: Mapping) -> dict:
    role = "system" if message["role"] == "developer" else message["role"]
    keep = MISTRAL_MESSAGE_FIELDS.get(role, tuple(message))
    out = {k: v for k, v in message.items() if k in keep}
    out["role"] = role
    if out.get("tool_calls"):
        out["tool_calls"] = [{**c, "id": mistral_tool_id(c["id"])} for c in out["tool_calls"]]
    if "tool_call_id" in out:
        out["tool_call_id"] = mistral_tool_id(out["tool_call_id"])
    return out


def mistral_tool_id(original: str) -> str:
    """``original`` if Mistral accepts it, else 9 alphanumerics derived from it (stable)."""
    if MISTRAL_ID.match(original):
        return original
    number = int.from_bytes(hashlib.sha256(original.encode()).digest()[:8], "big")
    chars = []
    for _ in range(9):
        number, digit = divmod(number, 62)
        chars.append(_ALNUM[digit])
    return "".join(chars)


def from_native(op: str, body: dict, call=None) -> dict:
    """The OpenAI response for a native one (``op``: chat, embed or models)."""
    if op != "chat":
        return body
    for choice in body.get("choices") or []:
        choice["finish_reason"] = finish_reason(choice.get("finish_reason"), body)
        choice.setdefault("logprobs", None)
        message = choice.get("message") or {}
        for tool_call in message.get("tool_calls") or []:
            tool_call.setdefault("type", "function")
            fn = tool_call.get("function") or {}
            if not isinstance(fn.get("arguments", ""), str):
                fn["arguments"] = json.dumps(fn["arguments"], ensure_ascii=False)
        if message.get("tool_calls") is None:
            message.pop("tool_calls", None)
    body.setdefault("object", "chat.completion")
    usage = body.get("usage")
    if isinstance(usage, dict) and usage.get("total_tokens") is None:
        usage["total_tokens"] = (usage.get("prompt_tokens") or 0) + (
            usage.get("completion_tokens") or 0)
    return body


def as_sent(body: object) -> bool:
    """Whether ``from_native("chat", body)`` would return ``body`` unchanged (so the reply
    can go to the client as the upstream wrote it). Any doubt answers False."""
    if type(body) is not dict or "object" not in body:
        return False
    usage = body.get("usage")
    if type(usage) is dict and usage.get("total_tokens") is None:
        return False
    choices = body.get("choices")
    if not choices:
        return True
    if type(choices) is not list:
        return False
    for choice in choices:
        if type(choice) is not dict or "logprobs" not in choice or "finish_reason" not in choice:
            return False
        reason = choice["finish_reason"]
        if reason is not None and (type(reason) is not str or reason == "error"
                                   or reason in FINISH_REASONS):
            return False
        message = choice.get("message")
        if not message:
            continue
        if type(message) is not dict:
            return False
        calls = message.get("tool_calls", ())
        if calls is None:  # a null is dropped
            return False
        if calls:
            if type(calls) is not list:
                return False
            for call in calls:
                if type(call) is not dict or "type" not in call:
                    return False
                fn = call.get("function")
                if fn and (type(fn) is not dict or type(fn.get("arguments", "")) is not str):
                    return False
    return True


def finish_reason(value: str | None, body: Mapping) -> str | None:
    """OpenAI's finish_reason for a native one; ``error`` is a failure (§9.3, §10.3)."""
    if value == "error":
        raise in_band_error(body)
    return FINISH_REASONS.get(value, value)


def in_band_error(body: Mapping) -> UpstreamError:
    """The failure an in-band ``error`` object reports (OpenRouter: numeric ``code``)."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 502
    return upstream_error(status, str(error.get("message") or "the upstream model failed"),
                          code=code if not isinstance(code, int) else error.get("type"))


def error_from_native(status: int, body: bytes, headers: Mapping[str, str] | None = None
                      ) -> UpstreamError:
    """An ``UpstreamError`` from an error response of any OpenAI-compatible upstream.

    Shapes handled: OpenAI ``{"error": {message, type, param, code}}`` (§1.5), OpenRouter's
    numeric ``code`` with ``metadata`` (§10.5), Mistral's ``{"object": "error", message,
    type, code}`` whose 422 ``message`` is an object or a JSON string (§9.5), FastAPI-style
    ``{"detail": …}`` from local servers, and non-JSON bodies.
    """
    data = load_error_body(body)
    if not isinstance(data, dict):
        return upstream_error(status, raw_message(status, body), headers=headers)
    error = data.get("error") if isinstance(data.get("error"), dict) else data
    message = error.get("message", error.get("detail"))
    if isinstance(message, str) and message.startswith("{"):
        message = load_error_body(message.encode()) or message
    if isinstance(message, (dict, list)):
        message = validation_message(message)
    code = error.get("code")
    if isinstance(code, int) or code is None:
        code = error.get("type") or (None if code is None else code)
    return upstream_error(status, str(message or raw_message(status, body)), code=code,
                          headers=headers)


def validation_message(detail: object) -> str:
    """``loc: msg`` lines of a pydantic/FastAPI validation error (Mistral's 422, §9.5)."""
    if isinstance(detail, dict):
        detail = detail.get("detail", detail)
    if not isinstance(detail, list):
        return json.dumps(detail)
    parts = []
    for item in detail:
        if isinstance(item, dict):
            where = ".".join(str(p) for p in item.get("loc") or ())
            parts.append(f"{where}: {item.get('msg', '')}".strip(": "))
    return "; ".join(parts) or json.dumps(detail)

"""Cohere v2 Chat ⇄ OpenAI chat completions: request, response, error translation.

Cohere v2's messages and tools are close to OpenAI's (providers.md §8.2), so ``to_native``
mostly renames: ``stop`` → ``stop_sequences``, ``top_p`` → ``p``, assistant text beside
tool calls → ``tool_plan``, ``tool_choice`` → ``"REQUIRED"``/``"NONE"`` (a named choice
becomes ``REQUIRED`` with only that tool sent, §8.6), ``response_format`` json_schema →
``{"type": "json_object", "json_schema": schema}``. ``from_native`` builds the
``chat.completion`` (§8.6) and ``error_from_native`` maps ``{"message": …}`` bodies (§8.5).
Embeddings (``/v2/embed``) and the models list translate here too. Pure, no I/O.

Choices:
* usage comes from the ``tokens`` bucket (what the model processed, template included, as
  OpenAI counts) and falls back to ``billed_units`` when it is absent (pitfall 12);
* ``tool_plan`` (the model's note on why it calls tools) is not the answer, so it is not
  sent as ``content``;
* ``finish_reason`` ``ERROR``/``TIMEOUT`` are upstream failures (502/504), not stops;
* 498 (Cohere's "invalid token") reaches the client as 401, the status OpenAI clients
  know for a bad key.
"""

from __future__ import annotations

from collections.abc import Mapping

from behest_local.errors import InvalidRequestError, UpstreamError
from behest_local.providers import shapes
from behest_local.providers.shapes import requested_max_tokens, text_of

FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
                  "TOOL_CALL": "tool_calls"}
FAILURE_STATUS = {"ERROR": 502, "TIMEOUT": 504}
_RENAMED = (("temperature", "temperature"), ("top_p", "p"), ("seed", "seed"),
            ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty"))
# OpenAI embeddings are symmetric; Cohere's v3+ models need an input type, and documents
# is the one that serves both storing and (reasonably) querying.
EMBED_INPUT_TYPE = "search_document"


def to_native(op: str, payload) -> dict:
    if op == "embed":
        body = {"model": payload.model, "texts": shapes.embedding_texts(payload.body, "Cohere"),
                "input_type": EMBED_INPUT_TYPE, "embedding_types": ["float"]}
        if payload.body.get("dimensions"):
            body["output_dimension"] = payload.body["dimensions"]
        return body
    request = payload.request
    if (request.get("n") or 1) > 1:
        raise InvalidRequestError("Cohere models return one choice: n must be 1.", param="n")
    if request.get("logprobs"):
        raise InvalidRequestError("logprobs are not translated for Cohere.", param="logprobs")
    if request.get("functions") or request.get("function_call"):
        raise InvalidRequestError("Use tools and tool_choice; the legacy functions API is "
                                  "not translated for Cohere.", param="functions")
    body: dict = {"model": payload.model,
                  "messages": [m for m in map(_message, request["messages"]) if m]}
    body.update({native: request[ours] for ours, native in _RENAMED
                 if request.get(ours) is not None})
    if requested_max_tokens(request) is not None:
        body["max_tokens"] = requested_max_tokens(request)
    if shapes.stop_list(request):
        body["stop_sequences"] = shapes.stop_list(request)
    tools, choice = request.get("tools") or [], request.get("tool_choice")
    if isinstance(choice, dict):
        tools = [t for t in tools if t["function"]["name"] == choice["function"]["name"]]
        choice = "required"
    if tools and choice != "none":
        body["tools"] = [{"type": "function", "function": t["function"]} for t in tools]
    if choice in ("required", "none") and (tools or choice == "none"):
        body["tool_choice"] = choice.upper()
    fmt = request.get("response_format") or {}
    if fmt.get("type") == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif fmt.get("type") == "json_schema":
        body["response_format"] = {"type": "json_object",
                                   "json_schema": fmt["json_schema"].get("schema", {})}
    if request.get("stream"):
        body["stream"] = True
    return body


def _message(message: Mapping) -> dict | None:
    role = message["role"]
    if role in ("system", "developer"):
        return {"role": "system", "content": text_of(message.get("content"))}
    if role == "tool":
        return {"role": "tool", "tool_call_id": message["tool_call_id"],
                "content": text_of(message.get("content"))}
    if role == "assistant":
        text = text_of(message.get("content"))
        calls = message.get("tool_calls")
        if calls:
            out = {"role": "assistant", "tool_calls": [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["function"]["name"],
                              "arguments": c["function"].get("arguments") or "{}"}}
                for c in calls]}
            if text:
                out["tool_plan"] = text
            return out
        return {"role": "assistant", "content": text} if text else None
    if role == "user":
        content = message.get("content")
        if isinstance(content, list):  # text and image_url parts share OpenAI's shape
            content = [{"type": "text", "text": p["text"]} if p.get("type") == "text" else p
                       for p in content]
        return {"role": "user", "content": content}
    raise InvalidRequestError(f"Role {role!r} is not translated for Cohere.", param="messages")


def from_native(op: str, body: dict, call=None) -> dict:
    if op == "embed":
        tokens = ((body.get("meta") or {}).get("billed_units") or {}).get("input_tokens") or 0
        return shapes.embeddings((body.get("embeddings") or {}).get("float") or [],
                                 model=call.model, prompt_tokens=int(tokens),
                                 encoding_format=call.body.get("encoding_format"))
    if op == "models":
        return {"object": "list", "data": [
            {"id": m["name"], "object": "model", "created": 0, "owned_by": "cohere"}
            for m in body.get("models", [])]}
    message = body.get("message") or {}
    text = "".join(p.get("text", "") for p in message.get("content") or []
                   if p.get("type", "text") == "text")
    calls = [shapes.tool_call(c["id"], c["function"]["name"], c["function"].get("arguments")
                              or "{}") for c in message.get("tool_calls") or []]
    return shapes.completion(
        id=body.get("id") or shapes.completion_id(), model=call.model if call else "",
        choices=[{"index": 0, "message": shapes.message(text if text or not calls else None, calls),
                  "finish_reason": finish_reason(body.get("finish_reason"), None)}],
        usage=usage(body.get("usage") or {}))


def finish_reason(reason: str | None, error: object) -> str:
    """§8.6; the enum is open, so unknown values are a plain stop."""
    if reason in FAILURE_STATUS:
        raise UpstreamError(str(error or f"Cohere ended the turn with {reason}."),
                            status=FAILURE_STATUS[reason], code=reason.lower())
    return FINISH_REASONS.get(reason or "COMPLETE", "stop")


def usage(native: Mapping) -> dict:
    bucket = native.get("tokens") or native.get("billed_units") or {}
    return shapes.usage(int(bucket.get("input_tokens") or 0), int(bucket.get("output_tokens") or 0),
                        cached=int(native.get("cached_tokens") or 0))


def error_from_native(status: int, body: bytes, headers: Mapping[str, str] | None = None
                      ) -> UpstreamError:
    data = shapes.load_error_body(body)
    message = data.get("message") if isinstance(data, dict) else None
    if not message:
        message = shapes.raw_message(status, body)
    if status == 498:  # Cohere's "invalid token"
        return shapes.upstream_error(401, str(message), code="invalid_api_key", headers=headers)
    return shapes.upstream_error(status, str(message), headers=headers)

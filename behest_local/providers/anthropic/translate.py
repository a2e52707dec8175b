"""Anthropic Messages ⇄ OpenAI chat completions: request, response and error translation.

``to_native`` turns a validated OpenAI chat request into a Messages API body
(providers.md §6.6), ``from_native`` turns a Message into a ``chat.completion`` (§6.7), and
``error_from_native`` maps Anthropic's error envelope (§6.5) to ``UpstreamError`` with the
upstream's status and message. Streams are ``stream.py``'s. Pure, no I/O.

Choices made where the APIs differ (each a pitfall of §12):
* system/developer messages, wherever they are, become the top-level ``system``;
* consecutive ``tool`` messages become one user message of ``tool_result`` blocks, and a
  user message right after them joins it (pitfall 15: every ``tool_use`` needs its result
  in the next message);
* empty assistant text is never sent as a block (pitfall 14); an assistant turn with
  neither text nor tool calls is dropped;
* ``max_tokens`` is required upstream, so it defaults to ``DEFAULT_MAX_TOKENS``;
* what cannot be expressed is a 400 naming the parameter (``n>1``, ``logprobs``,
  ``temperature`` above 1, ``response_format: json_object``); sampling hints Anthropic
  lacks (``seed``, penalties, ``logit_bias``) are dropped, as they change no output shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from behest_local.dialects.messages_wire import ERROR_STATUS, FINISH_REASONS, prompt_tokens
from behest_local.errors import InvalidRequestError, UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers import shapes
from behest_local.providers.shapes import requested_max_tokens, text_of

DEFAULT_MAX_TOKENS = 4096


# OpenAI's reasoning_effort levels as Anthropic's effort levels ("none" asks for none: omitted).
EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high"}


def to_native(op: str, call: ChatCall) -> dict:
    request = call.request
    _reject_unsupported(request)
    system, messages = convert_messages(request["messages"])
    body: dict = {"model": call.model, "messages": messages,
                  "max_tokens": requested_max_tokens(request) or DEFAULT_MAX_TOKENS}
    if system:
        body["system"] = system
    for name in ("temperature", "top_p"):
        if request.get(name) is not None:
            body[name] = request[name]
    stops = [s for s in shapes.stop_list(request) if s.strip()]  # whitespace-only is a 400
    if stops:
        body["stop_sequences"] = stops
    if request.get("tools"):
        body["tools"] = [_tool(t["function"]) for t in request["tools"]]
    choice = _tool_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
    if choice and (request.get("tools") or choice["type"] == "none"):
        body["tool_choice"] = choice
    user = request.get("user") or request.get("safety_identifier")
    if isinstance(user, str) and user and "@" not in user:  # Anthropic rejects e-mails
        body["metadata"] = {"user_id": user}
    fmt = request.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        body["output_config"] = {"format": {"type": "json_schema",
                                            "schema": fmt["json_schema"].get("schema", {})}}
    effort = EFFORT.get(request.get("reasoning_effort"))
    if effort:  # §6.6: reasoning_effort is output_config.effort
        body["output_config"] = {**body.get("output_config", {}), "effort": effort}
    if request.get("stream"):
        body["stream"] = True
    return body


def _reject_unsupported(request: Mapping) -> None:
    if (request.get("n") or 1) > 1:
        raise InvalidRequestError("Anthropic models return one choice: n must be 1.", param="n")
    if request.get("logprobs"):
        raise InvalidRequestError("Anthropic models do not return logprobs.", param="logprobs")
    if request.get("functions") or request.get("function_call"):
        raise InvalidRequestError("Use tools and tool_choice; the legacy functions API is "
                                  "not translated for Anthropic.", param="functions")
    temperature = request.get("temperature")
    if temperature is not None and temperature > 1:
        raise InvalidRequestError(f"Anthropic accepts temperature from 0 to 1, got "
                                  f"{temperature}.", param="temperature")
    if (request.get("response_format") or {}).get("type") == "json_object":
        raise InvalidRequestError("Anthropic has no JSON mode without a schema: use "
                                  "response_format type json_schema.", param="response_format")


def convert_messages(messages: list[dict]) -> tuple[str, list[dict]]:
    """``(system, messages)`` in Anthropic's form. See the module docstring."""
    system: list[str] = []
    out: list[dict] = []
    results: dict | None = None  # the user message collecting consecutive tool results
    for i, message in enumerate(messages):
        role = message["role"]
        if role in ("system", "developer"):
            system.append(text_of(message.get("content")))
        elif role == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"],
                     "content": text_of(message.get("content"))}
            if results is None:
                results = {"role": "user", "content": []}
                out.append(results)
            results["content"].append(block)
        elif role == "user":
            blocks = user_blocks(message.get("content"), f"messages[{i}].content")
            if results is not None:
                results["content"] += ([{"type": "text", "text": blocks}]
                                       if isinstance(blocks, str) else blocks)
            else:
                out.append({"role": "user", "content": blocks})
            results = None
        elif role == "assistant":
            results = None
            content = _assistant_content(message, i)
            if content:
                out.append({"role": "assistant", "content": content})
        else:
            raise InvalidRequestError(f"Role {role!r} is not translated for Anthropic.",
                                      param=f"messages[{i}].role")
    return "\n\n".join(s for s in system if s), out


def user_blocks(content: object, where: str) -> str | list[dict]:
    if isinstance(content, str):
        return content
    blocks = []
    for j, part in enumerate(content or []):
        kind = part.get("type")
        if kind == "text":
            if part["text"]:
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            blocks.append({"type": "image", "source": image_source(part["image_url"]["url"])})
        else:
            raise InvalidRequestError(f"Content part type {kind!r} is not translated for "
                                      "Anthropic.", param=f"{where}[{j}].type")
    return blocks


def image_source(url: str) -> dict:
    """An image block source: base64 for a ``data:`` URI, else a URL source (§6.6)."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0] or "image/png"
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": url}


def _assistant_content(message: Mapping, i: int) -> str | list[dict]:
    text = text_of(message.get("content"))
    calls = message.get("tool_calls") or []
    if not calls:
        return text
    blocks = [{"type": "text", "text": text}] if text else []
    for j, call in enumerate(calls):
        where = f"messages[{i}].tool_calls[{j}].function.arguments"
        blocks.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                       "input": shapes.arguments_object(call["function"].get("arguments"), where)})
    return blocks


def _tool(function: Mapping) -> dict:
    tool = {"name": function["name"],
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description"):
        tool["description"] = function["description"]
    return tool


def _tool_choice(choice: object, parallel: object) -> dict | None:
    """§11.3; ``parallel_tool_calls: false`` is the inverse ``disable_parallel_tool_use``."""
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict):
        out = {"type": "tool", "name": choice["function"]["name"]}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "auto" or parallel is False:
        out = {"type": "auto"}
    else:
        return None
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def from_native(op: str, body: dict, call: ChatCall | None = None) -> dict:
    """A ``chat.completion`` for a Message (``op="chat"``), or OpenAI models for a list."""
    if op == "models":
        return {"object": "list", "data": [
            {"id": m["id"], "object": "model", "created": 0, "owned_by": "anthropic"}
            for m in body.get("data", [])]}
    text, tool_calls = "", []
    for block in body.get("content") or []:
        if block.get("type") == "text":
            text += block.get("text", "")
        elif block.get("type") == "tool_use":
            tool_calls.append(shapes.tool_call(block["id"], block["name"], json.dumps(
                block.get("input") or {}, ensure_ascii=False)))
    reason = FINISH_REASONS.get(body.get("stop_reason"), "stop")
    content = text if text or not tool_calls else None
    return shapes.completion(
        id=body.get("id") or shapes.completion_id(),
        model=body.get("model") or (call.model if call else ""),
        choices=[{"index": 0, "message": shapes.message(content, tool_calls),
                  "finish_reason": reason}],
        usage=usage(body.get("usage") or {}))


def usage(native: Mapping) -> dict:
    """§6.7: ``input_tokens`` excludes cache reads and writes, OpenAI's prompt includes them."""
    written = native.get("cache_creation_input_tokens") or 0
    read = native.get("cache_read_input_tokens") or 0
    return shapes.usage(prompt_tokens(native), native.get("output_tokens") or 0, cached=read,
                        cache_write=written or None)


def error_from_native(status: int, body: bytes, headers: Mapping[str, str] | None = None
                      ) -> UpstreamError:
    data = shapes.load_error_body(body)
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return shapes.upstream_error(status, shapes.raw_message(status, body), headers=headers)
    return shapes.upstream_error(status, str(error.get("message") or ""), code=error.get("type"),
                                 headers=headers)


def stream_error(error: Mapping) -> UpstreamError:
    """An ``event: error`` inside a 200 stream (§6.4), with the status its type implies."""
    kind = error.get("type") or "api_error"
    return shapes.upstream_error(ERROR_STATUS.get(kind, 500), str(error.get("message") or kind),
                                 code=kind)

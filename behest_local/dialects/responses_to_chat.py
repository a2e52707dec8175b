"""``POST /v1/responses`` request side, second half: a validated body as a chat request.

``responses_request.validate_responses_request`` has already refused what is malformed or
unsupported, so the mapping here trusts the shapes it reads. Mapping rules follow the
Chat ↔ Responses table in providers.md §5.4: ``instructions`` becomes a leading system
message, ``input`` items become messages, tools and ``tool_choice`` are re-nested.
"""

from __future__ import annotations

from typing import Any

from behest_local.dialects.responses_request import TEXT_PART_TYPES

# Chat parameters that keep their name and meaning across the two dialects.
_CARRIED = ("model", "temperature", "top_p", "metadata", "user", "parallel_tool_calls",
            "safety_identifier", "prompt_cache_key")  # fmt: skip


def to_chat_request(body: dict) -> dict:
    """Translate a validated ``/v1/responses`` body into a chat completions request.

    ``instructions`` becomes a leading system message; ``input`` items become messages;
    tools and ``tool_choice`` are re-nested; ``max_output_tokens`` becomes
    ``max_completion_tokens``; ``text.format`` becomes ``response_format``. When
    streaming, ``stream_options.include_usage`` is forced on: the final
    ``response.completed`` event must carry usage.
    """
    messages: list[dict] = []
    if body.get("instructions") is not None:
        messages.append({"role": "system", "content": body["instructions"]})
    if isinstance(body["input"], str):
        messages.append({"role": "user", "content": body["input"]})
    else:
        for item in body["input"]:
            _append_item(messages, item)

    chat: dict = {"messages": messages}
    for key in _CARRIED:
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        chat["tools"] = [_chat_tool(tool) for tool in body["tools"]]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _chat_tool_choice(body["tool_choice"])
    text = body.get("text") or {}
    if text.get("format") is not None:
        chat["response_format"] = _chat_response_format(text["format"])
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        chat["reasoning_effort"] = effort
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _append_item(messages: list[dict], item: dict) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        messages.append(_chat_message(item))
    elif kind == "function_call":
        call = {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]},
        }
        # §5.4: function_call items are the assistant's tool_calls. A run of them, and a
        # preceding assistant text message, form one chat assistant turn (a chat assistant
        # message carries both content and tool_calls).
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item["output"]
        if isinstance(output, list):
            output = "".join(part["text"] for part in output)
        messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": output})
    # "reasoning" items carry an upstream's encrypted reasoning state, which no chat
    # provider can take: dropped, as chat-only bridges do.


def _chat_message(item: dict) -> dict:
    role, content = item["role"], item["content"]
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role == "assistant":
        # Chat assistant content is one string; the response text is the concatenation
        # of its output_text parts, so joining loses nothing.
        texts = [p["text"] for p in content if p["type"] in TEXT_PART_TYPES]
        refusals = [p["refusal"] for p in content if p["type"] == "refusal"]
        message: dict = {"role": "assistant", "content": "".join(texts) if texts else None}
        if refusals:
            message["refusal"] = "".join(refusals)
        return message
    return {"role": role, "content": [_chat_part(part) for part in content]}


def _chat_part(part: dict) -> dict:
    if part["type"] in TEXT_PART_TYPES:
        return {"type": "text", "text": part["text"]}
    image: dict = {"url": part["image_url"]}
    if part.get("detail") is not None:
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _chat_tool(tool: dict) -> dict:
    # §5.4: flat {type, name, description, parameters, strict} → nested under "function".
    function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    return {"type": "function", "function": {"name": choice["name"]}}


def _chat_response_format(fmt: dict) -> dict:
    if fmt["type"] != "json_schema":
        return {"type": fmt["type"]}
    schema = {k: fmt[k] for k in ("name", "description", "schema", "strict") if fmt.get(k) is not None}
    return {"type": "json_schema", "json_schema": schema}


__all__ = ["to_chat_request"]

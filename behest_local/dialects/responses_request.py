"""``POST /v1/responses`` request side, first half: validate the body.

Flow: the server parses the JSON body, calls ``validate_responses_request`` (400s come
from here), then ``responses_to_chat.to_chat_request``; the resulting chat request goes
through routing and a provider like any ``/v1/chat/completions`` call. The answer is
translated back by ``responses_stream`` (whole object or event stream).

Only function tools are emulated. The stateful fields are checked here for shape only:
``previous_response_id``, ``conversation`` and ``background`` are served by the gateway
(``server/routes/responses.py`` with ``stored/``), which expands the stored context into
``input`` before the mapping. Stored prompts and item references are refused with a 400
that says so, rather than silently ignored: a client relying on them would otherwise get
answers computed without its context.
"""

from __future__ import annotations

from typing import Any

from behest_local.dialects.checks import (
    check_bool,
    check_choice,
    check_int,
    check_metadata,
    check_number,
    check_object,
    check_str,
    check_stream_options,
    reject_unknown,
    require_body_object,
    wrong_type,
)
from behest_local.errors import InvalidRequestError

# Every top-level field of the SDK's ResponseCreateParams (openai-python 3.57), plus
# `stream`. Anything else is a 400, as OpenAI does.
_KNOWN_FIELDS = frozenset(
    {
        "access_programs", "background", "background_options", "context_management",
        "conversation", "image", "include", "input", "instructions", "max_output_tokens",
        "max_tool_calls", "metadata", "model", "moderation", "parallel_tool_calls",
        "previous_response_id", "prompt", "prompt_cache_key", "prompt_cache_options",
        "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier", "store",
        "stream", "stream_options", "temperature", "text", "tool_choice", "tools",
        "top_logprobs", "top_p", "truncation", "user",
    }
)  # fmt: skip

# Known fields that need state the local twin does not keep.
_STATEFUL_FIELDS = {
    "prompt": "Stored prompt templates are not supported locally. Send 'instructions' and 'input' instead.",
}

_MESSAGE_ROLES = ("user", "assistant", "system", "developer")
_TOOL_CHOICE_MODES = ("none", "auto", "required")
_IMAGE_DETAILS = ("low", "high", "auto", "original")
_REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
TEXT_PART_TYPES = ("input_text", "output_text")


def validate_responses_request(body: Any) -> dict:
    """Check a ``/v1/responses`` body; return a shallow copy, otherwise unchanged.

    Raises ``InvalidRequestError`` (400) naming the offending field in ``param``.
    """
    body = require_body_object(body)
    reject_unknown(body, _KNOWN_FIELDS)
    for field, message in _STATEFUL_FIELDS.items():
        if body.get(field) is not None:
            raise InvalidRequestError(message, param=field)
    _check_state(body)

    if body.get("input") is None:
        raise InvalidRequestError("Missing required parameter: 'input'.", param="input")
    _check_input(body["input"])

    for key in ("model", "instructions", "user", "safety_identifier", "prompt_cache_key", "service_tier"):
        check_str(body.get(key), key)
    for key in ("stream", "parallel_tool_calls", "store"):
        check_bool(body.get(key), key)
    check_int(body.get("max_output_tokens"), "max_output_tokens", minimum=1)
    check_int(body.get("max_tool_calls"), "max_tool_calls", minimum=1)
    check_int(body.get("top_logprobs"), "top_logprobs", minimum=0, maximum=20)
    check_number(body.get("temperature"), "temperature", minimum=0, maximum=2)
    check_number(body.get("top_p"), "top_p", minimum=0, maximum=1)
    check_metadata(body.get("metadata"))
    check_choice(body.get("truncation"), "truncation", ("auto", "disabled"))
    # Responses' stream_options only has include_obfuscation (ResponseCreateParams.StreamOptions).
    check_stream_options(body.get("stream_options"), body.get("stream"), ("include_obfuscation",))
    _check_include(body.get("include"))
    _check_reasoning(body.get("reasoning"))
    _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"))
    _check_text(body.get("text"))
    return dict(body)


# --------------------------------------------------------------------------- validation


def _check_state(body: dict) -> None:
    """``previous_response_id``, ``conversation``, ``background`` and ``store`` together."""
    previous, conversation = body.get("previous_response_id"), body.get("conversation")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise wrong_type("previous_response_id", "a non-empty string", previous)
    if conversation is not None:
        conversation_id(conversation)
        if previous is not None:
            raise InvalidRequestError(
                "'previous_response_id' and 'conversation' cannot be used together: chain "
                "with one or the other.", param="conversation")
    check_bool(body.get("background"), "background")
    if body.get("background"):
        if body.get("store") is False:
            raise InvalidRequestError(
                "Background responses must be stored (they are polled by id): omit 'store' "
                "or set it to true.", param="store")
        if body.get("stream"):
            raise InvalidRequestError(
                "Streaming a background response is not supported locally: send "
                "'background': true and poll GET /v1/responses/{id}, or stream without "
                "'background'.", param="background")


def conversation_id(value: Any) -> str:
    """The id in a ``conversation`` field (``"conv_…"`` or ``{"id": "conv_…"}``)."""
    if isinstance(value, dict):
        value = value.get("id")
        if not isinstance(value, str) or not value:
            raise wrong_type("conversation.id", "a non-empty string", value)
        return value
    if not isinstance(value, str) or not value:
        raise wrong_type("conversation", "a string or an object with an 'id'", value)
    return value


def _check_input(value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise wrong_type("input", "a string or an array of input items", value)
    if not value:
        raise InvalidRequestError("Invalid 'input': empty array. Expected at least one item.", param="input")
    for i, item in enumerate(value):
        check_item(item, f"input[{i}]")


def check_item(item: Any, param: str) -> None:
    """One input item (a message, a function call or its output), as ``input`` takes it."""
    if not isinstance(item, dict):
        raise wrong_type(param, "an object", item)
    kind = item.get("type", "message")
    if kind == "message":
        _check_message(item, param)
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise wrong_type(f"{param}.{key}", "a string", item.get(key))
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise wrong_type(f"{param}.call_id", "a string", item.get("call_id"))
        _check_call_output(item.get("output"), f"{param}.output")
    elif kind == "reasoning":
        return  # replayed from an upstream's output; dropped in mapping (see _append_item)
    elif kind == "item_reference":
        raise InvalidRequestError(
            "Item references are not supported locally: send the item itself, or chain with "
            "'previous_response_id' or 'conversation'.",
            param=f"{param}.type",
        )
    else:
        raise InvalidRequestError(
            f"Input item type {kind!r} is not supported locally: only messages, 'function_call' and "
            "'function_call_output' items are emulated.",
            param=f"{param}.type",
        )


def _check_message(item: dict, param: str) -> None:
    role = item.get("role")
    if role not in _MESSAGE_ROLES:
        raise InvalidRequestError(
            f"Invalid value for '{param}.role': expected one of {', '.join(_MESSAGE_ROLES)}, but got {role!r}.",
            param=f"{param}.role",
        )
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise wrong_type(f"{param}.content", "a string or an array of content parts", content)
    for j, part in enumerate(content):
        _check_part(part, f"{param}.content[{j}]", role)


def _check_part(part: Any, param: str, role: str) -> None:
    if not isinstance(part, dict):
        raise wrong_type(param, "an object", part)
    kind = part.get("type")
    if kind in TEXT_PART_TYPES:
        if not isinstance(part.get("text"), str):
            raise wrong_type(f"{param}.text", "a string", part.get("text"))
    elif kind == "refusal" and role == "assistant":
        if not isinstance(part.get("refusal"), str):
            raise wrong_type(f"{param}.refusal", "a string", part.get("refusal"))
    elif kind == "input_image" and role != "assistant":
        if part.get("file_id") is not None:
            raise InvalidRequestError(
                "Images by 'file_id' are not supported locally (there is no Files API); use 'image_url'.",
                param=f"{param}.file_id",
            )
        if not isinstance(part.get("image_url"), str):
            raise wrong_type(f"{param}.image_url", "a string", part.get("image_url"))
        check_choice(part.get("detail"), f"{param}.detail", _IMAGE_DETAILS)
    else:
        expected = "'output_text', 'input_text' or 'refusal'"
        if role != "assistant":
            expected = "'input_text' or 'input_image'"
        raise InvalidRequestError(
            f"Content part type {kind!r} is not supported locally in a {role!r} message: expected {expected}.",
            param=f"{param}.type",
        )


def _check_call_output(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise wrong_type(param, "a string or an array of 'input_text' parts", value)
    for j, part in enumerate(value):
        if not (isinstance(part, dict) and part.get("type") == "input_text" and isinstance(part.get("text"), str)):
            raise InvalidRequestError(
                "Only text function call outputs are supported locally: expected 'input_text' parts.",
                param=f"{param}[{j}]",
            )


def _check_include(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise wrong_type("include", "an array of strings", value)


def _check_reasoning(value: Any) -> None:
    check_object(value, "reasoning")
    if value:
        check_choice(value.get("effort"), "reasoning.effort", _REASONING_EFFORTS)


def _check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array", tools)
    for i, tool in enumerate(tools):
        param = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise wrong_type(param, "an object", tool)
        if tool.get("type") != "function":
            raise InvalidRequestError(
                f"Tool type {tool.get('type')!r} is not supported locally: only function tools "
                "({'type': 'function', 'name': ...}) are emulated.",
                param=f"{param}.type",
            )
        if "function" in tool:
            # A chat-style nested tool sent to /v1/responses; OpenAI rejects it too.
            raise InvalidRequestError(
                "Function tools are flat in the Responses API: put 'name', 'parameters' and "
                "'description' directly on the tool, not under 'function'.",
                param=f"{param}.function",
            )
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise InvalidRequestError(f"Missing required parameter: '{param}.name'.", param=f"{param}.name")
        check_str(tool.get("description"), f"{param}.description")
        check_object(tool.get("parameters"), f"{param}.parameters")
        check_bool(tool.get("strict"), f"{param}.strict")


def _check_tool_choice(value: Any) -> None:
    if value is None or value in _TOOL_CHOICE_MODES:
        return
    if isinstance(value, str):
        check_choice(value, "tool_choice", _TOOL_CHOICE_MODES)
    if not isinstance(value, dict):
        raise wrong_type("tool_choice", "a string or an object", value)
    if value.get("type") != "function":
        raise InvalidRequestError(
            f"tool_choice type {value.get('type')!r} is not supported locally: only 'none', 'auto', "
            "'required' and {'type': 'function', 'name': ...} are emulated.",
            param="tool_choice.type",
        )
    if not isinstance(value.get("name"), str) or not value["name"]:
        raise InvalidRequestError("Missing required parameter: 'tool_choice.name'.", param="tool_choice.name")


def _check_text(text: Any) -> None:
    check_object(text, "text")
    if not text:
        return
    check_choice(text.get("verbosity"), "text.verbosity", ("low", "medium", "high"))
    fmt = text.get("format")
    if fmt is None:
        return
    if not isinstance(fmt, dict):
        raise wrong_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    check_choice(kind, "text.format.type", ("text", "json_object", "json_schema"))
    if kind is None:
        raise InvalidRequestError("Missing required parameter: 'text.format.type'.", param="text.format.type")
    if kind == "json_schema":
        if not isinstance(fmt.get("name"), str) or not fmt["name"]:
            raise InvalidRequestError("Missing required parameter: 'text.format.name'.", param="text.format.name")
        if not isinstance(fmt.get("schema"), dict):
            if fmt.get("schema") is None:
                raise InvalidRequestError(
                    "Missing required parameter: 'text.format.schema'.", param="text.format.schema"
                )
            raise wrong_type("text.format.schema", "an object", fmt["schema"])
        check_str(fmt.get("description"), "text.format.description")
        check_bool(fmt.get("strict"), "text.format.strict")


__all__ = ["check_item", "conversation_id", "validate_responses_request"]

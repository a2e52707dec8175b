"""Validation of OpenAI chat completions requests: the gateway's own dialect.

``validate_chat_request`` is the single gate every ``POST /v1/chat/completions`` body
passes before routing. It checks what OpenAI checks (types, ranges, required fields,
message shapes, tool definitions, ``response_format``) and raises ``InvalidRequestError``
with OpenAI's message style and the ``param`` path at fault (``messages[2].tool_call_id``),
so a client's bug is reported the way the real API reports it. The body is returned
unchanged: providers receive exactly what the client sent.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from behest_local.errors import InvalidRequestError

# Every request field of OpenAI's CompletionCreateParams (reference/providers.md §1.2).
KNOWN_FIELDS = frozenset({
    "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
    "logit_bias", "logprobs", "top_logprobs", "max_completion_tokens", "max_tokens",
    "metadata", "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
    "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice",
    "tools", "top_p", "user", "verbosity", "web_search_options",
})
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
PART_TYPES = ("text", "image_url", "input_audio", "file", "refusal")
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def invalid(message: str, param: str | None, code: str | None = None) -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a decimal", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def expect(value: Any, kinds: tuple[type, ...], param: str, what: str) -> None:
    # bool is an int in Python but not in JSON.
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        raise invalid(f"Invalid type for '{param}': expected {what}, but got "
                      f"{type_name(value)} instead.", param, "invalid_type")


def number(body: dict, key: str, low: float, high: float, *, integer: bool = False) -> None:
    if body.get(key) is None:
        return
    value = body[key]
    expect(value, (int,) if integer else (int, float), key, "an integer" if integer else "a decimal")
    if not low <= value <= high:
        bound = f"{low:g}" if high == float("inf") else f"{low:g} and {high:g}"
        relation = "greater than or equal to" if high == float("inf") else "between"
        raise invalid(f"Invalid value for '{key}': must be {relation} {bound}, got {value}.",
                      key, "invalid_value")


def reject_unknown(body: dict, known: frozenset[str]) -> None:
    for key in body:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise invalid(f"Unrecognized request argument supplied: {key}.{hint}", key,
                          "unknown_parameter")


def validate_chat_request(body: Any) -> dict:
    """Check a chat completions body; return it unchanged or raise ``InvalidRequestError``."""
    if not isinstance(body, dict):
        raise invalid(f"The request body must be a JSON object, got {type_name(body)}.", None)
    reject_unknown(body, KNOWN_FIELDS)
    if "messages" not in body:
        raise invalid("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    model = body.get("model")
    if model is not None:
        expect(model, (str,), "model", "a string")
    _messages(body["messages"])
    number(body, "temperature", 0, 2)
    number(body, "top_p", 0, 1)
    number(body, "presence_penalty", -2, 2)
    number(body, "frequency_penalty", -2, 2)
    number(body, "n", 1, 128, integer=True)
    number(body, "max_tokens", 1, float("inf"), integer=True)
    number(body, "max_completion_tokens", 1, float("inf"), integer=True)
    number(body, "seed", -(2**63), 2**63 - 1, integer=True)
    number(body, "top_logprobs", 0, 20, integer=True)
    for key in ("stream", "logprobs", "parallel_tool_calls", "store"):
        if body.get(key) is not None:
            expect(body[key], (bool,), key, "a boolean")
    for key in ("user", "service_tier", "reasoning_effort", "prompt_cache_key",
                "safety_identifier", "verbosity"):
        if body.get(key) is not None:
            expect(body[key], (str,), key, "a string")
    for key in ("logit_bias", "audio", "prediction", "web_search_options"):
        if body.get(key) is not None:
            expect(body[key], (dict,), key, "an object")
    _stop(body.get("stop"))
    _stream_options(body)
    _metadata(body.get("metadata"))
    tool_names = _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"), tool_names, "tools" in body and body["tools"] is not None)
    _response_format(body.get("response_format"))
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise invalid("Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
                      "'top_logprobs' is used.", "top_logprobs", "invalid_value")
    return body


def _messages(messages: Any) -> None:
    expect(messages, (list,), "messages", "an array")
    if not messages:
        raise invalid("Invalid 'messages': empty array. Expected an array with minimum length 1, "
                      "but got an empty array instead.", "messages", "empty_array")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        expect(message, (dict,), where, "an object")
        role = message.get("role")
        if role is None:
            raise invalid(f"Missing required parameter: '{where}.role'.", f"{where}.role",
                          "missing_required_parameter")
        if role not in ROLES:
            raise invalid(f"Invalid value: '{role}'. Supported values are: "
                          + ", ".join(f"'{r}'" for r in ROLES) + ".", f"{where}.role", "invalid_value")
        if "content" not in message and role != "assistant":
            raise invalid(f"Missing required parameter: '{where}.content'.", f"{where}.content",
                          "missing_required_parameter")
        content = message.get("content")
        if content is None and role != "assistant":
            raise invalid(f"Invalid type for '{where}.content': expected a string or an array of "
                          "content parts, but got null instead.", f"{where}.content", "invalid_type")
        if content is not None:
            _content(content, f"{where}.content")
        if message.get("name") is not None:
            expect(message["name"], (str,), f"{where}.name", "a string")
        if role == "tool":
            if "tool_call_id" not in message:
                raise invalid(f"Missing required parameter: '{where}.tool_call_id'.",
                              f"{where}.tool_call_id", "missing_required_parameter")
            expect(message["tool_call_id"], (str,), f"{where}.tool_call_id", "a string")
        if role == "assistant":
            calls = message.get("tool_calls")
            if content is None and not calls and not message.get("function_call"):
                raise invalid(f"Invalid value for '{where}.content': expected a string or an array "
                              "of content parts when the assistant message has no tool_calls.",
                              f"{where}.content", "invalid_value")
            if calls is not None:
                _tool_calls(calls, f"{where}.tool_calls")


def _content(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    expect(content, (str, list), where, "a string or an array of content parts")
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        expect(part, (dict,), at, "an object")
        kind = part.get("type")
        if kind not in PART_TYPES:
            raise invalid(f"Invalid value: '{kind}'. Supported values are: "
                          + ", ".join(f"'{t}'" for t in PART_TYPES) + ".", f"{at}.type",
                          "invalid_value")
        if kind == "text":
            if "text" not in part:
                raise invalid(f"Missing required parameter: '{at}.text'.", f"{at}.text",
                              "missing_required_parameter")
            expect(part["text"], (str,), f"{at}.text", "a string")
        if kind == "image_url":
            image = part.get("image_url")
            expect(image, (dict,), f"{at}.image_url", "an object")
            expect(image.get("url"), (str,), f"{at}.image_url.url", "a string")


def _tool_calls(calls: Any, where: str) -> None:
    expect(calls, (list,), where, "an array")
    for k, call in enumerate(calls):
        at = f"{where}[{k}]"
        expect(call, (dict,), at, "an object")
        expect(call.get("id"), (str,), f"{at}.id", "a string")
        function = call.get("function")
        expect(function, (dict,), f"{at}.function", "an object")
        expect(function.get("name"), (str,), f"{at}.function.name", "a string")
        expect(function.get("arguments"), (str,), f"{at}.function.arguments", "a string")


def _stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    expect(stop, (str, list), "stop", "a string or an array of strings")
    if len(stop) > 4:
        raise invalid(f"Invalid 'stop': array too long. Expected an array with maximum length 4, "
                      f"but got an array with length {len(stop)} instead.", "stop", "array_above_max_length")
    for i, item in enumerate(stop):
        expect(item, (str,), f"stop[{i}]", "a string")


def _stream_options(body: dict) -> None:
    options = body.get("stream_options")
    if options is None:
        return
    expect(options, (dict,), "stream_options", "an object")
    if not body.get("stream"):
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                      "stream_options", "invalid_value")
    for key in ("include_usage", "include_obfuscation"):
        if options.get(key) is not None:
            expect(options[key], (bool,), f"stream_options.{key}", "a boolean")


def _metadata(metadata: Any) -> None:
    if metadata is None:
        return
    expect(metadata, (dict,), "metadata", "an object")
    if len(metadata) > 16:
        raise invalid("Invalid 'metadata': too many properties. Expected at most 16.", "metadata",
                      "invalid_value")
    for key, value in metadata.items():
        expect(value, (str,), f"metadata.{key}", "a string")


def _tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    expect(tools, (list,), "tools", "an array")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        at = f"tools[{i}]"
        expect(tool, (dict,), at, "an object")
        if tool.get("type") not in ("function", "custom"):
            raise invalid(f"Invalid value: '{tool.get('type')}'. Supported values are: 'function' "
                          "and 'custom'.", f"{at}.type", "invalid_value")
        function = tool.get("function") if tool.get("type") == "function" else tool.get("custom")
        if function is None:
            raise invalid(f"Missing required parameter: '{at}.{tool['type']}'.",
                          f"{at}.{tool['type']}", "missing_required_parameter")
        expect(function, (dict,), f"{at}.function", "an object")
        name = function.get("name")
        expect(name, (str,), f"{at}.function.name", "a string")
        if not NAME_RE.match(name):
            raise invalid(f"Invalid '{at}.function.name': string does not match pattern. Expected a "
                          "string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 "
                          "characters.", f"{at}.function.name", "invalid_value")
        if function.get("parameters") is not None:
            expect(function["parameters"], (dict,), f"{at}.function.parameters", "an object")
        if function.get("description") is not None:
            expect(function["description"], (str,), f"{at}.function.description", "a string")
        names.add(name)
    return names


def _tool_choice(choice: Any, names: set[str], has_tools: bool) -> None:
    if choice is None:
        return
    if not has_tools:
        raise invalid("Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                      "'tools' are specified.", "tool_choice", "invalid_value")
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise invalid(f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and "
                          "'required'.", "tool_choice", "invalid_value")
        return
    expect(choice, (str, dict), "tool_choice", "a string or an object")
    if choice.get("type") == "allowed_tools":
        return
    function = choice.get("function")
    expect(function, (dict,), "tool_choice.function", "an object")
    name = function.get("name")
    expect(name, (str,), "tool_choice.function.name", "a string")
    if name not in names:
        raise invalid(f"Invalid value for 'tool_choice': tool '{name}' is not in 'tools' "
                      f"(defined: {', '.join(sorted(names)) or 'none'}).",
                      "tool_choice.function.name", "invalid_value")


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    expect(fmt, (dict,), "response_format", "an object")
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid(f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and "
                      "'json_schema'.", "response_format.type", "invalid_value")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if spec is None:
            raise invalid("Missing required parameter: 'response_format.json_schema'.",
                          "response_format.json_schema", "missing_required_parameter")
        expect(spec, (dict,), "response_format.json_schema", "an object")
        name = spec.get("name")
        expect(name, (str,), "response_format.json_schema.name", "a string")
        if not NAME_RE.match(name):
            raise invalid("Invalid 'response_format.json_schema.name': string does not match "
                          "pattern '^[a-zA-Z0-9_-]+$' (at most 64 characters).",
                          "response_format.json_schema.name", "invalid_value")
        if spec.get("schema") is not None:
            expect(spec["schema"], (dict,), "response_format.json_schema.schema", "an object")

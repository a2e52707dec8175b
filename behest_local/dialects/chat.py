"""Validation of OpenAI chat completions requests: the gateway's own dialect.

``validate_chat_request`` is the single gate every ``POST /v1/chat/completions`` body
passes before routing. It checks what OpenAI checks (types, ranges, required fields,
message shapes, tool definitions, ``response_format``) and raises ``InvalidRequestError``
with OpenAI's message style and the ``param`` path at fault (``messages[2].tool_call_id``),
so a client's bug is reported the way the real API reports it. The body is returned
unchanged: providers receive exactly what the client sent. The common request (plain text
messages, scalar options) is recognised in one cheap pass, ``_plainly_valid``; anything
else, and every error, goes through the full checks.
"""

from __future__ import annotations

import re
from typing import Any

from behest_local.dialects.checks import (
    check_bool,
    check_int,
    check_metadata,
    check_number,
    check_object,
    check_str,
    check_stream_options,
    expect,
    reject_unknown,
    require_body_object,
)
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


def invalid(message: str, param: str | None) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


def validate_chat_request(body: Any) -> dict:
    """Check a chat completions body; return it unchanged or raise ``InvalidRequestError``."""
    if type(body) is dict and _plainly_valid(body):
        return body
    require_body_object(body)
    reject_unknown(body, KNOWN_FIELDS)
    if "messages" not in body:
        raise invalid("Missing required parameter: 'messages'.", "messages")
    check_str(body.get("model"), "model")
    _messages(body["messages"])
    check_number(body.get("temperature"), "temperature", minimum=0, maximum=2)
    check_number(body.get("top_p"), "top_p", minimum=0, maximum=1)
    check_number(body.get("presence_penalty"), "presence_penalty", minimum=-2, maximum=2)
    check_number(body.get("frequency_penalty"), "frequency_penalty", minimum=-2, maximum=2)
    check_int(body.get("n"), "n", minimum=1, maximum=128)
    check_int(body.get("max_tokens"), "max_tokens", minimum=1)
    check_int(body.get("max_completion_tokens"), "max_completion_tokens", minimum=1)
    check_int(body.get("seed"), "seed", minimum=-(2**63), maximum=2**63 - 1)
    check_int(body.get("top_logprobs"), "top_logprobs", minimum=0, maximum=20)
    for key in ("stream", "logprobs", "parallel_tool_calls", "store"):
        check_bool(body.get(key), key)
    for key in ("user", "service_tier", "reasoning_effort", "prompt_cache_key",
                "safety_identifier", "verbosity"):
        check_str(body.get(key), key)
    for key in ("logit_bias", "audio", "prediction", "web_search_options"):
        check_object(body.get(key), key)
    _stop(body.get("stop"))
    check_stream_options(body.get("stream_options"), body.get("stream"), _STREAM_OPTIONS)
    check_metadata(body.get("metadata"))
    tool_names = _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"), tool_names, "tools" in body and body["tools"] is not None)
    _response_format(body.get("response_format"))
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise invalid("Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
                      "'top_logprobs' is used.", "top_logprobs")
    return body


# The common request in one pass (``_plainly_valid``): each field with the bounds the full
# checks apply. Anything else (tools, response_format, a tool message …) takes the full
# path, which alone words errors, so the first fault reported never depends on the path.
_PLAIN_NUMBERS = {"temperature": (0, 2), "top_p": (0, 1), "presence_penalty": (-2, 2),
                  "frequency_penalty": (-2, 2)}
_PLAIN_INTS = {"n": (1, 128), "max_tokens": (1, None), "max_completion_tokens": (1, None),
               "seed": (-(2**63), 2**63 - 1)}
_PLAIN_STRS = frozenset({"model", "user", "service_tier", "reasoning_effort",
                         "prompt_cache_key", "safety_identifier", "verbosity"})
_PLAIN_BOOLS = frozenset({"stream", "logprobs", "parallel_tool_calls", "store"})
_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content", "name"})
_STREAM_OPTIONS = frozenset({"include_usage", "include_obfuscation"})


def _plainly_valid(body: dict) -> bool:
    """Whether ``body`` is a request the full checks would accept, judged cheaply: True
    only for fields of the common kinds with valid values; False means "not sure"."""
    if type(body.get("messages")) is not list:
        return False
    for key, value in body.items():
        if value is None:
            continue
        kind = type(value)
        if key == "messages":
            if not value or not all(map(_plain_message, value)):
                return False
        elif key in _PLAIN_STRS:
            if kind is not str:
                return False
        elif key in _PLAIN_BOOLS:
            if kind is not bool:
                return False
        elif key in _PLAIN_NUMBERS:
            low, high = _PLAIN_NUMBERS[key]
            if (kind is not int and kind is not float) or not low <= value <= high:
                return False
        elif key in _PLAIN_INTS:
            low, high = _PLAIN_INTS[key]
            if kind is not int or value < low or (high is not None and value > high):
                return False
        elif key == "stream_options":
            if (kind is not dict or body.get("stream") is not True
                    or not value.keys() <= _STREAM_OPTIONS
                    or any(type(v) not in (bool, type(None)) for v in value.values())):
                return False
        else:
            return False
    return True


def _plain_message(message: Any) -> bool:
    if type(message) is not dict or type(message.get("content")) is not str:
        return False
    role = message.get("role")
    if type(role) is not str or role not in _PLAIN_ROLES:
        return False
    return len(message) == 2 or (message.keys() <= _PLAIN_MESSAGE_KEYS
                                 and type(message.get("name")) in (str, type(None)))


def _messages(messages: Any) -> None:
    expect(messages, (list,), "messages", "an array")
    if not messages:
        raise invalid("Invalid 'messages': empty array. Expected an array with minimum length 1, "
                      "but got an empty array instead.", "messages")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        expect(message, (dict,), where, "an object")
        role = message.get("role")
        if role is None:
            raise invalid(f"Missing required parameter: '{where}.role'.", f"{where}.role")
        if role not in ROLES:
            raise invalid(f"Invalid value: '{role}'. Supported values are: "
                          + ", ".join(f"'{r}'" for r in ROLES) + ".", f"{where}.role")
        if "content" not in message and role != "assistant":
            raise invalid(f"Missing required parameter: '{where}.content'.", f"{where}.content")
        content = message.get("content")
        if content is None and role != "assistant":
            raise invalid(f"Invalid type for '{where}.content': expected a string or an array of "
                          "content parts, but got null instead.", f"{where}.content")
        if content is not None:
            _content(content, f"{where}.content")
        if message.get("name") is not None:
            expect(message["name"], (str,), f"{where}.name", "a string")
        if role == "tool":
            if "tool_call_id" not in message:
                raise invalid(f"Missing required parameter: '{where}.tool_call_id'.",
                              f"{where}.tool_call_id")
            expect(message["tool_call_id"], (str,), f"{where}.tool_call_id", "a string")
        if role == "assistant":
            calls = message.get("tool_calls")
            if content is None and not calls and not message.get("function_call"):
                raise invalid(f"Invalid value for '{where}.content': expected a string or an array "
                              "of content parts when the assistant message has no tool_calls.",
                              f"{where}.content")
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
                          + ", ".join(f"'{t}'" for t in PART_TYPES) + ".", f"{at}.type")
        if kind == "text":
            if "text" not in part:
                raise invalid(f"Missing required parameter: '{at}.text'.", f"{at}.text")
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
                      f"but got an array with length {len(stop)} instead.", "stop")
    for i, item in enumerate(stop):
        expect(item, (str,), f"stop[{i}]", "a string")


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
                          "and 'custom'.", f"{at}.type")
        function = tool.get("function") if tool.get("type") == "function" else tool.get("custom")
        if function is None:
            raise invalid(f"Missing required parameter: '{at}.{tool['type']}'.",
                          f"{at}.{tool['type']}")
        expect(function, (dict,), f"{at}.function", "an object")
        name = function.get("name")
        expect(name, (str,), f"{at}.function.name", "a string")
        if not NAME_RE.match(name):
            raise invalid(f"Invalid '{at}.function.name': string does not match pattern. Expected a "
                          "string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 "
                          "characters.", f"{at}.function.name")
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
                      "'tools' are specified.", "tool_choice")
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise invalid(f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and "
                          "'required'.", "tool_choice")
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
                      "tool_choice.function.name")


def _response_format(fmt: Any) -> None:
    if fmt is None:
        return
    expect(fmt, (dict,), "response_format", "an object")
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid(f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and "
                      "'json_schema'.", "response_format.type")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if spec is None:
            raise invalid("Missing required parameter: 'response_format.json_schema'.",
                          "response_format.json_schema")
        expect(spec, (dict,), "response_format.json_schema", "an object")
        name = spec.get("name")
        expect(name, (str,), "response_format.json_schema.name", "a string")
        if not NAME_RE.match(name):
            raise invalid("Invalid 'response_format.json_schema.name': string does not match "
                          "pattern '^[a-zA-Z0-9_-]+$' (at most 64 characters).",
                          "response_format.json_schema.name")
        if spec.get("schema") is not None:
            expect(spec["schema"], (dict,), "response_format.json_schema.schema", "an object")

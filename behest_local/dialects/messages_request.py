"""``POST /v1/messages`` (and ``count_tokens``) request side: the checks Anthropic makes.

``validate_messages_request(body, version)`` is the one gate a Messages body passes before
routing, whichever provider serves it (a native relay included, so a bad body costs no
upstream call). It raises ``InvalidRequestError`` with Anthropic's wording, the dotted path
first (``messages.0.content.1.source.media_type: Input should be ...``, pydantic's style as
the API words it), and the path as ``param``; the route renders it as Anthropic's
``invalid_request_error``. The body is returned unchanged.

What it checks (anthropic-ingress.md §1): ``model``, ``max_tokens`` (required, ``0``
allowed) and ``messages``; roles; the block types and the shape of the ones the gateway
reads (text, image, tool_use, tool_result, thinking, document); ``system`` as a string or
text blocks; ``stop_sequences`` (no whitespace-only entry); ``tools`` and ``tool_choice``;
``thinking`` (``budget_tokens`` ≥ 1024 and below ``max_tokens``); sampling parameters by
``anthropic-version`` (removed in ``2026-10-21``, 0–1 before); and that every ``tool_use``
is answered by a ``tool_result`` in the next message. Unknown top-level fields and block
types are accepted: Claude Code sends beta fields that change with every release, and
rejecting them would break it (§10 pitfalls).
"""

from __future__ import annotations

import re
from typing import Any

from behest_local.dialects.checks import is_int, is_number, type_name
from behest_local.dialects.messages_wire import SAMPLING_REMOVED_IN
from behest_local.errors import InvalidRequestError

MAX_MESSAGES = 100_000
ROLES = ("user", "assistant", "system")
"""``system`` turns mid-conversation: in the SDK types since 2026 and sent by Claude Code
(the ``mid-conversation-system`` beta, anthropic-ingress.md §1); text only."""
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_SAMPLING = ("temperature", "top_p", "top_k")
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING = ("enabled", "adaptive", "disabled")
_KNOWN_TYPES = {"string": str, "list": list, "object": dict}


def bad(where: str, message: str) -> InvalidRequestError:
    """Anthropic's 400: ``where: message`` (the path dotted, indices bare)."""
    return InvalidRequestError(f"{where}: {message}" if where else message, param=where or None)


def _need(value: Any, kind: str, where: str) -> None:
    expected = _KNOWN_TYPES[kind]
    if not isinstance(value, expected):
        article = "an" if kind == "object" else "a"
        raise bad(where, f"Input should be {article} valid {kind} (got {type_name(value)})")


def validate_messages_request(body: Any, version: str | None = None, *,
                              count_only: bool = False) -> dict:
    """Check a Messages body (``count_only``: a ``count_tokens`` body, no ``max_tokens``);
    return it unchanged or raise ``InvalidRequestError``."""
    if not isinstance(body, dict):
        raise bad("", f"The request body must be a JSON object, got {type_name(body)}")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad("model", "Field required" if body.get("model") is None
                  else "Input should be a non-empty string")
    max_tokens = body.get("max_tokens")
    if not count_only:
        if max_tokens is None:
            raise bad("max_tokens", "Field required")
        if not is_int(max_tokens) or max_tokens < 0:
            raise bad("max_tokens", "Input should be a valid integer greater than or equal "
                      f"to 0 (got {max_tokens!r})")
    if "messages" not in body:
        raise bad("messages", "Field required")
    _messages(body["messages"])
    _system(body.get("system"))
    _sampling(body, version)
    stops = body.get("stop_sequences")
    if stops is not None:
        _need(stops, "list", "stop_sequences")
        for i, stop in enumerate(stops):
            _need(stop, "string", f"stop_sequences.{i}")
            if not stop.strip():
                raise bad(f"stop_sequences.{i}", "each stop sequence must contain "
                          "non-whitespace characters")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise bad("stream", "Input should be a valid boolean")
    names = _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"), names)
    _thinking(body.get("thinking"), max_tokens, count_only)
    metadata = body.get("metadata")
    if metadata is not None:
        _need(metadata, "object", "metadata")
        user = metadata.get("user_id")
        if user is not None and not isinstance(user, str):
            raise bad("metadata.user_id", "Input should be a valid string")
    config = body.get("output_config")
    if config is not None:
        _need(config, "object", "output_config")
        fmt = config.get("format")
        if fmt is not None:
            _need(fmt, "object", "output_config.format")
            if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
                raise bad("output_config.format", "Input should be {\"type\": "
                          "\"json_schema\", \"schema\": {...}}")
    return body


def _sampling(body: dict, version: str | None) -> None:
    for name in _SAMPLING:
        value = body.get(name)
        if value is None:
            continue
        if version is not None and version >= SAMPLING_REMOVED_IN:
            raise bad(name, f"Extra inputs are not permitted (removed in anthropic-version "
                      f"{SAMPLING_REMOVED_IN})")
        if name == "top_k":
            if not is_int(value) or value < 0:
                raise bad(name, "Input should be an integer greater than or equal to 0")
        elif not is_number(value) or not 0 <= value <= 1:
            raise bad(name, f"Input should be a number from 0 to 1 (got {value!r})")


def _system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    _need(system, "list", "system")
    for i, block in enumerate(system):
        where = f"system.{i}"
        _need(block, "object", where)
        if block.get("type") != "text":
            raise bad(f"{where}.type", "Input should be 'text'")
        _need(block.get("text"), "string", f"{where}.text")


def _messages(messages: Any) -> None:
    _need(messages, "list", "messages")
    if len(messages) > MAX_MESSAGES:
        raise bad("messages", f"at most {MAX_MESSAGES} messages are allowed per request")
    pending: set[str] = set()  # tool_use ids the next message must answer
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        _need(message, "object", where)
        role = message.get("role")
        if role not in ROLES:
            raise bad(f"{where}.role", f"Input should be 'user' or 'assistant' (got {role!r})")
        if "content" not in message:
            raise bad(f"{where}.content", "Field required")
        content = message["content"]
        if not isinstance(content, (str, list)):
            raise bad(f"{where}.content", "Input should be a valid string or a list of "
                      f"content blocks (got {type_name(content)})")
        blocks = content if isinstance(content, list) else []
        for j, block in enumerate(blocks):
            if role == "system":
                _need(block, "object", f"{where}.content.{j}")
                _need(block.get("text"), "string", f"{where}.content.{j}.text")
            else:
                _block(block, role, f"{where}.content.{j}")
        if role == "system":
            continue  # between a tool_use and its result is still "the next message"
        if pending:
            answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            if pending - answered:
                raise bad(f"messages.{i - 1}", "`tool_use` ids were found without "
                          "`tool_result` blocks immediately after: "
                          f"{', '.join(sorted(pending - answered))}. Each `tool_use` block "
                          "must have a corresponding `tool_result` block in the next message.")
        pending = {b["id"] for b in blocks if b.get("type") == "tool_use"}
    # A trailing assistant tool_use is a prefill the model continues: nothing to answer yet.


def _block(block: Any, role: str, where: str) -> None:
    _need(block, "object", where)
    kind = block.get("type")
    if not isinstance(kind, str):
        raise bad(f"{where}.type", "Field required")
    if kind == "text":
        _need(block.get("text"), "string", f"{where}.text")
    elif kind == "image":
        _image_source(block.get("source"), f"{where}.source")
    elif kind == "tool_use":
        if role != "assistant":
            raise bad(where, "tool_use blocks are only allowed in assistant messages")
        _need(block.get("id"), "string", f"{where}.id")
        _need(block.get("name"), "string", f"{where}.name")
        _need(block.get("input"), "object", f"{where}.input")
    elif kind == "tool_result":
        if role != "user":
            raise bad(where, "tool_result blocks are only allowed in user messages")
        _need(block.get("tool_use_id"), "string", f"{where}.tool_use_id")
        inner = block.get("content")
        if inner is not None and not isinstance(inner, (str, list)):
            raise bad(f"{where}.content", "Input should be a valid string or a list of "
                      "content blocks")
        for k, part in enumerate(inner if isinstance(inner, list) else []):
            _block(part, role, f"{where}.content.{k}")
        if block.get("is_error") is not None and not isinstance(block["is_error"], bool):
            raise bad(f"{where}.is_error", "Input should be a valid boolean")
    elif kind == "thinking":
        _need(block.get("thinking"), "string", f"{where}.thinking")
        _need(block.get("signature"), "string", f"{where}.signature")
    elif kind == "document":
        _need(block.get("source"), "object", f"{where}.source")


def _image_source(source: Any, where: str) -> None:
    _need(source, "object", where)
    kind = source.get("type")
    if kind == "base64":
        if source.get("media_type") not in IMAGE_TYPES:
            raise bad(f"{where}.media_type", "Input should be "
                      + ", ".join(f"'{t}'" for t in IMAGE_TYPES))
        _need(source.get("data"), "string", f"{where}.data")
    elif kind == "url":
        _need(source.get("url"), "string", f"{where}.url")
    elif kind != "file":
        raise bad(f"{where}.type", "Input should be 'base64', 'url' or 'file'")


def _tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    _need(tools, "list", "tools")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        _need(tool, "object", where)
        name = tool.get("name")
        _need(name, "string", f"{where}.name")
        if tool.get("type") not in (None, "custom"):
            names.add(name)  # a server tool (``web_search_20250305`` …): never called here
            continue
        if not TOOL_NAME.match(name):
            raise bad(f"{where}.name", "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
        schema = tool.get("input_schema")
        if schema is None:
            raise bad(f"{where}.input_schema", "Field required")
        _need(schema, "object", f"{where}.input_schema")
        if schema.get("type") != "object":
            raise bad(f"{where}.input_schema.type", "Input should be 'object'")
        if tool.get("description") is not None:
            _need(tool["description"], "string", f"{where}.description")
        if name in names:
            raise bad("tools", f"Tool names must be unique (`{name}` is repeated)")
        names.add(name)
    return names


def _tool_choice(choice: Any, names: set[str]) -> None:
    if choice is None:
        return
    _need(choice, "object", "tool_choice")
    kind = choice.get("type")
    if kind not in _TOOL_CHOICES:
        raise bad("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
    if kind == "tool":
        _need(choice.get("name"), "string", "tool_choice.name")
        if choice["name"] not in names:
            raise bad("tool_choice.name", f"Tool `{choice['name']}` is not in tools "
                      f"(defined: {', '.join(sorted(names)) or 'none'})")
    parallel = choice.get("disable_parallel_tool_use")
    if parallel is not None and not isinstance(parallel, bool):
        raise bad("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean")


def _thinking(thinking: Any, max_tokens: Any, count_only: bool) -> None:
    if thinking is None:
        return
    _need(thinking, "object", "thinking")
    kind = thinking.get("type")
    if kind not in _THINKING:
        raise bad("thinking.type", "Input should be 'enabled', 'adaptive' or 'disabled'")
    if kind != "enabled":
        return
    budget = thinking.get("budget_tokens")
    if not is_int(budget) or budget < 1024:
        raise bad("thinking.budget_tokens", "Input should be an integer greater than or "
                  "equal to 1024")
    if not count_only and is_int(max_tokens) and budget >= max_tokens:
        raise bad("max_tokens", f"`max_tokens` must be greater than "
                  f"`thinking.budget_tokens` ({budget})")


def thinking_requested(body: dict) -> bool:
    """Whether the request asks for thinking blocks in the reply."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive") \
        and thinking.get("display") != "omitted"

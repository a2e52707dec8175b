"""A validated Messages body as the gateway's chat request (anthropic-ingress.md §10).

The translated path of ``/v1/messages``: any provider but a native Anthropic relay (OpenAI,
Gemini, a custom server, the emulated model) gets the chat request ``to_chat_request``
makes, and its answer goes back through ``messages_reply``/``messages_stream``. The
mapping is providers.md §6.6 read backwards:

* ``system`` (string or text blocks) → one leading system message (``cache_control``
  dropped); a ``system`` turn mid-conversation (Claude Code sends them) → a system message
  where it stands;
* user text and images → content parts (a base64 image as a ``data:`` URL); a text
  ``document`` → a text part, a PDF → a ``file`` part;
* ``tool_result`` blocks → one ``tool`` message each, placed before the rest of their user
  message (an ``is_error`` result says so in its text);
* assistant text and ``tool_use`` → ``content`` and ``tool_calls`` (``input`` as JSON);
  ``thinking`` and ``redacted_thinking`` are dropped: chat has no input slot for them;
* client tools → function tools; server tools (a versioned ``type``) are never called
  here, so they are left out; ``tool_choice`` auto/any/tool/none → auto/required/named/
  none, ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``;
* ``max_tokens`` → ``max_tokens``; ``temperature``/``top_p`` kept, ``top_k`` dropped;
  ``metadata.user_id`` → ``user``; ``output_config.format`` → a ``json_schema``
  ``response_format``.

``stop_sequences`` are not sent on: the reply side applies them (``StopWatch``) so that it
can say which one matched, which chat's ``finish_reason: "stop"`` cannot. Pure.
"""

from __future__ import annotations

import json

CLIENT_TOOL_TYPES = (None, "custom")
"""A ``tools[].type`` of a tool the client runs; any other is a server tool."""


def to_chat_request(body: dict) -> dict:
    """The chat request for ``body`` (already validated)."""
    messages: list[dict] = []
    system = system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in body["messages"]:
        role = message["role"]
        if role == "user":
            messages += _user(message["content"])
        elif role == "system":  # a mid-conversation system turn, where it stands
            text = block_text(message["content"])
            if text:
                messages.append({"role": "system", "content": text})
        else:
            assistant = _assistant(message["content"])
            if assistant is not None:
                messages.append(assistant)
    chat: dict = {"model": body["model"], "messages": messages}
    if body.get("max_tokens"):
        chat["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p", "stream"):
        if body.get(name) is not None:
            chat[name] = body[name]
    tools = [t for t in body.get("tools") or () if t.get("type") in CLIENT_TOOL_TYPES]
    if tools:
        chat["tools"] = [_tool(t) for t in tools]
        choice = body.get("tool_choice") or {}
        mapped = _tool_choice(choice)
        if mapped is not None:
            chat["tool_choice"] = mapped
        if choice.get("disable_parallel_tool_use"):
            chat["parallel_tool_calls"] = False
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str) and user:
        chat["user"] = user
    fmt = (body.get("output_config") or {}).get("format")
    if fmt:
        chat["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "schema": fmt["schema"], "strict": True}}
    return chat


_REMINDER = ("<system-reminder>", "</system-reminder>")


def reminders_as_system(chat: dict) -> dict:
    """``chat`` with the harness's ``<system-reminder>`` text parts (Claude Code adds them to
    user turns) moved into a system message ahead of their turn: for the emulated model,
    which answers the user's own words. Real providers get the turns as the client wrote
    them."""
    out = []
    for message in chat["messages"]:
        content = message.get("content")
        if message["role"] == "user" and isinstance(content, str) and _REMINDER[0] in content:
            reminders, rest = _split_reminders(content)
            if reminders:
                out.append({"role": "system", "content": reminders})
                message = {**message, "content": rest or content}
        out.append(message)
    return {**chat, "messages": out}


def _split_reminders(text: str) -> tuple[str, str]:
    """``(reminders, the rest)`` of a text: each ``<system-reminder>…</system-reminder>``."""
    reminders, rest, start = [], [], 0
    while (open_at := text.find(_REMINDER[0], start)) != -1:
        close_at = text.find(_REMINDER[1], open_at)
        if close_at == -1:
            break
        rest.append(text[start:open_at])
        reminders.append(text[open_at + len(_REMINDER[0]):close_at].strip())
        start = close_at + len(_REMINDER[1])
    rest.append(text[start:])
    return "\n\n".join(r for r in reminders if r), "".join(rest).strip()


def system_text(system: object) -> str:
    """``system`` as one text: a string, or its text blocks joined by blank lines."""
    if isinstance(system, str):
        return system
    return "\n\n".join(b["text"] for b in system or () if b.get("text"))


def block_text(content: object) -> str:
    """The text of a string or of a list of blocks (text blocks only)."""
    if isinstance(content, str):
        return content
    return "\n".join(b["text"] for b in content or () if isinstance(b, dict)
                     and b.get("type") == "text" and b.get("text"))


def _user(content: object) -> list[dict]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict] = []
    parts: list[dict] = []
    for block in content:
        kind = block.get("type")
        if kind == "tool_result":
            text = block_text(block.get("content"))
            if block.get("is_error"):
                text = f"Error: {text}" if text else "Error"
            out.append({"role": "tool", "tool_call_id": block["tool_use_id"], "content": text})
        elif kind == "text":
            if block["text"]:
                parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": image_url(block["source"])}})
        elif kind == "document":
            part = _document(block)
            if part is not None:
                parts.append(part)
        # Other blocks (search results, server-tool results …) carry nothing chat can take.
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        out.append({"role": "user", "content": "\n".join(p["text"] for p in parts)
                    if only_text else parts})
    return out


def image_url(source: dict) -> str:
    """An image source as chat's ``image_url.url``: a ``data:`` URL for base64 data."""
    if source.get("type") == "base64":
        return f"data:{source['media_type']};base64,{source['data']}"
    return str(source.get("url") or source.get("file_id") or "")


def _document(block: dict) -> dict | None:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": str(source.get("data") or "")}
    if kind == "content":
        text = block_text(source.get("content"))
        return {"type": "text", "text": text} if text else None
    if kind == "base64":
        return {"type": "file", "file": {
            "filename": str(block.get("title") or "document.pdf"),
            "file_data": f"data:{source.get('media_type', 'application/pdf')};base64,"
                         f"{source.get('data', '')}"}}
    return None


def _assistant(content: object) -> dict | None:
    if isinstance(content, str):
        return {"role": "assistant", "content": content} if content else None
    text, calls = [], []
    for block in content:
        kind = block.get("type")
        if kind == "text" and block["text"]:
            text.append(block["text"])
        elif kind == "tool_use":
            calls.append({"id": block["id"], "type": "function", "function": {
                "name": block["name"],
                "arguments": json.dumps(block["input"], ensure_ascii=False)}})
    if not text and not calls:
        return None
    message: dict = {"role": "assistant", "content": "".join(text) if text else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool(tool: dict) -> dict:
    function: dict = {"name": tool["name"], "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: dict) -> str | dict | None:
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice["name"]}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(kind)

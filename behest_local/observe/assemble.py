"""Assembling what the model said from what was sent: stream events or a JSON body.

The TUI's detail view, the exports and fixtures show the assistant's message and tool
calls as one object, whichever dialect carried them. This module folds a decoded event
list (``chat.completion.chunk``, legacy ``text_completion`` chunks, Responses API events,
or Anthropic Messages events) or a non-streamed body into::

    {"choices": [{"index", "role", "content", "reasoning", "tool_calls", "finish_reason"}],
     "usage": {...} | None, "error": {...} | None}

Pure functions over already decoded JSON; redaction is the caller's (observe/record.py).
"""

from __future__ import annotations

import json


def _choice(choices: dict[int, dict], index: int) -> dict:
    if index not in choices:
        choices[index] = {"index": index, "role": "assistant", "content": "", "reasoning": "",
                          "tool_calls": {}, "finish_reason": None}
    return choices[index]


def _tool(choice: dict, key: object) -> dict:
    calls = choice["tool_calls"]
    if key not in calls:
        calls[key] = {"id": None, "name": "", "arguments": ""}
    return calls[key]


def _chat_choice(choices: dict[int, dict], raw: dict) -> None:
    choice = _choice(choices, raw.get("index") or 0)
    delta = raw.get("delta") or raw.get("message") or {}
    if isinstance(raw.get("text"), str):  # legacy completions
        choice["content"] += raw["text"]
    if isinstance(delta, dict):
        if delta.get("role"):
            choice["role"] = delta["role"]
        if isinstance(delta.get("content"), str):
            choice["content"] += delta["content"]
        for name in ("reasoning_content", "reasoning"):
            if isinstance(delta.get(name), str):
                choice["reasoning"] += delta[name]
        for n, call in enumerate(delta.get("tool_calls") or []):
            if not isinstance(call, dict):
                continue
            slot = _tool(choice, call.get("index", n))
            slot["id"] = call.get("id") or slot["id"]
            function = call.get("function") or {}
            slot["name"] += function.get("name") or ""
            slot["arguments"] += function.get("arguments") or ""
    if raw.get("finish_reason"):
        choice["finish_reason"] = raw["finish_reason"]


def _responses_event(choices: dict[int, dict], event: dict, state: dict) -> None:
    kind = event.get("type", "")
    choice = _choice(choices, 0)
    if kind == "response.output_text.delta":
        choice["content"] += event.get("delta") or ""
    elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
        choice["reasoning"] += event.get("delta") or ""
    elif kind == "response.output_item.added":
        item = event.get("item") or {}
        if item.get("type") == "function_call":
            slot = _tool(choice, item.get("id") or event.get("output_index"))
            slot["id"], slot["name"] = item.get("call_id") or item.get("id"), item.get("name", "")
    elif kind == "response.function_call_arguments.delta":
        slot = _tool(choice, event.get("item_id") or event.get("output_index"))
        slot["arguments"] += event.get("delta") or ""
    elif kind in ("response.completed", "response.incomplete", "response.failed"):
        response = event.get("response") or {}
        state["usage"] = response.get("usage") or state.get("usage")
        choice["finish_reason"] = response.get("status") or kind.rsplit(".", 1)[-1]
        if response.get("error"):
            state["error"] = response["error"]
    elif kind == "error":
        state["error"] = {k: v for k, v in event.items() if k != "type"}


def _messages_event(choices: dict[int, dict], event: dict, state: dict) -> None:
    """One event of Anthropic's Messages stream (``/v1/messages``)."""
    kind = event.get("type")
    choice = _choice(choices, 0)
    if kind == "content_block_start":
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            slot = _tool(choice, event.get("index"))
            slot["id"], slot["name"] = block.get("id"), block.get("name") or ""
    elif kind == "content_block_delta":
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            choice["content"] += delta.get("text") or ""
        elif delta.get("type") == "thinking_delta":
            choice["reasoning"] += delta.get("thinking") or ""
        elif delta.get("type") == "input_json_delta":
            _tool(choice, event.get("index"))["arguments"] += delta.get("partial_json") or ""
    elif kind == "message_start":
        state["usage"] = (event.get("message") or {}).get("usage") or state.get("usage")
    elif kind == "message_delta":
        choice["finish_reason"] = (event.get("delta") or {}).get("stop_reason")
        state["usage"] = {**(state.get("usage") or {}), **(event.get("usage") or {})}


_MESSAGES_EVENTS = frozenset({"message_start", "content_block_start", "content_block_delta",
                              "message_delta"})


def assemble_events(events: list[object]) -> dict:
    """Fold decoded stream events (``[DONE]`` already removed) into one message."""
    choices: dict[int, dict] = {}
    state: dict = {"usage": None, "error": None}
    for event in events:
        if not isinstance(event, dict):
            continue
        if isinstance(event.get("choices"), list):
            for raw in event["choices"]:
                if isinstance(raw, dict):
                    _chat_choice(choices, raw)
        elif event.get("type") in _MESSAGES_EVENTS:
            _messages_event(choices, event, state)
            continue
        elif isinstance(event.get("type"), str) and event["type"].startswith(("response.", "error")):
            _responses_event(choices, event, state)
        if isinstance(event.get("usage"), dict):
            state["usage"] = event["usage"]
        if isinstance(event.get("error"), dict):
            state["error"] = event["error"]
    return _finish(choices, state)


def assemble_body(body: object) -> dict:
    """The same shape from a non-streamed chat, completions or Responses API body."""
    if not isinstance(body, dict):
        return _finish({}, {"usage": None, "error": None})
    if isinstance(body.get("output"), list):  # Responses API object
        events = [{"type": "response.output_text.delta", "delta": part.get("text", "")}
                  for item in body["output"] if isinstance(item, dict)
                  for part in item.get("content") or [] if isinstance(part, dict)
                  and part.get("type") == "output_text"]
        for item in body["output"]:
            if isinstance(item, dict) and item.get("type") == "function_call":
                events.append({"type": "response.output_item.added", "item": item})
                events.append({"type": "response.function_call_arguments.delta",
                               "item_id": item.get("id"), "delta": item.get("arguments", "")})
        events.append({"type": "response.completed", "response": body})
        return assemble_events(events)
    if body.get("type") == "message" and isinstance(body.get("content"), list):  # Messages
        events = [{"type": "message_start", "message": body}]
        for index, block in enumerate(body["content"]):
            if not isinstance(block, dict):
                continue
            events.append({"type": "content_block_start", "index": index, "content_block": block})
            kind = block.get("type")
            delta = ({"type": "text_delta", "text": block.get("text")} if kind == "text" else
                     {"type": "thinking_delta", "thinking": block.get("thinking")}
                     if kind == "thinking" else
                     {"type": "input_json_delta", "partial_json": json.dumps(block.get("input"))}
                     if kind == "tool_use" else {})
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "message_delta", "delta": {"stop_reason": body.get("stop_reason")},
                       "usage": body.get("usage")})
        return assemble_events(events)
    return assemble_events([body])


def _finish(choices: dict[int, dict], state: dict) -> dict:
    out = []
    for index in sorted(choices):
        choice = dict(choices[index])
        choice["tool_calls"] = list(choice["tool_calls"].values())
        out.append(choice)
    return {"choices": out, "usage": state["usage"], "error": state["error"]}

"""Assembling what the model said from what was sent: stream events or a JSON body.

The TUI's detail view, the exports and fixtures show the assistant's message and tool
calls as one object, whichever dialect carried them. This module folds a decoded event
list (``chat.completion.chunk``, legacy ``text_completion`` chunks, or Responses API
events) or a non-streamed body into::

    {"choices": [{"index", "role", "content", "reasoning", "tool_calls", "finish_reason"}],
     "usage": {...} | None, "error": {...} | None}

Pure functions over already decoded JSON; redaction is the caller's (observe/record.py).
"""

from __future__ import annotations


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
    return assemble_events([body])


def _finish(choices: dict[int, dict], state: dict) -> dict:
    out = []
    for index in sorted(choices):
        choice = dict(choices[index])
        choice["tool_calls"] = list(choice["tool_calls"].values())
        out.append(choice)
    return {"choices": out, "usage": state["usage"], "error": state["error"]}

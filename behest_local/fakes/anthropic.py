"""Fake Anthropic Messages API: ``POST /v1/messages``, ``POST /v1/messages/count_tokens``
and ``GET /v1/models``.

``make_app(key=…)`` checks what the real API checks first (providers.md §6.1, §6.5,
§13): the key, in ``x-api-key`` or as a Bearer token as newer SDKs send it (401
``authentication_error``), ``anthropic-version`` (400), a
required ``max_tokens``, user/assistant roles only, no empty text blocks (pitfall 14),
``temperature`` within 0–1 and every ``tool_use`` answered by a ``tool_result`` in the
next message (pitfall 15), each as a native ``{"type": "error", …}`` body.

Replies follow the prompt script (``fakes/__init__``). A tool-call turn opens with a short
text block, as Claude's usually do, so the tool block's index is 1 while its OpenAI index is
0 (pitfall 1). Streams are named events (§6.4): ``message_start``, a ``ping``, block
start/delta/stop, ``message_delta`` with cumulative usage, ``message_stop``; a mid-stream
failure is ``event: error`` with ``overloaded_error``.
"""

from __future__ import annotations

import json
import secrets

from aiohttp import web

from behest_local import sse
from behest_local.dialects import messages_wire as wire
from behest_local.fakes import script as scripting
from behest_local.fakes.base import STATE, hold, json_response, new_app, play, read_json
from behest_local.providers.tokens import count_tokens

# The script's stop names (``fakes/script.Plan.stop``) as Messages ``stop_reason``s.
STOP_REASONS = {**wire.STOP_REASONS, "filter": "refusal"}
PREAMBLE = "Let me check that."
MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5")


def make_app(*, key: str | None = None) -> web.Application:
    app = new_app("anthropic", key)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens_route)
    app.router.add_get("/v1/models", models)
    return app


def error(status: int, message: str | None = None) -> web.Response:
    request_id = "req_" + secrets.token_hex(12)
    headers = {"request-id": request_id}
    if status == 429:
        headers["retry-after"] = "1"
    body = wire.error_body(status, message or {
        529: "Overloaded", 429: "Number of request tokens has exceeded your rate limit.",
        500: "Internal server error"}.get(status, f"Fake upstream error {status}"), request_id)
    return json_response(body, status, headers)


def _authorise(request: web.Request, body: object) -> web.Response | None:
    state = request.app[STATE]
    # x-api-key is the documented header (§6.1); the SDK may send the key as a Bearer token.
    bearer = request.headers.get("Authorization", "")
    ok = state.accepts(request.headers.get("x-api-key")
                       or (bearer[7:] if bearer.startswith("Bearer ") else None))
    state.record(request, body, ok)
    if not ok:
        return error(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return error(400, "anthropic-version: header is required")
    return None


async def models(request: web.Request) -> web.Response:
    if (denied := _authorise(request, None)) is not None:
        return denied
    data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}
            for m in MODELS]
    return json_response({"data": data, "has_more": False, "first_id": MODELS[0],
                          "last_id": MODELS[-1]})


def invalid(body: object, *, count_only: bool = False) -> str | None:
    """Why the real API would refuse ``body`` with a 400, or None (``count_only``: a
    ``count_tokens`` body, which has no ``max_tokens``)."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return "messages: Field required"
    if not count_only and not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    if (body.get("temperature") or 0) > 1:
        return "temperature: Input should be less than or equal to 1"
    if any(not s.strip() for s in body.get("stop_sequences") or []):
        return "stop_sequences: each stop sequence must contain non-whitespace"
    messages = body["messages"]
    for i, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        blocks = message.get("content")
        if isinstance(blocks, str) or blocks is None:
            continue
        if any(b.get("type") == "text" and not b.get("text") for b in blocks):
            return f"messages.{i}: text content blocks must be non-empty"
        pending = {b["id"] for b in blocks if b.get("type") == "tool_use"}
        if pending:
            after = messages[i + 1]["content"] if i + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in after if isinstance(b, dict)
                        and b.get("type") == "tool_result"} if isinstance(after, list) else set()
            if pending - answered:
                return (f"messages.{i + 1}: `tool_use` ids were found without `tool_result` "
                        f"blocks immediately after: {', '.join(sorted(pending - answered))}")
    return None


def _texts(content: object) -> str:
    """Text blocks, or else the tool results a user turn carries (the script's text)."""
    if isinstance(content, str):
        return content
    texts = [b.get("text", "") for b in content or [] if b.get("type") == "text"]
    if texts:
        return " ".join(texts)
    return " ".join(_texts(b.get("content") or "") for b in content or []
                    if b.get("type") == "tool_result")


def _prompt(body: dict) -> str:
    return "\n".join([_texts(body.get("system") or "")]
                     + [_texts(m["content"]) for m in body["messages"]])


async def count_tokens_route(request: web.Request) -> web.Response:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}`` of the prompt's text."""
    body = await read_json(request)
    if (denied := _authorise(request, body)) is not None:
        return denied
    if (reason := invalid(body, count_only=True)) is not None:
        return error(400, reason)
    return json_response({"input_tokens": count_tokens(_prompt(body))})


async def messages(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    if (denied := _authorise(request, body)) is not None:
        return denied
    if (reason := invalid(body)) is not None:
        return error(400, reason)
    users = [m for m in body["messages"] if m["role"] == "user"]
    script = scripting.parse(_texts(users[-1]["content"]) if users else "")
    if script.error:
        return error(script.error)
    plan = scripting.plan("anthropic", script, max_tokens=body["max_tokens"],
                          prompt_text=_prompt(body),
                          tools=[(t["name"], t.get("input_schema") or {})
                                 for t in body.get("tools") or []])
    reply = _Reply(body["model"], plan)
    if not body.get("stream"):
        await hold(request.app[STATE], script)
        return json_response(reply.message(), headers={"request-id": "req_fake"})
    return await play(request, reply.frames(), script, _overloaded)


def _overloaded() -> bytes:
    return sse.encode_json({"type": "error", "error": {"type": "overloaded_error",
                                                       "message": "Overloaded"}}, event="error")


class _Reply:
    def __init__(self, model: str, plan: scripting.Plan) -> None:
        self.model, self.plan = model, plan
        self.id = "msg_" + secrets.token_hex(12)
        self.text = PREAMBLE if plan.tool_calls else plan.text
        self.calls = [("toolu_" + secrets.token_hex(11), c) for c in plan.tool_calls]
        self.output = plan.completion_tokens + (count_tokens(PREAMBLE) if plan.tool_calls else 0)

    def usage(self, output: int) -> dict:
        cached = self.plan.script.cached
        return {"input_tokens": self.plan.prompt_tokens - cached, "output_tokens": output,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached}

    def message(self) -> dict:
        content = [{"type": "text", "text": self.text}] if self.text else []
        content += [{"type": "tool_use", "id": i, "name": c.name, "input": c.arguments}
                    for i, c in self.calls]
        return {"id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": content, "stop_reason": STOP_REASONS[self.plan.stop],
                "stop_sequence": None, "usage": self.usage(self.output)}

    def frames(self) -> list[bytes]:
        events: list[dict] = [{"type": "message_start", "message": {
            **self.message(), "content": [], "stop_reason": None, "usage": self.usage(1)}},
            {"type": "ping"}]
        index = 0
        if self.text:
            events.append({"type": "content_block_start", "index": 0,
                           "content_block": {"type": "text", "text": ""}})
            pieces = self.plan.pieces or [self.text]
            events += [{"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": p}} for p in pieces]
            events.append({"type": "content_block_stop", "index": 0})
            index = 1
        for call_id, call in self.calls:
            events.append({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": call_id, "name": call.name, "input": {}}})
            args = json.dumps(call.arguments)
            events += [{"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": args[j:j + 7]}}
                for j in range(0, len(args), 7)]
            events.append({"type": "content_block_stop", "index": index})
            index += 1
        events.append({"type": "message_delta", "delta": {
            "stop_reason": STOP_REASONS[self.plan.stop], "stop_sequence": None},
            "usage": self.usage(self.output)})  # cumulative: totals, not increments (§6.4)
        events.append({"type": "message_stop"})
        return [sse.encode_json(e, event=e["type"]) for e in events]

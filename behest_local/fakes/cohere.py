"""Fake Cohere v2 API: ``POST /v2/chat``, ``POST /v2/embed`` and ``GET /v1/models``.

``make_app(key=…)`` takes a Bearer key (401 ``{"message": "invalid api token"}`` when it is
wrong or missing) and refuses what Cohere refuses (providers.md §8.2, §8.5): unknown
request fields, a ``tool_choice`` other than ``REQUIRED``/``NONE``, and both penalties at
once, each as ``{"message": …}`` with a 400.

Replies follow the prompt script (``fakes/__init__``). Usage reports both buckets:
``tokens`` (what the model processed, chat template included) and ``billed_units``
(§8.3). Streams are named kebab-case events whose ``type`` repeats the name (§8.4):
``message-start``, content start/delta/end, ``tool-plan-delta``s, ``tool-call-start``
with ``tool_calls`` as a single object, argument ``tool-call-delta``s, ``message-end``
with both usage buckets, then a ``data: [DONE]`` that some captures show and the SDK skips.
A mid-stream failure is ``message-end`` with ``finish_reason: "ERROR"`` and ``delta.error``.
"""

from __future__ import annotations

import json
import secrets

from aiohttp import web

from behest_local import sse
from behest_local.fakes import script as scripting
from behest_local.fakes.base import STATE, hold, json_response, new_app, play, read_json
from behest_local.fakes.openai import fake_vector
from behest_local.fakes.openai_wire import last_user_text, prompt_text

FIELDS = frozenset({
    "model", "messages", "tools", "strict_tools", "documents", "citation_options",
    "response_format", "safety_mode", "max_tokens", "stop_sequences", "temperature", "seed",
    "frequency_penalty", "presence_penalty", "k", "p", "logprobs", "tool_choice", "thinking",
    "priority", "stream"})
FINISH = {"stop": "COMPLETE", "filter": "COMPLETE", "length": "MAX_TOKENS",
          "tool_calls": "TOOL_CALL"}
TEMPLATE_TOKENS = 7  # the chat template's own tokens: in ``tokens``, not in ``billed_units``
TOOL_PLAN = "I will use the tools to answer."
MODELS = ("command-a-03-2025", "command-r-plus", "embed-v4.0")


def make_app(*, key: str | None = None) -> web.Application:
    app = new_app("cohere", key)
    app.router.add_post("/v2/chat", chat)
    app.router.add_post("/v2/embed", embed)
    app.router.add_get("/v1/models", models)
    return app


def error(status: int, message: str | None = None) -> web.Response:
    text = message or {429: "You are using a Trial key, which is limited to 10 API calls / "
                            "minute.", 500: "internal server error"}.get(
        status, f"Fake upstream error {status}.")
    return json_response({"id": secrets.token_hex(8), "message": text}, status)


def _authorise(request: web.Request, body: object) -> web.Response | None:
    state = request.app[STATE]
    header = request.headers.get("Authorization", "")
    ok = state.accepts(header[7:] if header.startswith("Bearer ") else None)
    state.record(request, body, ok)
    return None if ok else error(401, "invalid api token")


async def models(request: web.Request) -> web.Response:
    if (denied := _authorise(request, None)) is not None:
        return denied
    return json_response({"models": [
        {"name": m, "endpoints": ["embed"] if m.startswith("embed") else ["chat"],
         "context_length": 128000} for m in MODELS]})


async def embed(request: web.Request) -> web.Response:
    body = await read_json(request)
    if (denied := _authorise(request, body)) is not None:
        return denied
    if not isinstance(body, dict) or not isinstance(body.get("texts"), list):
        return error(400, "invalid request: texts must be a list of strings")
    dims = int(body.get("output_dimension") or 8)
    tokens = sum(len(str(t).split()) for t in body["texts"])
    vectors = [fake_vector(str(t), dims) for t in body["texts"]]
    return json_response({"id": secrets.token_hex(8), "texts": body["texts"],
                          "embeddings": {"float": vectors},
                          "meta": {"api_version": {"version": "2"},
                                   "billed_units": {"input_tokens": tokens}},
                          "response_type": "embeddings_by_type"})


def invalid(body: object) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return "invalid request: messages is required"
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        return f"invalid request: unknown field {unknown[0]!r}"
    if body.get("tool_choice") not in (None, "REQUIRED", "NONE"):
        return "invalid request: tool_choice must be one of REQUIRED, NONE"
    if body.get("frequency_penalty") and body.get("presence_penalty"):
        return "invalid request: cannot specify both frequency_penalty and presence_penalty"
    return None


async def chat(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    if (denied := _authorise(request, body)) is not None:
        return denied
    if (reason := invalid(body)) is not None:
        return error(400, reason)
    script = scripting.parse(last_user_text(body["messages"]))
    if script.error:
        return error(script.error)
    tools = [(t["function"]["name"], t["function"].get("parameters") or {})
             for t in body.get("tools") or []]
    plan = scripting.plan("cohere", script, tools=tools, max_tokens=body.get("max_tokens"),
                          prompt_text=prompt_text(body["messages"]))
    reply = _Reply(plan)
    if not body.get("stream"):
        await hold(request.app[STATE], script)
        return json_response(reply.response())
    return await play(request, reply.frames(), script, reply.error_frame)


class _Reply:
    def __init__(self, plan: scripting.Plan) -> None:
        self.plan = plan
        self.id = secrets.token_hex(8) + "-fake"
        self.calls = [{"id": f"{c.name}_{secrets.token_hex(6)}", "type": "function", "function": {
            "name": c.name, "arguments": json.dumps(c.arguments)}} for c in plan.tool_calls]

    def usage(self) -> dict:
        p, c = self.plan.prompt_tokens, self.plan.completion_tokens
        return {"billed_units": {"input_tokens": p - self.plan.script.cached, "output_tokens": c},
                "tokens": {"input_tokens": p + TEMPLATE_TOKENS, "output_tokens": c},
                "cached_tokens": self.plan.script.cached}

    def response(self) -> dict:
        message: dict = {"role": "assistant"}
        if self.calls:
            message.update(tool_plan=TOOL_PLAN, tool_calls=self.calls)
        else:
            message["content"] = [{"type": "text", "text": self.plan.text}]
        return {"id": self.id, "finish_reason": FINISH[self.plan.stop], "message": message,
                "usage": self.usage()}

    def frames(self) -> list[bytes]:
        events: list[dict] = [{"id": self.id, "type": "message-start", "delta": {"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
            "citations": []}}}]
        if self.calls:
            events += [{"type": "tool-plan-delta", "delta": {"message": {"tool_plan": w}}}
                       for w in TOOL_PLAN.split(" ")]
        elif self.plan.pieces:
            events.append({"type": "content-start", "index": 0, "delta": {"message": {
                "content": {"type": "text", "text": ""}}}})
            events += [{"type": "content-delta", "index": 0, "delta": {"message": {
                "content": {"text": p}}}} for p in self.plan.pieces]
            events.append({"type": "content-end", "index": 0})
        for i, call in enumerate(self.calls):
            events.append({"type": "tool-call-start", "index": i, "delta": {"message": {
                "tool_calls": {**call, "function": {**call["function"], "arguments": ""}}}}})
            args = call["function"]["arguments"]
            events += [{"type": "tool-call-delta", "index": i, "delta": {"message": {
                "tool_calls": {"function": {"arguments": args[j:j + 6]}}}}}
                for j in range(0, len(args), 6)]
            events.append({"type": "tool-call-end", "index": i})
        events.append({"type": "message-end", "delta": {
            "finish_reason": FINISH[self.plan.stop], "usage": self.usage()}})
        return [sse.encode_json(e, event=e["type"]) for e in events] + [sse.DONE]

    def error_frame(self) -> bytes:
        return sse.encode_json({"type": "message-end", "delta": {
            "finish_reason": "ERROR", "error": "internal server error",
            "usage": self.usage()}}, event="message-end")

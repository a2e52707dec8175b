"""Fake OpenAI-compatible upstream: OpenAI itself, its Mistral and OpenRouter flavours, or
a local server (Ollama).

``make_app(key=…, flavor="openai"|"mistral"|"openrouter"|"ollama")`` serves ``POST
…/chat/completions``, ``POST …/embeddings`` (not OpenRouter) and ``GET …/models`` under
``/v1`` (OpenRouter: ``/api/v1``), and OpenAI's ``POST /v1/moderations`` and
``/v1/images/generations`` (and its audio and image uploads, ``fakes/openai_media.py``),
with Bearer auth.
Replies follow the prompt script (``fakes/__init__``).

Per flavour, the wire details of providers.md that clients and translators trip on:

* OpenAI (§1.4, §1.5, §13): ``usage: null`` on every chunk and a ``choices: []`` usage
  chunk only when ``stream_options.include_usage`` is set; tool-call arguments streamed as
  fragments that split JSON mid-token; a mid-stream error is ``data: {"error": …}`` and
  the body ends without ``[DONE]``.
* Mistral (§9): unknown fields (top-level or per message) are a 422 ``extra_forbidden``
  whose ``message`` is an object; tool-call ids must be 9 alphanumerics; early chunks
  lack ``object``/``created``; tool calls arrive whole in one delta; usage rides on the
  finish chunk, always.
* OpenRouter (§10): ``: OPENROUTER PROCESSING`` comment lines before the first token,
  ``provider`` and ``native_finish_reason`` fields, numeric ``error.code``, and a mid-stream
  failure as a chunk with a top-level ``error`` and ``finish_reason: "error"``.
* Ollama (its ``/v1`` OpenAI compatibility): no authentication at all (any key or none is
  accepted, as a local server does), models ``owned_by: "library"``; otherwise OpenAI's
  wire format.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
import time

from aiohttp import web

from behest_local import sse
from behest_local.fakes import openai_media
from behest_local.fakes import script as scripting
from behest_local.fakes.base import STATE, hold, json_response, new_app, play, read_json
from behest_local.fakes.openai_wire import (
    error_body,
    last_user_text,
    mistral_unknown_fields,
    prompt_text,
)
from behest_local.providers.tokens import count_tokens

FLAVORS = ("openai", "mistral", "openrouter", "ollama")
MODELS = {"openai": ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small"),
          "mistral": ("mistral-small-latest", "mistral-large-latest", "mistral-embed"),
          "openrouter": ("anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini"),
          "ollama": ("llama3.2:latest", "nomic-embed-text:latest")}
OWNERS = {"ollama": "library"}
# Mistral's EmbeddingRequest fields (mistralai's models/embeddingrequest.py): others are a 422.
MISTRAL_EMBED_FIELDS = frozenset({"model", "input", "metadata", "output_dimension",
                                  "output_dtype", "encoding_format"})
FAKE_MODERATION_CATEGORIES = (
    "hate", "hate/threatening", "harassment", "harassment/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic")
FAKE_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAA"
            "AABJRU5ErkJggg==")
NINE = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make_app(*, key: str | None = None, flavor: str = "openai") -> web.Application:
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; one of {', '.join(FLAVORS)}")
    app = new_app(flavor, key)
    prefix = "/api/v1" if flavor == "openrouter" else "/v1"
    handlers = _Handlers(flavor)
    app.router.add_post(f"{prefix}/chat/completions", handlers.chat)
    app.router.add_get(f"{prefix}/models", handlers.models)
    if flavor != "openrouter":
        app.router.add_post(f"{prefix}/embeddings", handlers.embeddings)
    if flavor == "openai":
        app.router.add_post(f"{prefix}/moderations", handlers.moderations)
        app.router.add_post(f"{prefix}/images/generations", handlers.images)
        openai_media.add_routes(app, prefix, handlers._authorise)
    return app


class _Handlers:
    def __init__(self, flavor: str) -> None:
        self.flavor = flavor

    async def _authorise(self, request: web.Request, body: object) -> web.Response | None:
        state = request.app[STATE]
        header = request.headers.get("Authorization", "")
        ok = self.flavor == "ollama" or state.accepts(
            header[7:] if header.startswith("Bearer ") else None)
        state.record(request, body, ok)
        return None if ok else json_response(error_body(self.flavor, 401), 401)

    async def models(self, request: web.Request) -> web.Response:
        if (denied := await self._authorise(request, None)) is not None:
            return denied
        return json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1_735_689_600,
             "owned_by": OWNERS.get(self.flavor, self.flavor)}
            for m in MODELS[self.flavor]]})

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if (denied := await self._authorise(request, body)) is not None:
            return denied
        if not isinstance(body, dict) or "input" not in body:
            return json_response(error_body(self.flavor, 400, "'input' is required"), 400)
        if self.flavor == "mistral" and (unknown := set(body) - MISTRAL_EMBED_FIELDS):
            detail = [{"type": "extra_forbidden", "loc": ["body", k], "msg":
                       "Extra inputs are not permitted", "input": body[k]} for k in sorted(unknown)]
            return json_response({"object": "error", "message": {"detail": detail},
                                  "type": "invalid_request_error", "param": None, "code": None},
                                 422)
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        dims = int(body.get("output_dimension" if self.flavor == "mistral" else "dimensions")
                   or 8)
        data = []
        for i, text in enumerate(texts):
            vector = fake_vector(str(text), dims)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        tokens = sum(count_tokens(str(t)) for t in texts)
        return json_response({"object": "list", "data": data, "model": body.get("model"),
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def moderations(self, request: web.Request) -> web.Response:
        """One result per string input: ``violence`` flagged when the text says "fake-flag"
        (a marker the emulated moderation never reacts to, so a test tells them apart)."""
        body = await read_json(request)
        if (denied := await self._authorise(request, body)) is not None:
            return denied
        if not isinstance(body, dict) or "input" not in body:
            return json_response(error_body(self.flavor, 400, "'input' is required"), 400)
        texts = [body["input"]] if isinstance(body["input"], str) else [
            v if isinstance(v, str) else json.dumps(v) for v in body["input"]]
        results = []
        for text in texts:
            hit = "fake-flag" in text
            results.append({
                "flagged": hit,
                "categories": {c: hit and c == "violence" for c in FAKE_MODERATION_CATEGORIES},
                "category_scores": {c: 0.95 if hit and c == "violence" else 0.0001
                                    for c in FAKE_MODERATION_CATEGORIES},
                "category_applied_input_types": {c: ["text"]
                                                 for c in FAKE_MODERATION_CATEGORIES}})
        return json_response({"id": "modr-fake-" + secrets.token_hex(6),
                              "model": body.get("model") or "omni-moderation-latest",
                              "results": results})

    async def images(self, request: web.Request) -> web.Response:
        """``n`` copies of a 1×1 PNG (the fake draws nothing), with GPT-image usage."""
        body = await read_json(request)
        if (denied := await self._authorise(request, body)) is not None:
            return denied
        if not isinstance(body, dict) or not body.get("prompt"):
            return json_response(error_body(self.flavor, 400, "'prompt' is required"), 400)
        if body.get("stream"):
            done = {"type": "image_generation.completed", "b64_json": FAKE_PNG,
                    "created_at": int(time.time()), "size": "1x1", "quality": "low",
                    "background": "opaque", "output_format": "png",
                    "usage": {"input_tokens": 7, "output_tokens": 272, "total_tokens": 279}}
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(sse.encode_json(done, event=done["type"]))
            await response.write_eof()
            return response
        return json_response({"created": int(time.time()),
                              "data": [{"b64_json": FAKE_PNG}] * int(body.get("n") or 1),
                              "usage": {"input_tokens": 7, "output_tokens": 272,
                                        "total_tokens": 279}})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        if (denied := await self._authorise(request, body)) is not None:
            return denied
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return json_response(error_body(self.flavor, 400, "'messages' is required"), 400)
        if self.flavor == "mistral" and (invalid := _mistral_invalid(body)) is not None:
            return invalid
        script = scripting.parse(last_user_text(body["messages"]))
        if script.error:
            return json_response(error_body(self.flavor, script.error), script.error,
                                 headers=_retry_headers(script.error))
        tools = [(t["function"]["name"], t["function"].get("parameters") or {})
                 for t in body.get("tools") or []]
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        plan = scripting.plan(self.flavor, script, tools=tools, max_tokens=limit,
                              prompt_text=prompt_text(body["messages"]))
        reply = _Reply(self.flavor, body.get("model") or "fake-model", plan)
        if not body.get("stream"):
            await hold(request.app[STATE], script)
            return json_response(reply.completion())
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await play(request, reply.frames(include_usage), script, reply.error_frame)


class _Reply:
    """One reply in this flavour's wire format."""

    def __init__(self, flavor: str, model: str, plan: scripting.Plan) -> None:
        self.flavor, self.model, self.plan = flavor, model, plan
        self.id = ("gen-" if flavor == "openrouter" else "chatcmpl-") + secrets.token_hex(12)
        self.created = int(time.time())
        self.calls = [{"id": _call_id(flavor), "type": "function", "function": {
            "name": c.name, "arguments": json.dumps(c.arguments)}} for c in plan.tool_calls]

    @property
    def finish(self) -> str:
        return {"filter": "stop" if self.flavor == "mistral" else "content_filter"}.get(
            self.plan.stop, self.plan.stop)

    def usage(self) -> dict:
        p, c, s = self.plan.prompt_tokens, self.plan.completion_tokens, self.plan.script
        out = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        if self.flavor != "mistral":
            out["prompt_tokens_details"] = {"cached_tokens": s.cached}
            out["completion_tokens_details"] = {"reasoning_tokens": s.reasoning}
        return out

    def _extras(self) -> dict:
        return {"provider": "FakeProvider"} if self.flavor == "openrouter" else {}

    def completion(self) -> dict:
        message: dict = {"role": "assistant", "content": self.plan.text or None}
        if self.calls:
            message["tool_calls"] = self.calls
        elif self.flavor == "mistral":
            message["tool_calls"] = None
        if self.flavor == "mistral":
            message["prefix"] = False
        else:
            message["refusal"] = None
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish}
        if self.flavor == "openrouter":
            choice["native_finish_reason"] = self.finish
        return {"id": self.id, "object": "chat.completion", "created": self.created,
                "model": self.model, "choices": [choice], "usage": self.usage(), **self._extras()}

    def _chunk(self, delta: dict, finish: str | None = None, *, usage: object = ...) -> dict:
        out = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model, **self._extras(),
               "choices": [{"index": 0, "delta": delta, "logprobs": None,
                            "finish_reason": finish}]}
        if usage is not ...:
            out["usage"] = usage
        return out

    def frames(self, include_usage: bool) -> list[bytes]:
        mistral = self.flavor == "mistral"
        null = None if include_usage and not mistral else ...
        chunks = [self._chunk({"role": "assistant", "content": ""}, usage=null)]
        if mistral:  # early Mistral chunks lack object and created (§9.4)
            chunks[0] = {k: v for k, v in chunks[0].items() if k not in ("object", "created")}
        chunks += [self._chunk({"content": p}, usage=null) for p in self.plan.pieces]
        if mistral and self.calls:
            chunks.append(self._chunk({"tool_calls": [{"index": i, **c}
                                                      for i, c in enumerate(self.calls)]}))
        else:
            for i, call in enumerate(self.calls):
                chunks.append(self._chunk({"tool_calls": [{
                    "index": i, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}]}, usage=null))
                args = call["function"]["arguments"]
                # 5-character fragments split the JSON mid-token, as OpenAI does (§13).
                chunks += [self._chunk({"tool_calls": [{"index": i, "function": {
                    "arguments": args[j:j + 5]}}]}, usage=null) for j in range(0, len(args), 5)]
        if mistral:
            chunks.append(self._chunk({}, self.finish, usage=self.usage()))
        else:
            chunks.append(self._chunk({}, self.finish, usage=null))
            if include_usage:
                chunks.append({**self._chunk({}), "choices": [], "usage": self.usage()})
        frames = [sse.encode_json(c) for c in chunks] + [sse.DONE]
        if self.flavor == "openrouter":  # sent while "waiting for the first token" (§10.4)
            frames[:0] = [b": OPENROUTER PROCESSING\n\n", b": OPENROUTER PROCESSING\n\n"]
        return frames

    def error_frame(self) -> bytes:
        message = "The server had an error while processing your request. Sorry about that!"
        if self.flavor == "openrouter":
            return sse.encode_json({**self._chunk({"content": ""}, "error"),
                                    "error": {"code": "server_error",
                                              "message": "Provider disconnected unexpectedly"}})
        return sse.encode_json({"error": {"message": message, "type": "server_error",
                                          "param": None, "code": None}})


def _mistral_invalid(body: dict) -> web.Response | None:
    unknown = mistral_unknown_fields(body)
    if unknown:
        detail = [{"type": "extra_forbidden", "loc": ["body", *loc], "msg":
                   "Extra inputs are not permitted", "input": value} for loc, value in unknown]
        return json_response({"object": "error", "message": {"detail": detail},
                              "type": "invalid_request_error", "param": None, "code": None}, 422)
    for message in body["messages"]:
        ids = [c.get("id", "") for c in message.get("tool_calls") or []]
        ids += [message["tool_call_id"]] if "tool_call_id" in message else []
        for bad in (i for i in ids if not mistral_id_ok(i)):
            return json_response(error_body("mistral", 400, f"Tool call id was {bad} but must be "
                                            "a-z, A-Z, 0-9, with a length of 9."), 400)
    return None


def mistral_id_ok(value: str) -> bool:
    return len(value) == 9 and value.isascii() and value.isalnum()


def _call_id(flavor: str) -> str:
    if flavor == "mistral":
        return "".join(secrets.choice(NINE) for _ in range(9))
    return "call_" + secrets.token_hex(12)


def _retry_headers(status: int) -> dict:
    return {"Retry-After": "1"} if status in (429, 503) else {}


def fake_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit-ish vector for ``text`` (same text, same vector)."""
    digest = hashlib.sha256(text.encode()).digest() * (dims // 32 + 1)
    return [round((b - 127.5) / 127.5, 6) for b in digest[:dims]]


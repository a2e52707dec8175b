"""Fake Gemini API: ``/v1beta/models/{model}:generateContent``, ``:streamGenerateContent``,
``:embedContent``, ``:batchEmbedContents`` and ``GET /v1beta/models`` (and the same under
``/v1``).

``make_app(key=…)`` takes the key from ``x-goog-api-key`` or ``?key=`` (providers.md §7.1);
no key is 403 ``PERMISSION_DENIED`` and a wrong one is 400 ``INVALID_ARGUMENT`` with reason
``API_KEY_INVALID``, as the real API answers (§7.5). Requests are checked the way that
bites translators: roles are ``user``/``model`` only, a ``functionResponse.response`` must
be an object (pitfall 18), and schema keywords outside Gemini's subset are the real 400
``Invalid JSON payload received. Unknown name …`` (pitfall 17).

Replies follow the prompt script (``fakes/__init__``): text comes a few tokens per event
with a ``usageMetadata`` snapshot on each; function calls come whole, without ids, and
the finish reason stays ``STOP`` (pitfall 3); the last event has ``finishReason`` and
usage but no parts (pitfall 5). With ``?alt=sse`` events are ``data:`` lines framed by
CRLF, and the body just ends (no ``[DONE]``, §7.4); without it the stream is a JSON array
sent piece by piece. A mid-stream failure is raw, multi-line JSON, not an SSE event.
"""

from __future__ import annotations

import json
import secrets

from aiohttp import web

from behest_local.fakes import script as scripting
from behest_local.fakes.base import STATE, hold, json_response, new_app, play, read_json
from behest_local.fakes.openai import fake_vector

STATUSES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 503: "UNAVAILABLE",
            504: "DEADLINE_EXCEEDED"}
FINISH = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "filter": "SAFETY"}
# google.genai.types.Schema fields (camelCase): anything else is "Unknown name".
SCHEMA_FIELDS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"})
MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001")


def make_app(*, key: str | None = None) -> web.Application:
    app = new_app("gemini", key)
    # v1beta is what the REST docs use (§7.1); newer SDKs default to v1. Both are served.
    for version in ("v1beta", "v1"):
        app.router.add_post(f"/{version}/models/{{target}}", dispatch)
        app.router.add_get(f"/{version}/models", models)
    return app


def error(status: int, message: str | None = None, reason: str | None = None) -> web.Response:
    body = {"error": {"code": status, "message": message or f"Fake upstream error {status}.",
                      "status": STATUSES.get(status, "INTERNAL" if status >= 500 else "UNKNOWN")}}
    if reason:
        body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                     "reason": reason, "domain": "googleapis.com"}]
    if status == 429:  # no Retry-After header: the delay rides in a RetryInfo detail
        body["error"]["details"] = [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]
    return json_response(body, status)


def _authorise(request: web.Request, body: object) -> web.Response | None:
    state = request.app[STATE]
    presented = request.headers.get("x-goog-api-key") or request.query.get("key")
    ok = state.accepts(presented)
    state.record(request, body, ok)
    if ok:
        return None
    if not presented:
        return error(403, "Method doesn't allow unregistered callers (callers without "
                          "established identity). Please use API Key or other form of API "
                          "consumer identity to call this API.")
    return error(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")


async def models(request: web.Request) -> web.Response:
    if (denied := _authorise(request, None)) is not None:
        return denied
    return json_response({"models": [
        {"name": f"models/{m}", "displayName": m, "inputTokenLimit": 1_048_576,
         "outputTokenLimit": 65_536, "supportedGenerationMethods": [
             "embedContent" if "embedding" in m else "generateContent"]} for m in MODELS]})


async def dispatch(request: web.Request) -> web.StreamResponse:
    model, _, method = request.match_info["target"].partition(":")
    body = await read_json(request)
    if (denied := _authorise(request, body)) is not None:
        return denied
    if not isinstance(body, dict):
        return error(400, "Invalid JSON payload received.")
    if method == "embedContent":
        return json_response({"embedding": {"values": _vector(body)}})
    if method == "batchEmbedContents":
        return json_response({"embeddings": [{"values": _vector(r)}
                                             for r in body.get("requests") or []]})
    if method not in ("generateContent", "streamGenerateContent"):
        return error(404, f"Method {method!r} is not found for model {model}.")
    if (reason := invalid(body)) is not None:
        return error(400, reason)
    user = [c for c in body["contents"] if c.get("role") == "user"]
    script = scripting.parse(_texts(user[-1]) if user else "")
    if script.error:
        return error(script.error)
    prompt = "\n".join(_texts(c) for c in [body.get("systemInstruction") or {}] + body["contents"])
    tools = [(d["name"], d.get("parameters") or {}) for t in body.get("tools") or []
             for d in t.get("functionDeclarations") or []]
    config = body.get("generationConfig") or {}
    plan = scripting.plan("gemini", script, tools=tools, prompt_text=prompt,
                          max_tokens=config.get("maxOutputTokens"))
    events = _events(model, plan)
    if method == "generateContent":
        await hold(request.app[STATE], script)
        return json_response(_whole(events))
    if request.query.get("alt") == "sse":
        frames = [b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events]
        return await play(request, frames, script, _raw_error)
    frames = [(b"[" if i == 0 else b",\r\n") + json.dumps(e).encode() for i, e in enumerate(events)]
    return await play(request, frames + [b"]"], script, _raw_error,
                      headers={"Content-Type": "application/json; charset=utf-8"})


def invalid(body: dict) -> str | None:
    if not isinstance(body.get("contents"), list) or not body["contents"]:
        return "* GenerateContentRequest.contents: contents is not specified"
    for i, content in enumerate(body["contents"]):
        if content.get("role") not in ("user", "model"):
            return f"Please use a valid role: user, model. (contents[{i}])"
        for part in content.get("parts") or []:
            response = (part.get("functionResponse") or {}).get("response", {})
            if "functionResponse" in part and not isinstance(response, dict):
                return (f"Invalid value at 'contents[{i}].parts[0].function_response.response'"
                        " (type.googleapis.com/google.protobuf.Struct)")
    for t, tool in enumerate(body.get("tools") or []):
        for d, decl in enumerate(tool.get("functionDeclarations") or []):
            where = f"tools[{t}].function_declarations[{d}].parameters"
            if (bad := _unknown_schema_key(decl.get("parameters"), where)) is not None:
                return bad
    return None


def _unknown_schema_key(schema: object, where: str) -> str | None:
    if not isinstance(schema, dict):
        return None
    for key, value in schema.items():
        if key not in SCHEMA_FIELDS:
            return f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': " \
                   "Cannot find field."
        children = (value.values() if key == "properties" and isinstance(value, dict) else
                    [value] if key == "items" else value if key == "anyOf" else [])
        for child in children:
            if (bad := _unknown_schema_key(child, f"{where}.{key}")) is not None:
                return bad
    return None


def _texts(content: dict) -> str:
    """Text parts, or else the function responses a user turn carries (the script's text)."""
    parts = content.get("parts") or []
    texts = [p["text"] for p in parts if "text" in p]
    if texts:
        return " ".join(texts)
    return " ".join(json.dumps(p["functionResponse"].get("response"))
                    for p in parts if "functionResponse" in p)


def _vector(request: dict) -> list[float]:
    return fake_vector(_texts(request.get("content") or {}),
                       int(request.get("outputDimensionality") or 8))


def _events(model: str, plan: scripting.Plan) -> list[dict]:
    """The stream's events; the whole response is their merge."""
    base = {"modelVersion": model, "responseId": secrets.token_hex(8)}
    script, prompt = plan.script, plan.prompt_tokens
    completion = plan.completion_tokens - script.reasoning

    def usage(candidates: int) -> dict:
        meta = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                "totalTokenCount": prompt + candidates + script.reasoning}
        if script.reasoning:
            meta["thoughtsTokenCount"] = script.reasoning  # not in candidatesTokenCount (§7.3)
        if script.cached:
            meta["cachedContentTokenCount"] = script.cached
        return meta

    out, sent = [], 0
    for start in range(0, len(plan.pieces), 3):
        group = plan.pieces[start:start + 3]
        sent += len(group)  # each event's usage is a snapshot of the whole turn so far
        out.append({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "".join(group)}]}, "index": 0}], "usageMetadata": usage(sent), **base})
    if plan.tool_calls:
        parts = [{"functionCall": {"name": c.name, "args": c.arguments}} for c in plan.tool_calls]
        out.append({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
                    "usageMetadata": usage(completion), **base})
    out.append({"candidates": [{"finishReason": FINISH[plan.stop], "index": 0}],
                "usageMetadata": usage(completion), **base})
    return out


def _whole(events: list[dict]) -> dict:
    parts = [p for e in events for c in e["candidates"] for p in
             (c.get("content") or {}).get("parts", [])]
    merged: list[dict] = []
    for part in parts:  # adjacent text parts join, as a unary response has them
        if "text" in part and merged and "text" in merged[-1]:
            merged[-1] = {"text": merged[-1]["text"] + part["text"]}
        else:
            merged.append(part)
    last = events[-1]
    return {"candidates": [{"content": {"role": "model", "parts": merged},
                            "finishReason": last["candidates"][0]["finishReason"], "index": 0}],
            "usageMetadata": last["usageMetadata"], "modelVersion": last["modelVersion"],
            "responseId": last["responseId"]}


def _raw_error() -> bytes:
    body = {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                      "status": "UNAVAILABLE"}}
    return ("\r\n" + json.dumps(body, indent=2).replace("\n", "\r\n") + "\r\n").encode()

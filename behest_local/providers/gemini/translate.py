"""Gemini ``generateContent`` ⇄ OpenAI chat completions: request, response, error translation.

``to_native`` builds a GenerateContentRequest (camelCase on the wire, providers.md §7.2,
§7.6), ``from_native`` turns a GenerateContentResponse into a ``chat.completion`` (§7.7),
and ``error_from_native`` maps Google's ``{"error": {code, message, status}}`` (§7.5).
Embeddings (``batchEmbedContents``) and the models list translate here too. Pure, no I/O.

Choices where the APIs differ (pitfalls of §12):
* Gemini says ``STOP`` for tool calls, so ``tool_calls`` is derived from functionCall parts
  (pitfall 3); malformed/unexpected tool-call endings are errors, not silent stops;
* function calls often have no id, so one is minted; a tool result's ``functionResponse``
  needs the function *name*, looked up from the assistant turn that made the call, and its
  ``response`` must be an object, so plain text is wrapped as ``{"result": …}`` (pitfall 18);
* a call's ``thoughtSignature`` rides on the OpenAI tool call as
  ``extra_content.google.thought_signature`` (the field Google's own OpenAI layer uses) and
  is put back when the client replays the turn (pitfall 19);
* schemas go through ``schema.sanitize`` (pitfall 17);
* a bad API key is 400 ``API_KEY_INVALID`` upstream, and 401 to the client (§7.5).
"""

from __future__ import annotations

import json
import math
import mimetypes
from collections.abc import Mapping

from behest_local.errors import InvalidRequestError, UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.gemini.schema import sanitize
from behest_local.providers import shapes
from behest_local.providers.shapes import requested_max_tokens, text_of

FILTERED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
                      "LANGUAGE", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
                      "IMAGE_RECITATION", "IMAGE_OTHER", "OTHER"})
FAILED = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})
# Google's OpenAI-compatibility layer maps reasoning_effort to these thinking budgets.
THINKING_BUDGET = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
_CONFIG = (("temperature", "temperature"), ("top_p", "topP"), ("n", "candidateCount"),
           ("seed", "seed"), ("presence_penalty", "presencePenalty"),
           ("frequency_penalty", "frequencyPenalty"))


def to_native(op: str, payload) -> dict:
    if op == "embed":
        return embed_request(payload)
    request = payload.request
    if request.get("logprobs"):
        raise InvalidRequestError("logprobs are not translated for Gemini.", param="logprobs")
    if request.get("functions") or request.get("function_call"):
        raise InvalidRequestError("Use tools and tool_choice; the legacy functions API is "
                                  "not translated for Gemini.", param="functions")
    system, contents = convert_messages(request["messages"])
    body: dict = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.get("tools"):
        body["tools"] = [{"functionDeclarations": [_declaration(t["function"])
                                                   for t in request["tools"]]}]
    if request.get("tool_choice") is not None:
        body["toolConfig"] = {"functionCallingConfig": _tool_choice(request["tool_choice"])}
    config = {native: request[ours] for ours, native in _CONFIG if request.get(ours) is not None}
    if requested_max_tokens(request) is not None:
        config["maxOutputTokens"] = requested_max_tokens(request)
    if shapes.stop_list(request):
        config["stopSequences"] = shapes.stop_list(request)
    fmt = request.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        if fmt.get("type") == "json_schema" and fmt["json_schema"].get("schema"):
            config["responseSchema"] = sanitize(fmt["json_schema"]["schema"])
    if request.get("reasoning_effort") in THINKING_BUDGET:
        config["thinkingConfig"] = {"thinkingBudget": THINKING_BUDGET[request["reasoning_effort"]]}
    modalities = request.get("modalities")
    if isinstance(modalities, list) and modalities:  # ["text", "audio"] -> ["TEXT", "AUDIO"] (§7)
        config["responseModalities"] = [str(m).upper() for m in modalities]
    if config:
        body["generationConfig"] = config
    return body


def convert_messages(messages: list[dict]) -> tuple[str, list[dict]]:
    """``(system, contents)``; consecutive tool results share one user content (§7.6)."""
    system: list[str] = []
    contents: list[dict] = []
    names: dict[str, str] = {}  # tool_call_id → function name, for functionResponse
    results: dict | None = None
    for i, message in enumerate(messages):
        role = message["role"]
        if role != "tool":
            results = None
        if role in ("system", "developer"):
            system.append(text_of(message.get("content")))
        elif role == "user":
            contents.append({"role": "user",
                             "parts": _parts(message.get("content"), f"messages[{i}].content")})
        elif role == "assistant":
            parts = [{"text": t} for t in [text_of(message.get("content"))] if t]
            for j, call in enumerate(message.get("tool_calls") or []):
                names[call["id"]] = call["function"]["name"]
                args = shapes.arguments_object(call["function"].get("arguments"),
                                               f"messages[{i}].tool_calls[{j}].function.arguments")
                part = {"functionCall": {"name": call["function"]["name"], "args": args}}
                signature = ((call.get("extra_content") or {}).get("google") or {}).get(
                    "thought_signature")
                if signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
            if parts:
                contents.append({"role": "model", "parts": parts})
        elif role == "tool":
            name = names.get(message["tool_call_id"])
            if name is None:
                raise InvalidRequestError(
                    f"No assistant tool call has id {message['tool_call_id']!r}; Gemini needs "
                    "the function name of every tool result.", param=f"messages[{i}].tool_call_id")
            if results is None:
                results = {"role": "user", "parts": []}
                contents.append(results)
            results["parts"].append({"functionResponse": {
                "name": name, "response": _tool_response(text_of(message.get("content")))}})
        else:
            raise InvalidRequestError(f"Role {role!r} is not translated for Gemini.",
                                      param=f"messages[{i}].role")
    return "\n\n".join(s for s in system if s), contents


def _parts(content: object, where: str) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}]
    parts = []
    for j, part in enumerate(content or []):
        if part.get("type") == "text":
            parts.append({"text": part["text"]})
        elif part.get("type") == "image_url":
            url = part["image_url"]["url"]
            if url.startswith("data:"):
                header, _, data = url.partition(",")
                parts.append({"inlineData": {"mimeType": header[5:].split(";")[0], "data": data}})
            else:
                mime = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
                parts.append({"fileData": {"mimeType": mime, "fileUri": url}})
        else:
            raise InvalidRequestError(f"Content part type {part.get('type')!r} is not "
                                      "translated for Gemini.", param=f"{where}[{j}].type")
    return parts


def _tool_response(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


def _declaration(function: Mapping) -> dict:
    out = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    if function.get("parameters") and function["parameters"].get("properties"):
        out["parameters"] = sanitize(function["parameters"])
    return out


def _tool_choice(choice: object) -> dict:
    if isinstance(choice, dict):
        return {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}
    return {"mode": {"none": "NONE", "required": "ANY"}.get(choice, "AUTO")}


def embed_request(call) -> dict:
    texts = shapes.embedding_texts(call.body, "Gemini")
    model = "models/" + model_name(call.model)
    one = {"model": model}
    if call.body.get("dimensions"):
        one["outputDimensionality"] = call.body["dimensions"]
    return {"requests": [{**one, "content": {"parts": [{"text": t}]}} for t in texts]}


def model_name(model: str) -> str:
    return model.removeprefix("models/")


# -- responses ------------------------------------------------------------------------


def from_native(op: str, body: dict, call: ChatCall | None = None) -> dict:
    if op == "embed":
        # batchEmbedContents reports no token usage, so the usage is zero, not invented.
        return shapes.embeddings([e.get("values", []) for e in body.get("embeddings", [])],
                                 model=call.model, prompt_tokens=0,
                                 encoding_format=call.body.get("encoding_format"))
    if op == "models":
        return {"object": "list", "data": [
            {"id": model_name(m["name"]), "object": "model", "created": 0, "owned_by": "google"}
            for m in body.get("models", [])]}
    choices = []
    for position, candidate in enumerate(body.get("candidates") or []):
        text, calls = candidate_output(candidate)
        choices.append({"index": candidate.get("index", position),
                        "message": shapes.message(text if text or not calls else None, calls),
                        "finish_reason": finish_reason(candidate.get("finishReason"), bool(calls))})
    if not choices and (body.get("promptFeedback") or {}).get("blockReason"):
        choices = [{"index": 0, "message": shapes.message("", []),
                    "finish_reason": "content_filter"}]
    return shapes.completion(id=body.get("responseId") or shapes.completion_id(),
                             model=body.get("modelVersion") or (call.model if call else ""),
                             choices=choices, usage=usage(body.get("usageMetadata") or {}))


def candidate_output(candidate: Mapping) -> tuple[str, list[dict]]:
    """The text and the OpenAI tool calls of one candidate (thought parts skipped)."""
    text, calls = "", []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if part.get("thought"):
            continue
        if "text" in part:
            text += part["text"]
        elif "functionCall" in part:
            calls.append(tool_call(part))
    return text, calls


def tool_call(part: Mapping) -> dict:
    fn = part["functionCall"]
    out = shapes.tool_call(fn.get("id") or shapes.tool_call_id(), fn.get("name", ""),
                           json.dumps(fn.get("args") or {}, ensure_ascii=False))
    if part.get("thoughtSignature"):
        out["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return out


def finish_reason(reason: str | None, called: bool) -> str:
    """§7.7 and §11.1. ``STOP`` with functionCall parts is ``tool_calls`` (pitfall 3)."""
    if reason in FAILED:
        raise UpstreamError(f"Gemini ended the turn with {reason}.", status=502,
                            code=reason.lower())
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def usage(meta: Mapping) -> dict:
    """§7.7: thought tokens are completion tokens too (pitfall 10)."""
    prompt = (meta.get("promptTokenCount") or 0) + (meta.get("toolUsePromptTokenCount") or 0)
    thoughts = meta.get("thoughtsTokenCount")
    completion = (meta.get("candidatesTokenCount") or 0) + (thoughts or 0)
    return shapes.usage(prompt, completion, total=meta.get("totalTokenCount") or None,
                        cached=meta.get("cachedContentTokenCount") or 0, reasoning=thoughts or 0)


def error_from_native(status: int, body: bytes, headers: Mapping[str, str] | None = None
                      ) -> UpstreamError:
    data = shapes.load_error_body(body)
    if isinstance(data, list) and data:  # streamed errors may come wrapped in [...] (§7.4)
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return shapes.upstream_error(status, shapes.raw_message(status, body), headers=headers)
    return native_error(error, status, headers)


def native_error(error: Mapping, status: int | None = None,
                 headers: Mapping[str, str] | None = None) -> UpstreamError:
    code = error.get("code")
    status = status or (code if isinstance(code, int) and 400 <= code < 600 else 502)
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    if "API_KEY_INVALID" in {d.get("reason") for d in details}:
        status = 401  # Gemini's 400 for a bad key is what OpenAI clients know as 401 (§7.5)
    headers = dict(headers or {})
    delay = retry_delay(details)
    if delay is not None and not any(k.lower() == "retry-after" for k in headers):
        headers["Retry-After"] = delay  # so OpenAI clients' back-off sees Google's advice
    return shapes.upstream_error(status, str(error.get("message") or ""),
                                 code=error.get("status"), headers=headers)


def retry_delay(details: list[dict]) -> str | None:
    """Whole seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37.5s"``), which
    is how Gemini's 429 says when to retry (it sends no ``Retry-After`` header)."""
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            text = str(detail.get("retryDelay") or "").removesuffix("s")
            try:
                return str(max(0, math.ceil(float(text))))
            except ValueError:
                return None
    return None

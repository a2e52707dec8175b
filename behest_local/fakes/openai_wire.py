"""Wire details of the OpenAI-shaped fakes (OpenAI, Mistral, OpenRouter, and Cohere's
OpenAI-like messages): native error bodies per flavour, Mistral's request schema, and the
prompt text the script reads. Written from providers.md, deliberately *not* shared with
the translators in ``providers/``: a fake that reused the adapter's own tables could not
catch the adapter's mistakes.
"""

from __future__ import annotations

# Mistral's ChatCompletionRequest fields and per-role message fields (providers.md §9.2).
MISTRAL_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop",
    "random_seed", "metadata", "response_format", "tools", "tool_choice", "presence_penalty",
    "frequency_penalty", "n", "prediction", "parallel_tool_calls", "reasoning_effort",
    "prompt_mode", "guardrails", "prompt_cache_key", "safe_prompt",
})
MISTRAL_MESSAGE_FIELDS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "prefix"},
    "tool": {"role", "content", "tool_call_id", "name"},
}

# OpenAI's error type and code per status (providers.md §1.5).
_OPENAI = {
    400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None), 404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", None), 422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"), 500: ("server_error", None),
    503: ("server_error", None),
}
_MESSAGES = {
    401: "Incorrect API key provided.", 403: "You are not allowed to use this model.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}


def error_body(flavor: str, status: int, message: str | None = None) -> dict:
    """The flavour's native error body for ``status``."""
    text = message or _MESSAGES.get(status, f"Fake upstream error {status}.")
    if flavor == "openrouter":  # numeric code, metadata (§10.5)
        if status == 401:
            text = message or "No auth credentials found"
        return {"error": {"code": status, "message": text,
                          "metadata": {"provider_name": "FakeProvider"}}}
    if flavor == "mistral":  # §9.5
        if status == 401:
            return {"message": "Unauthorized", "request_id": "fake"}
        return {"object": "error", "message": text, "type": _OPENAI.get(
            status, ("invalid_request_error", None))[0], "param": None, "code": str(status)}
    kind, code = _OPENAI.get(status, ("server_error" if status >= 500 else
                                      "invalid_request_error", None))
    return {"error": {"message": text, "type": kind, "param": None, "code": code}}


def mistral_unknown_fields(body: dict) -> list[tuple[tuple, object]]:
    """``(location, value)`` of every field Mistral would refuse with ``extra_forbidden``."""
    out: list[tuple[tuple, object]] = [((k,), v) for k, v in body.items()
                                       if k not in MISTRAL_FIELDS]
    for i, message in enumerate(body.get("messages") or []):
        allowed = MISTRAL_MESSAGE_FIELDS.get(message.get("role"), set(message))
        out += [(("messages", i, k), v) for k, v in message.items() if k not in allowed]
    return out


def text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages: list) -> str:
    """The script's text: the last user message, or the tool results that end the
    conversation (a model answers those rather than re-reading the question)."""
    results = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        results.insert(0, text_of(message.get("content")))
    if results:
        return " ".join(results)
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def prompt_text(messages: list) -> str:
    return "\n".join(text_of(m.get("content")) for m in messages if isinstance(m, dict))

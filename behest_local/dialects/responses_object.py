"""``/v1/responses`` answer side, whole object: a ``chat.completion`` → a ``response``.

Flow: a provider answered the chat request built by ``responses_request.to_chat_request``;
the server passes the completion to ``from_chat_completion`` and returns the result as
the body of ``POST /v1/responses``. ``responses_stream`` builds its events and final
object from the same helpers (items, usage, envelope), so a streamed response ends equal
to the non-streamed one for the same completion.

Item ids are derived from the response id (``msg_<x>``, ``fc_<x>_<tool index>``) so the
translation stays pure and both paths agree. Shapes follow providers.md §5.2 and the
openai-python ``types/responses`` models.
"""

from __future__ import annotations

# ResponseError.code is a closed set in the SDK (types/responses/response_error.py); other
# codes are reported as "server_error" inside response.failed, verbatim in the error event.
RESPONSE_ERROR_CODES = frozenset(
    {
        "server_error", "rate_limit_exceeded", "invalid_prompt", "data_residency_mismatch",
        "bio_policy", "misalignment_policy_violation", "vector_store_timeout", "invalid_image",
        "invalid_image_format", "invalid_base64_image", "invalid_image_url", "image_too_large",
        "image_too_small", "image_parse_error", "image_content_policy_violation",
        "invalid_image_mode", "image_file_too_large", "unsupported_image_media_type",
        "empty_image_file", "failed_to_download_image", "image_file_not_found",
    }
)  # fmt: skip

# §5.4: finish_reason length ↔ incomplete + max_output_tokens; content_filter ↔ incomplete
# + content_filter; anything else is a completed response.
_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _suffix(response_id: str) -> str:
    return response_id.removeprefix("resp_")


def message_id(response_id: str) -> str:
    """The id of the (single) assistant message item of a response."""
    return f"msg_{_suffix(response_id)}"


def function_call_id(response_id: str, tool_index: int) -> str:
    """The item id of the function call at chat tool-call index ``tool_index``."""
    return f"fc_{_suffix(response_id)}_{tool_index}"


def fallback_call_id(response_id: str, tool_index: int) -> str:
    """A ``call_id`` for an upstream tool call that came without an id.

    The SDK's stream accumulator keys function_call items by ``call_id``, so one is
    needed from the first event on.
    """
    return f"call_{_suffix(response_id)}_{tool_index}"


def output_part(kind: str, text: str) -> dict:
    """A message content part: ``output_text`` (with empty annotations/logprobs) or ``refusal``."""
    if kind == "refusal":
        return {"type": "refusal", "refusal": text}
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, parts: list[tuple[str, str]], status: str) -> dict:
    """An assistant ``message`` output item from ``(kind, text)`` parts."""
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [output_part(kind, text) for kind, text in parts],
    }


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict:
    """A ``function_call`` output item (``call_id`` is the chat tool-call id, §5.4)."""
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def response_usage(chat_usage: dict | None) -> dict | None:
    """Chat ``usage`` → Responses ``usage`` (§5.4 usage rows); None stays None.

    ``input_tokens_details.cache_write_tokens`` is not in §5.2's example but the SDK's
    ``ResponseUsage`` requires it (openai-python 3.57), so it is always present.
    """
    if not chat_usage:
        return None
    prompt = chat_usage.get("prompt_tokens") or 0
    completion = chat_usage.get("completion_tokens") or 0
    prompt_details = chat_usage.get("prompt_tokens_details") or {}
    completion_details = chat_usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": prompt_details.get("cached_tokens") or 0,
            "cache_write_tokens": prompt_details.get("cache_write_tokens") or 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": completion_details.get("reasoning_tokens") or 0},
        "total_tokens": chat_usage.get("total_tokens") or prompt + completion,
    }


def response_status(finish_reason: str | None) -> tuple[str, dict | None]:
    """Chat ``finish_reason`` → (response ``status``, ``incomplete_details``)."""
    reason = _INCOMPLETE_REASONS.get(finish_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def build_response(
    request: dict,
    *,
    response_id: str,
    created_at: int,
    model: str | None,
    status: str,
    output: list[dict],
    usage: dict | None,
    incomplete_details: dict | None = None,
    error: dict | None = None,
) -> dict:
    """A full ``response`` object echoing the request's settings, with OpenAI's defaults.

    Covers every field the SDK's ``Response`` model requires (``parallel_tool_calls``,
    ``tool_choice``, ``tools`` ...) plus the ones OpenAI always sends.
    """
    reasoning = request.get("reasoning") or {}
    response = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": bool(request.get("background")),
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "metadata": request.get("metadata") or {},
        "model": model if model is not None else request.get("model", ""),
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True) is not False,
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": None},
        "service_tier": "default",
        "store": request.get("store", True) is not False,
        "temperature": request["temperature"] if request.get("temperature") is not None else 1.0,
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": request.get("tools") or [],
        "top_logprobs": request.get("top_logprobs") or 0,
        "top_p": request["top_p"] if request.get("top_p") is not None else 1.0,
        "truncation": request.get("truncation") or "disabled",
        "usage": usage,
        "user": request.get("user"),
    }
    conversation = request.get("conversation")
    if conversation is not None:  # validated: "conv_…" or {"id": "conv_…"}
        response["conversation"] = {"id": conversation if isinstance(conversation, str)
                                    else conversation["id"]}
    return response


def from_chat_completion(
    completion: dict, *, request: dict, response_id: str, created_at: int, model: str | None = None
) -> dict:
    """A whole ``chat.completion`` → the ``response`` object for ``request``.

    Output: one ``message`` item when the assistant said something (or when there is
    nothing else to report), then one ``function_call`` item per tool call, in order.
    ``model`` defaults to the completion's own ``model``.
    """
    choices = completion.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    status, incomplete = response_status(choice.get("finish_reason"))
    item_status = "incomplete" if status == "incomplete" else "completed"
    tool_calls = message.get("tool_calls") or []

    output: list[dict] = []
    parts: list[tuple[str, str]] = []
    if message.get("content"):
        parts.append(("output_text", message["content"]))
    if message.get("refusal"):
        parts.append(("refusal", message["refusal"]))
    if not parts and not tool_calls:
        parts.append(("output_text", ""))
    if parts:
        output.append(message_item(message_id(response_id), parts, item_status))
    for index, call in enumerate(tool_calls):
        function = call.get("function") or {}
        output.append(
            function_call_item(
                function_call_id(response_id, index),
                call.get("id") or fallback_call_id(response_id, index),
                function.get("name") or "",
                function.get("arguments") or "",
                item_status,
            )
        )
    return build_response(
        request,
        response_id=response_id,
        created_at=created_at,
        model=model if model is not None else completion.get("model"),
        status=status,
        output=output,
        usage=response_usage(completion.get("usage")),
        incomplete_details=incomplete,
    )


__all__ = [
    "RESPONSE_ERROR_CODES",
    "build_response",
    "fallback_call_id",
    "from_chat_completion",
    "function_call_id",
    "function_call_item",
    "message_id",
    "message_item",
    "output_part",
    "response_status",
    "response_usage",
]

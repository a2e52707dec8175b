"""Anthropic Messages API wire facts, declared once for every side that speaks it.

Three parts of behest-local speak Anthropic's dialect: the ``/v1/messages`` front door
(``server/routes/messages.py`` with the ``dialects/messages_*`` translators), the Anthropic
provider that calls the real API (``providers/anthropic/``), and the fake Anthropic upstream
(``fakes/anthropic.py``). The facts they share live here, in the lowest layer any of them
imports: the error types by HTTP status (anthropic-ingress.md §8, providers.md §6.5), the
``stop_reason`` ⇄ ``finish_reason`` maps (§5, providers.md §6.7), the usage arithmetic
(``input_tokens`` excludes cache reads and writes), the error envelope and the ids.
Pure, no I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 409: "conflict_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    504: "timeout_error", 529: "overloaded_error"}
"""``error.type`` by HTTP status (anthropic-ingress.md §8)."""
ERROR_STATUS: dict[str, int] = {kind: status for status, kind in ERROR_TYPES.items()}
"""HTTP status by ``error.type``: for an ``event: error`` inside a 200 stream."""

FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter"}
"""``stop_reason`` → chat ``finish_reason`` (providers.md §6.7; refusal → content_filter
as LiteLLM maps it)."""
STOP_REASONS: dict[str, str] = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "function_call": "tool_use", "content_filter": "refusal"}
"""Chat ``finish_reason`` → ``stop_reason`` (anthropic-ingress.md §10, the table read back)."""

MESSAGES_PREFIX = "/v1/messages"
"""The Messages API's paths (``/v1/messages``, ``/v1/messages/count_tokens``) start so."""
VERSION_HEADER = "anthropic-version"
API_VERSIONS = ("2023-06-01", "2026-10-21")
"""The two live ``anthropic-version``s (anthropic-ingress.md §0)."""
SAMPLING_REMOVED_IN = "2026-10-21"
"""From this version on ``temperature``, ``top_p`` and ``top_k`` are a 400."""


def error_type(status: int) -> str:
    """The ``error.type`` of an HTTP status; an unlisted one by its class."""
    return ERROR_TYPES.get(status) or ("api_error" if status >= 500
                                       else "invalid_request_error")


def error_body(status: int, message: str, request_id: str | None = None) -> dict:
    """Anthropic's error envelope: ``{"type": "error", "error": {type, message},
    "request_id"}`` (anthropic-ingress.md §8)."""
    body: dict = {"type": "error", "error": {"type": error_type(status), "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def native_usage(prompt: int, completion: int, cached: int = 0, written: int = 0) -> dict:
    """A Messages ``usage`` from chat-style counts: ``prompt`` includes the cached tokens,
    ``input_tokens`` does not (anthropic-ingress.md §5)."""
    return {"input_tokens": max(0, prompt - cached - written), "output_tokens": completion,
            "cache_creation_input_tokens": written, "cache_read_input_tokens": cached,
            "cache_creation": {"ephemeral_5m_input_tokens": written,
                               "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard"}


def prompt_tokens(native: Mapping) -> int:
    """The whole prompt of a Messages ``usage``: uncached input plus cache writes and reads."""
    return ((native.get("input_tokens") or 0) + (native.get("cache_creation_input_tokens") or 0)
            + (native.get("cache_read_input_tokens") or 0))


def message_id() -> str:
    return "msg_01" + secrets.token_hex(11)


def tool_use_id() -> str:
    return "toolu_01" + secrets.token_hex(11)

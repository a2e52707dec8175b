"""Rendering responses: JSON bodies and OpenAI-format errors.

Every error a data-plane client sees goes through ``error_response`` so that it is always
``{"error": {"message", "type", "param", "code"}}`` JSON with the right status, never
HTML or a stack trace (Anthropic's ``{"type": "error", "error": {type, message}}`` on the
Messages API). A chat reply relayed unchanged keeps the upstream's own text
(``sse.EventJSON``). ``from_http_exception`` converts aiohttp's own exceptions (router
404/405, body-size 413) into that shape.
"""

from __future__ import annotations

import json

from aiohttp import web

from behest_local.dialects.messages_wire import error_body
from behest_local.errors import GatewayError, InvalidRequestError, NotFoundError
from behest_local.json_text import EncodedJSON
from behest_local.sse import EventJSON

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_response(data: object, *, status: int = 200, headers: dict | None = None) -> web.Response:
    """``data`` as compact JSON. An ``sse.EventJSON`` that still holds its text (a reply
    relayed as the upstream sent it) is sent as that text, not encoded again; a
    ``json_text.EncodedJSON`` (a large reply encoded beside the loop) as its body."""
    if type(data) is EncodedJSON:
        return web.Response(body=data.body, status=status, headers=headers,
                            content_type="application/json")
    text = data.text if type(data) is EventJSON else None
    # "replace": a lone surrogate that got this far (a header's undecodable byte quoted in
    # a message) becomes "?" rather than a UnicodeEncodeError, which would turn the
    # answer into aiohttp's plain-text 500. Free for valid text (the error path only).
    return web.Response(body=(text if text is not None else _dumps(data)).encode(
        "utf-8", "replace"), status=status, headers=headers, content_type="application/json")


def error_response(error: GatewayError, *, anthropic_id: str | None = None) -> web.Response:
    """``error`` as OpenAI's envelope; with ``anthropic_id`` (the request id), as
    Anthropic's (``messages_wire.error_body``), for a request in that dialect."""
    if anthropic_id is not None:
        return json_response(error_body(error.status, error.message, anthropic_id),
                             status=error.status, headers=error.headers)
    return json_response(error.to_openai(), status=error.status, headers=error.headers)


def from_http_exception(exc: web.HTTPException, request: web.Request, *,
                        body_limit: int) -> GatewayError:
    status = exc.status
    if status == 404:
        if (request.path + "/").startswith("/v1/v1/"):
            # The v1.5 Behest SDKs append /v1/… to BEHEST_BASE_URL themselves
            # (reference/behest-api.md §2.3), so a base URL copied from an OpenAI example
            # doubles it.
            origin = f"{request.scheme}://{request.host}"
            return NotFoundError(
                f"Unknown request URL: {request.method} {request.path}: your base URL already "
                "ends in /v1 and the client added another. Behest's v1.5 SDKs want "
                f"BEHEST_BASE_URL without /v1 ({origin}); the OpenAI SDKs and the v1.x clients "
                f"want it with /v1 ({origin}/v1).", code="unknown_url")
        return NotFoundError(f"Unknown request URL: {request.method} {request.path}. Please check "
                             "the URL for typos; behest-local serves the OpenAI API under /v1.",
                             code="unknown_url")
    if status == 405:
        allowed = exc.headers.get("Allow", "")
        return GatewayError(f"Method {request.method} is not allowed for {request.path}; "
                            f"allowed: {allowed}.", status=405, type="invalid_request_error",
                            code="method_not_allowed", headers={"Allow": allowed})
    if status == 413:
        return InvalidRequestError(f"Request body too large: the limit is {body_limit} bytes "
                                   "(server.max_body_bytes in behest.toml).", status=413,
                                   code="request_too_large")
    return GatewayError(exc.reason or f"HTTP {status}", status=status,
                        type="invalid_request_error" if status < 500 else "server_error")

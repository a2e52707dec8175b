"""Reading a request body as JSON, with the checks OpenAI makes before any field is read.

Wrong ``Content-Type`` is 415, an oversized body 413 (aiohttp raises it while reading,
``render.from_http_exception`` words it), and a body that is not JSON 400 with the
position of the fault. JSON's non-standard ``NaN``/``Infinity`` are refused too: they
would otherwise leak into validation as floats no client could have meant.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from behest_local.errors import GatewayError, InvalidRequestError


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: ``json.loads(raw, parse_constant=…)`` would build a decoder (and its
# scanner) on every request. Stateless, so sharing it between requests is safe.
_decode = json.JSONDecoder(parse_constant=_refuse_constant).decode


async def read_json(request: web.Request) -> Any:
    declared = request.headers.get("Content-Type")
    if declared is not None:
        mime = declared.split(";", 1)[0].strip().lower()
        if mime != "application/json" and not mime.endswith("+json"):
            raise GatewayError(
                f"Unsupported Content-Type {mime!r}: send the body as JSON with "
                "'Content-Type: application/json'.", status=415, type="invalid_request_error",
                code="unsupported_media_type")
    raw = await request.read()
    if not raw.strip():
        raise InvalidRequestError("The request body is empty; this endpoint expects a JSON object.",
                                  code="invalid_json")
    try:
        # What ``json.loads`` does with bytes (RFC 8259 §8.1: UTF-8, or UTF-16/32 detected).
        return _decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except UnicodeDecodeError:
        raise InvalidRequestError("The request body is not valid UTF-8 JSON.",
                                  code="invalid_json") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}. The API expects a JSON payload.", code="invalid_json") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"We could not parse the JSON body of your request: {exc}.",
                                  code="invalid_json") from None

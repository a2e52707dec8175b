"""Reading a request body as JSON, with the checks OpenAI makes before any field is read.

Wrong ``Content-Type`` is 415, an oversized body 413 (aiohttp raises it while reading,
``render.from_http_exception`` words it), and a body that is not JSON 400 with the
position of the fault. JSON's non-standard ``NaN``/``Infinity`` are refused too: they
would otherwise leak into validation as floats no client could have meant.

A body larger than ``big_body.INLINE_BYTES`` is decoded, and checked by the route's
validator (``read_json(request, check)``), beside the event loop (``offload.off_loop``), and
so is any other work that grows with it (``beside_body``): a 20 MiB body must not hold the
loop. Once the request is over, ``release_body`` has what was decoded taken apart there too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.offload import fairly, off_loop
from behest_local.server.big_body import DECODER, INLINE_BYTES, decode_large, dismantle, text_of

T = TypeVar("T")


DECODED = web.RequestKey("decoded_body", list)
"""What ``read_json`` decoded of a large body, for ``release_body``."""


async def read_json(request: web.Request, check: Callable[[Any], T] | None = None) -> Any:
    """The request's JSON body, passed through ``check`` (a route's validator) if given."""
    declared = request.headers.get("Content-Type")
    if declared is not None:
        mime = declared.split(";", 1)[0].strip().lower()
        if mime != "application/json" and not mime.endswith("+json"):
            raise GatewayError(
                f"Unsupported Content-Type {mime!r}: send the body as JSON with "
                "'Content-Type: application/json'.", status=415, type="invalid_request_error",
                code="unsupported_media_type")
    raw = await request.read()
    if not raw or raw.isspace():
        raise InvalidRequestError("The request body is empty; this endpoint expects a JSON object.",
                                  code="invalid_json")
    if len(raw) <= INLINE_BYTES:
        return _checked(_decoded(raw), check)
    body, checked = await off_loop(_decoded_and_checked, raw, check)
    request[DECODED] = [body] if checked is body else [body, checked]
    return checked


async def beside_body(request: web.Request, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)``: on the loop for a small body, in a worker thread for a large one
    (work that grows with the body, such as rendering a completion's token prompts)."""
    if len(await request.read()) <= INLINE_BYTES:  # read() returns the body it already read
        return work(*args)
    return await off_loop(work, *args)


def release_body(request: web.Request) -> None:
    """Once a request is over (``server/middleware.py``): take apart beside the loop what
    ``read_json`` decoded of a large body; freed at once, millions of values hold the loop
    for tenths of a second (``big_body.dismantle``)."""
    decoded = request.pop(DECODED, None)
    if decoded is not None:
        # Handed over: the executor's reference is the only one left.
        asyncio.get_running_loop().run_in_executor(None, fairly, dismantle, decoded)
        del decoded


def _checked(body: Any, check: Callable[[Any], T] | None) -> Any:
    return check(body) if check is not None else body


def _decoded_and_checked(raw: bytes, check: Callable[[Any], T] | None) -> tuple[Any, Any]:
    body = _decoded(raw)
    try:
        return body, _checked(body, check)
    except BaseException as error:
        # Freed here, beside the loop: the error's frames would keep the body alive until
        # the loop drops the error, and the freeing would then hold the loop.
        error.__traceback__ = None
        holder = [body]
        del body
        dismantle(holder)
        raise


def _decoded(raw: bytes) -> Any:
    try:
        # What ``json.loads`` does with bytes (RFC 8259 §8.1: UTF-8, or UTF-16/32 detected).
        encoding = json.detect_encoding(raw)
        if len(raw) <= INLINE_BYTES:
            return DECODER.decode(raw.decode(encoding, "surrogatepass"))
        return decode_large(text_of(raw, encoding))
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

"""Reading a request body as JSON, with the checks OpenAI makes before any field is read.

Wrong ``Content-Type`` is 415, an oversized body 413 (aiohttp raises it while reading,
``render.from_http_exception`` words it), and a body that is not JSON 400 with the
position of the fault. JSON's non-standard ``NaN``/``Infinity`` are refused too: they
would otherwise leak into validation as floats no client could have meant.

Bad encodings are the client's fault and answer 400, never 500: a body that does not
decode as its ``Content-Encoding`` says (gzip garbage) or whose chunked framing breaks
(``payload_error``); bytes that are not UTF-8 (surrogates encoded as UTF-8 included);
and a lone surrogate written as a JSON escape (``"\\ud800"``), valid JSON that no UTF-8
text can hold, which would otherwise fail later wherever the text is encoded (hashing,
the trace database, the reply), naming the field (``param``). Only a body that contains
a surrogate escape at all (a scan in C, ``read_json``) is walked to find it.

A body larger than ``big_body.INLINE_BYTES`` is decoded, and checked by the route's
validator (``read_json(request, check)``), beside the event loop (``offload.off_loop``), and
so is any other work that grows with it (``beside_body``): a 20 MiB body must not hold the
loop. Once the request is over, ``release_body`` has what was decoded taken apart there too.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import http_exceptions, web

from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.exchange import media
from behest_local.offload import fairly, off_loop
from behest_local.printable import is_utf8_text
from behest_local.server.keys import FORM_PARTS
from behest_local.server.big_body import DECODER, INLINE_BYTES, decode_large, dismantle, text_of

T = TypeVar("T")


DECODED = web.RequestKey("decoded_body", list)
"""What ``read_json`` decoded of a large body, for ``release_body``."""


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A ``\\uD800``-``\\uDFFF`` escape: a surrogate, paired (an emoji) or lone (an error)."""


def payload_error(exc: web.RequestPayloadError) -> InvalidRequestError:
    """The 400 for a body aiohttp could not read: worded from the cause's type, never its
    message (which quotes the client's bytes)."""
    cause = exc.__cause__
    if isinstance(cause, http_exceptions.ContentEncodingError):
        why = "it does not decode as its Content-Encoding header says"
    elif isinstance(cause, http_exceptions.TransferEncodingError):
        why = "its chunked transfer coding is malformed"
    elif isinstance(cause, http_exceptions.ContentLengthError):
        why = "it is shorter than its Content-Length"
    elif isinstance(cause, http_exceptions.DecompressSizeError):
        why = "it decompresses to more than the gateway accepts"
    else:
        why = "it is malformed"
    return InvalidRequestError(f"The request body could not be read: {why}.",
                               code="invalid_body")


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
    try:
        raw = await request.read()
    except web.RequestPayloadError as exc:
        raise payload_error(exc) from None
    if not raw or raw.isspace():  # (``strip`` would copy a 20 MiB body to find out)
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
        try:
            # Handed over: the executor's reference is the only one left.
            asyncio.get_running_loop().run_in_executor(None, fairly, dismantle, decoded)
        except RuntimeError:  # the executor is shut down (the gateway is stopping)
            pass
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
        # What ``json.loads`` does with bytes (RFC 8259 §8.1: UTF-8, or UTF-16/32 detected),
        # but strict: its "surrogatepass" would let encoded surrogates in.
        encoding = json.detect_encoding(raw)
        if len(raw) <= INLINE_BYTES:
            data = DECODER.decode(raw.decode(encoding))
        else:
            data = decode_large(text_of(raw, encoding))
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
    # Scanned, not walked: a body without a backslash (memchr) has no escape at all, and
    # the regex costs ~0.3-1.6 ms per MiB against json's ~3. UTF-16/32 bodies, which no
    # SDK sends, are walked: the scan reads UTF-8 only.
    if encoding != "utf-8" or (raw.find(b"\\") != -1 and _has_surrogate_escape(raw)):
        _refuse_lone_surrogates(data)
    return data


def _has_surrogate_escape(raw: bytes) -> bool:
    """``_SURROGATE_ESCAPE.search(raw)``, a MiB at a time (each window overlapping the next
    by an escape's length): a large body is read beside the loop, and one regex pass over
    20 MiB of backslashes would still hold the GIL for tens of ms."""
    step = 1 << 20
    return any(_SURROGATE_ESCAPE.search(raw, start, start + step + 5) is not None
               for start in range(0, len(raw), step))


def _refuse_lone_surrogates(data: Any) -> None:
    """400 naming the first string (or key) of ``data`` that holds a lone surrogate."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            bad = not value.isascii() and not is_utf8_text(value)
        elif isinstance(value, dict):
            bad = False
            for key, item in reversed(list(value.items())):
                if not is_utf8_text(key):
                    bad, path = True, f"{path}.{key!a}".lstrip(".")
                    break
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            bad = False
            stack.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(value))))
        else:
            bad = False
        if bad:
            raise InvalidRequestError(
                f"The JSON body holds a lone surrogate escape (\\ud800-\\udfff without its "
                f"pair) in {path or 'the body'}: that is not valid Unicode text. Send UTF-8 "
                "text; a character outside the Basic Multilingual Plane is written as a "
                "high and a low surrogate escape together.", code="invalid_json",
                param=path or None)


async def form_field(part: Any, limit: int) -> str:
    """A multipart form's text field (``purpose``, ``model`` …), read up to ``limit`` bytes:
    a longer one is refused naming it, before more of it is read. ``part`` is aiohttp's
    ``BodyPartReader``; bytes that are not UTF-8 become U+FFFD for the route's own check."""
    value = b""
    while chunk := await part.read_chunk(limit):
        value += chunk
        if len(value) > limit:
            raise InvalidRequestError(f"The form field {part.name!r} is too long.",
                                      param=part.name, code="invalid_multipart")
    return value.decode("utf-8", "replace")


def note_part(request: web.Request, part: Any, value: bytes | str, size: int | None = None
              ) -> None:
    """Note a part of the form ``request`` carries, as the trace will show it
    (exchange/media.py): a text field's ``value``, or a file's first bytes (``value``) and
    ``size``. A form is read part by part, so the route that reads it is the only one to
    see each part whole (``routes/inspect.record_response`` records the notes)."""
    if isinstance(value, str):
        noted = media.field_part(part.name or "", value)
    else:
        noted = media.file_part(part.name or "", part.filename,
                                part.headers.get("Content-Type"), value[:media.HEAD_BYTES],
                                len(value) if size is None else size)
    parts = request.get(FORM_PARTS)
    if parts is None:
        request[FORM_PARTS] = parts = []
    parts.append(noted)

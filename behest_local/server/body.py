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
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import http_exceptions, web

from behest_local.errors import GatewayError, InvalidRequestError


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: ``json.loads(raw, parse_constant=…)`` would build a decoder (and its
# scanner) on every request. Stateless, so sharing it between requests is safe.
_decode = json.JSONDecoder(parse_constant=_refuse_constant).decode
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


async def read_json(request: web.Request) -> Any:
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
    if not raw.strip():
        raise InvalidRequestError("The request body is empty; this endpoint expects a JSON object.",
                                  code="invalid_json")
    try:
        # What ``json.loads`` does with bytes (RFC 8259 §8.1: UTF-8, or UTF-16/32 detected),
        # but strict: its "surrogatepass" would let encoded surrogates in.
        encoding = json.detect_encoding(raw)
        data = _decode(raw.decode(encoding))
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
    if encoding != "utf-8" or (raw.find(b"\\") != -1
                               and _SURROGATE_ESCAPE.search(raw) is not None):
        _refuse_lone_surrogates(data)
    return data


def _refuse_lone_surrogates(data: Any) -> None:
    """400 naming the first string (or key) of ``data`` that holds a lone surrogate."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            bad = not value.isascii() and _lone_surrogate(value)
        elif isinstance(value, dict):
            bad = False
            for key, item in reversed(list(value.items())):
                if _lone_surrogate(key):
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


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False

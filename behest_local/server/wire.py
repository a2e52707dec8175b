"""What the gateway says about a request aiohttp could not parse, and what it logs.

Some requests never reach the app: a malformed request line, a control byte in a header,
a header line over the size limit, broken chunked framing in the same packet as the
head. aiohttp answers those itself (``RequestHandler.handle_error``) with a plain-text
400 that quotes the offending line, and logs "Error handling request" with a traceback
that quotes it again. When that line is ``Authorization: Bearer <key>`` (a stray byte
after the key, a key pasted twice), the key lands in the client's error and in the
log. Likewise, after the app answered a request whose body broke mid-way (gzip
garbage), aiohttp's drain of the unread body logs the body's exception with a traceback
("Unhandled exception").

``GatewayProtocol`` (aiohttp's ``RequestHandler``, per connection) replaces both:

* a parse error answers OpenAI's error JSON (``{"error": {message, type, param,
  code}}``: the OpenAI SDKs parse it), 400 with ``Connection: close``, worded from the
  error's *type* (``describe``), never its message, and logs one line, without the
  request: the peer and what was wrong;
* a body whose framing breaks after its head was parsed (bad chunking in a later
  packet) fails that body's read, so its handler answers in its route's shape; aiohttp's
  C parser would drop the body and queue the error as the next request, leaving the
  handler waiting for the rest of the body until the client gave up;
* a client's own failure surfacing in aiohttp's logging (a payload error, a connection
  reset) is one debug line; a real failure keeps its traceback.

The route is unknown at that point (the head did not parse), so the body is OpenAI's
shape, the one most of the API speaks; errors found once the route is known (a body
that does not decode, a client that leaves mid-body) are the gateway middleware's and
answer in the route's shape (``server/body.py``, ``middleware.py``).

``GatewayRunner`` is an ``AppRunner`` whose server makes these protocols; it passes the
header limits it quotes (``HEAD_LINE_LIMIT``) to aiohttp itself, so the message and the
parser agree. ``runtime/running.py`` binds the gateway with it.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import http_exceptions, web
from aiohttp.http import HttpVersion11

from behest_local.errors import GatewayError
from behest_local.printable import printable
from behest_local.server.render import error_response

log = logging.getLogger("behest_local.http")

HEAD_LINE_LIMIT = 8190
"""Bytes in the request line and in one header line (aiohttp's default, made explicit)."""

_DESCRIPTIONS: tuple[tuple[type[Exception], str], ...] = (
    (http_exceptions.LineTooLong, f"the request line or a header line is longer than "
                                  f"{HEAD_LINE_LIMIT} bytes"),
    (http_exceptions.BadHttpMethod, "the request does not start with an HTTP method"),
    (http_exceptions.BadStatusLine, "the request line is malformed"),
    (http_exceptions.InvalidURLError, "the request target (URL) is malformed"),
    (http_exceptions.InvalidHeader, "a header has an invalid name or value"),
    (http_exceptions.TransferEncodingError, "the chunked transfer coding is malformed"),
    (http_exceptions.ContentLengthError, "the body is shorter than its Content-Length"),
    (http_exceptions.ContentEncodingError, "the body does not decode as its "
                                           "Content-Encoding says"),
)
_PLACEHOLDER_METHOD = "UNKNOWN"
"""The method of aiohttp's stand-in for a request whose head did not parse."""
_CLIENT_FAULTS = (http_exceptions.HttpProcessingError, web.RequestPayloadError, ConnectionError)
"""What a client can make aiohttp's own handling raise: logged in one line, no traceback."""


def describe(exc: BaseException | None) -> str:
    """What was wrong with an unparsable request, without quoting it: worded from the
    error's type where it has one here; else aiohttp's reason, only when it quotes no
    bytes (llhttp's is a fixed text before ":\n", the bytes follow; the others say
    "Missing 'Host' header in request." or "Too many headers received")."""
    if isinstance(exc, web.RequestPayloadError) and exc.__cause__ is not None:
        exc = exc.__cause__  # a body's failure: say what its parser found
    for kind, text in _DESCRIPTIONS:
        if isinstance(exc, kind):
            return text
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        reason = message.split(":\n", 1)[0]
        if "b'" not in reason and 'b"' not in reason:
            return printable(reason[:100]).rstrip(".")
    return "the request is not valid HTTP/1.1"


class GatewayProtocol(web.RequestHandler):
    """aiohttp's per-connection protocol, with the gateway's answer to what does not parse
    and logging that never quotes a request (see the module docstring)."""

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, http_exceptions.HttpProcessingError):  # the request did not parse
            if request.writer.output_size > 0:  # aiohttp's own rule: too late to answer
                raise ConnectionError("Response is sent already")
            why = describe(exc)
            # Debug for a stray non-HTTP client (TLS or a scanner on the port), as aiohttp.
            log.log(logging.DEBUG if isinstance(exc, http_exceptions.BadHttpMethod) else
                    logging.INFO, "refused an unparsable request from %s: %s (%d)",
                    request.remote, why, status)
            error = GatewayError(f"Malformed HTTP request: {why}.", status=status,
                                 type="invalid_request_error", code="malformed_request")
        else:  # the app failed past its middleware (500) or timed out (504): log as aiohttp
            super().handle_error(request, status, exc, message)
            error = GatewayError(f"The gateway failed while processing your request "
                                 f"({status} {HTTPStatus(status).phrase}); the behest-local "
                                 "log has the details.", status=status, code="internal_error")
        answer = error_response(error)
        answer.force_close()
        if request.method == _PLACEHOLDER_METHOD:
            # The head did not parse, so aiohttp's placeholder request stands in for it,
            # and would answer as HTTP/1.0; this server speaks HTTP/1.1 (RFC 9110 §2.5:
            # answer with the highest version it conforms to), as to every other request.
            # (Set before anything reads ``request.version``, which caches it.)
            request._version = HttpVersion11  # noqa: SLF001 (aiohttp has no setter)
        return answer

    def data_received(self, data: bytes) -> None:
        queued = len(self._messages)
        super().data_received(data)
        request = self._current_request
        if request is None or len(self._messages) <= queued:
            return
        # A parse error while a handler reads its body: aiohttp queued it as a request of
        # its own (and the parser forgot the body); fail the body's read with it instead.
        error = getattr(self._messages[-1][0], "exc", None)
        body = request.content
        if isinstance(error, http_exceptions.HttpProcessingError) and not body.is_eof() \
                and body.exception() is None:
            failure = web.RequestPayloadError(describe(error))
            failure.__cause__ = error
            body.set_exception(failure, error)

    def log_exception(self, *args, **kwargs) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, _CLIENT_FAULTS):
            log.debug("%s (%s: %s)", args[0] if args else "client error", type(exc).__name__,
                      describe(exc))
            return
        super().log_exception(*args, **kwargs)


class GatewayServer(web.Server):
    """aiohttp's server (the protocol factory), making ``GatewayProtocol``s."""

    def __call__(self) -> GatewayProtocol:
        return GatewayProtocol(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """``web.AppRunner`` serving through ``GatewayServer``, with the head limits above."""

    def __init__(self, app: web.Application, **kwargs) -> None:
        kwargs.setdefault("max_line_size", HEAD_LINE_LIMIT)
        kwargs.setdefault("max_field_size", HEAD_LINE_LIMIT)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        # AppRunner's own server (it also runs the app's startup), remade as a GatewayServer
        # with the same handler, request factory and protocol arguments.
        plain = await super()._make_server()
        return GatewayServer(plain.request_handler, request_factory=plain.request_factory,
                             handler_cancellation=plain.handler_cancellation,
                             **plain._kwargs)  # noqa: SLF001 (the arguments aiohttp chose)

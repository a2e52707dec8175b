"""How an answer tells the gateway middleware to end its exchange: ``Ending``.

Only the gateway middleware (``server/middleware.py``) ends an exchange
(``Exchange.finish``/``fail``), once the answer's last byte is out, so every exchange ends
once, after its response, in one place. Everything else that knows *how* an exchange
ends says so here instead:

* a phase that refuses (a CORS preflight, the per-IP or caller limits, the management
  API's dashboard token, a Behest route's error) returns its response from ``refuse``,
  which leaves the status, code, message and details on the request (``ENDING``);
* the stream relay (``streaming.relay``) leaves the ending of a stream that did not end
  well (an error event, a drop, a client gone, a shutdown).

The request, not the response, carries it: a stream cancelled mid-way has no response to
hand back, only the ``CancelledError`` its relay re-raises. The middleware reads
``ENDING`` only for the answers that may have one (an error status, a stream, a
cancellation), never for a plain success, and an answer without one ends as its status
says. A raised ``GatewayError`` needs none: the middleware renders it and fails the
exchange with its own status and code.
"""

from __future__ import annotations

from typing import NamedTuple

from aiohttp import web

from behest_local.server.render import json_response


class Ending(NamedTuple):
    """What ``Exchange.fail`` is told: the arguments of the exchange's failure."""

    status: int
    code: str | None
    message: str
    details: dict | None = None
    cancelled: bool = False
    """The client went away (the request was cancelled, not refused)."""


ENDING = web.RequestKey("ending", Ending)


def refuse(request: web.Request, body: dict, *, status: int, code: str, message: str,
           details: dict | None = None, headers: dict[str, str] | None = None
           ) -> web.Response:
    """A phase's refusal: ``body`` as JSON with ``status``, the exchange to fail with
    ``status``, ``code``, ``message`` and ``details`` once the middleware has written it."""
    request[ENDING] = Ending(status, code, message, details)
    return json_response(body, status=status, headers=headers)

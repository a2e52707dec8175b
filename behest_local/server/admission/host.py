"""The ``Host`` check: the first phase of every request, a guard against DNS rebinding.

**Placement.** ``check_host`` runs before anything else the gateway does with a request
(``server/middleware.py``): before CORS preflights, the management API, the per-IP
limit and authentication, and on the routes no other phase sees, ``/healthz`` and the
``/_behest/`` inspection endpoints. A page that rebinds its own name to 127.0.0.1 sends
same-origin requests that no CORS rule stops; only the ``Host`` it names gives it away
(policy/hosts.py has the rule and the reasons).

**Refusal.** 421 Misdirected Request (RFC 9110 §15.5.20: this server is not the one
that name is meant for), naming the host and the setting that would allow it, in the
route's error shape: OpenAI's on the OpenAI routes, ``/healthz`` and ``/_behest/``;
Behest's flat one on the management API, its nested one on Behest's v1.5 routes
(code ``forbidden``: the SDKs know no other code for it). Each refused host is logged
once (up to ``_LOGGED_MAX`` of them), escaped, so a user who reaches the gateway by a
name of their own learns what to add.

**Cost.** One header lookup and one dict lookup per request: verdicts are kept per
``Host`` value for the settings snapshot in force (a reload of ``allowed_hosts``
applies at once), at most ``_VERDICTS_MAX`` of them (``Host`` comes from clients).
"""

from __future__ import annotations

import logging

from aiohttp import web

from behest_local.config import Settings
from behest_local.dialects.messages_wire import error_body
from behest_local.errors import GatewayError
from behest_local.policy.hosts import HostRules
from behest_local.printable import printable
from behest_local.server.behest_errors import BehestAPIError, PathKind, nested_body
from behest_local.server.ending import refuse
from behest_local.server.keys import EXCHANGE, GATEWAY

log = logging.getLogger("behest_local.host")

STATUS = 421
CODE = "host_not_allowed"
_VERDICTS_MAX = 256
_LOGGED_MAX = 1000
_SHOWN_MAX = 100
"""Characters of a refused ``Host`` quoted in the answer and the log."""


class HostGate:
    """``Host`` verdicts for one settings snapshot (see the module docstring). One per
    application (``setup_host_check``); event-loop only."""

    __slots__ = ("_settings", "_rules", "_verdicts", "logged")

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._rules: HostRules | None = None
        self._verdicts: dict[str | None, bool] = {}
        self.logged: set[str] = set()

    def allows(self, settings: Settings, host: str | None) -> bool:
        verdict = self._verdicts.get(host) if settings is self._settings else None
        if verdict is None:
            if settings is not self._settings:
                server = settings.server
                self._settings, self._verdicts = settings, {}
                self._rules = HostRules.for_server(server.host, server.allowed_hosts)
            verdict = self._rules.allows(host)
            if len(self._verdicts) >= _VERDICTS_MAX:
                self._verdicts = {}
            self._verdicts[host] = verdict
        return verdict


HOSTS = web.AppKey("host_gate", HostGate)


def setup_host_check(app: web.Application) -> None:
    app[HOSTS] = HostGate()


def check_host(request: web.Request, kind: PathKind) -> web.Response | None:
    """The refusal of a request whose ``Host`` the gateway does not answer to, or None."""
    host = request.headers.get("Host")
    settings = request.app[GATEWAY].settings
    gate = request.app[HOSTS]
    if gate.allows(settings, host):
        return None
    shown = printable(host[:_SHOWN_MAX] + ("…" if len(host) > _SHOWN_MAX else ""))
    message = (f"Host '{shown}' is not allowed: behest-local answers requests for "
               f"localhost, *.localhost, its own address ({settings.server.host}) and the "
               "names in [server] allowed_hosts, so that a web page cannot reach it through "
               "a DNS name it controls (DNS rebinding). If you use this name on purpose, "
               "add it to [server] allowed_hosts in behest.toml.")
    if shown not in gate.logged and len(gate.logged) < _LOGGED_MAX:
        gate.logged.add(shown)
        log.warning("refused a request for Host '%s' (%s %s): not localhost, the bound "
                    "address or in [server] allowed_hosts", shown, request.method,
                    printable(request.path[:_SHOWN_MAX]))
    if kind.management:
        body = BehestAPIError(message, status=STATUS, code="HOST_NOT_ALLOWED").body()
    else:
        error = GatewayError(message, status=STATUS, type="invalid_request_error", code=CODE,
                             param="Host")
        body = nested_body(GatewayError(message, status=STATUS, code="forbidden")) \
            if kind.behest else error_body(STATUS, message, request[EXCHANGE].id) \
            if kind.anthropic else error.to_openai()
    return refuse(request, body, status=STATUS, code=CODE, message=message)

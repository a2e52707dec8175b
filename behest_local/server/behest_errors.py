"""Behest's management-API error shape, and the phase that admits control-plane calls.

**Shape.** The data plane answers errors in OpenAI's nested form (``render.py``). Behest's
management API (behest-auth) uses a *flat* envelope instead, reference/behest-api.md §3.4
and §7.16: ``{"error": "<message>", "code": "<CODE>", "retryable"?: bool,
"upgrade_url"?: str}``, as in ``{"error": "No openai API key configured for this tenant",
"code": "PROVIDER_NOT_CONFIGURED"}`` and ``{"error": "BYOAK requires a Pro subscription",
"code": "BYOAK_REQUIRES_PRO", "upgrade_url": "/settings/billing"}``. Every error on the
management routes, including malformed JSON, 401, 404 and 405, uses it, so a dashboard
client parses one shape. (Behest's v1.5 SDKs ignore flat codes; they do not call these
routes.)

**Admission.** ``serve_management`` is the gateway middleware's phase for management
routes (``server/middleware.py``), after CORS preflights and before the per-IP limit and
data-plane authentication: it checks the dashboard token (``Authorization: Bearer
<token>``, from ``behest-local dashboard-token``; a project API key is refused with a
hint) and calls the route's handler itself, so the data-plane key check never sees
control-plane calls.

**Nested shape (v1.5 routes).** The routes Behest's v1.5 SDKs call besides chat (mint
``/v1/auth/mint``, ``/v1/threads*``, ``/.well-known/jwks.json``) answer errors as
``{"error": {"code": "<code>", "message": "<text>", "details"?: {…}}}`` with the codes of
reference §3.3/§3.5 (``validation_error``, ``invalid_token``, ``token_expired``,
``forbidden``, ``quota_exceeded``, ``rate_limited``, ``server_error``…), which the SDKs turn
into typed errors. The legacy mint ``/auth/v1/auth/mint`` is behest-auth's and answers
flat, like the rest of ``/auth/v1/*`` (§3.4). ``behest_guard`` applies these shapes; the
data-plane authentication phase (``auth.serve_behest_route``) hands Behest routes to it.

**Paths.** ``path_kind`` classifies a path once (which plane, Behest's shape or OpenAI's,
CORS and limits or not, billed or not) and remembers it, so the gateway middleware and
its phases ask with one cached call instead of their own prefix checks.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from aiohttp import web

from behest_local.dialects.messages_wire import MESSAGES_PREFIX, VERSION_HEADER
from behest_local.errors import GatewayError
from behest_local.finops.recorder import INFERENCE_PATHS
from behest_local.identity.admin_secret import HEADER as ADMIN_HEADER
from behest_local.identity.api_keys import is_key_format
from behest_local.server.ending import refuse
from behest_local.server.keys import EXCHANGE, GATEWAY
from behest_local.server.render import from_http_exception

ADMIN_PREFIX = "/v1/admin/"
"""The admin kill-switch API (``routes/admin.py``): ``X-Admin-Secret``, not the dashboard
token."""
PATH_PREFIXES = ("/v1/tenants/", "/v1/projects/", ADMIN_PREFIX)
"""The control plane's paths (the data plane serves nothing under them)."""
UPGRADE_URL = "/settings/billing"

_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
          405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
          415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR", 503: "SERVICE_UNAVAILABLE"}


class BehestAPIError(Exception):
    """A management-API failure, rendered flat. ``code`` is Behest's SCREAMING_CASE code."""

    def __init__(self, message: str, *, status: int, code: str | None = None,
                 retryable: bool | None = None, upgrade_url: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.status = message, status
        self.code = code or _CODES.get(status, "INTERNAL_ERROR")
        self.retryable, self.upgrade_url = retryable, upgrade_url
        self.headers = headers or {}

    def body(self) -> dict:
        out: dict = {"error": self.message, "code": self.code}
        if self.retryable is not None:
            out["retryable"] = self.retryable
        if self.upgrade_url:
            out["upgrade_url"] = self.upgrade_url
        return out


def byoak_requires_pro() -> BehestAPIError:
    return BehestAPIError("BYOAK requires a Pro subscription", status=403,
                          code="BYOAK_REQUIRES_PRO", upgrade_url=UPGRADE_URL)


async def serve_management(request: web.Request) -> web.StreamResponse:
    """Answer a control-plane request (``path_kind(path).management``): the dashboard
    token, then the route's own handler, every error in the flat shape."""
    try:
        if request.match_info.http_exception is not None:
            raise _from_http(request.match_info.http_exception, request)
        admin = request.path.startswith(ADMIN_PREFIX)
        if admin:
            _authenticate_admin(request)
        else:
            _authenticate(request)
        request[EXCHANGE].authenticated(tenant=request.app[GATEWAY].settings.tenant_id,
                               project=request.match_info.get("pid", "*"),
                               credential="admin secret" if admin else "dashboard token")
        return await request.match_info.handler(request)
    except BehestAPIError as error:
        return _failed(request, error)
    except GatewayError as error:  # malformed JSON, wrong content type, body too large …
        return _failed(request, BehestAPIError(error.message, status=error.status,
                                               headers=error.headers))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _failed(request, _from_http(exc, request))


def _authenticate(request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise BehestAPIError("Missing dashboard token: send Authorization: Bearer <token>. "
                             "Print one with `behest-local dashboard-token`.", status=401)
    if request.app[GATEWAY].dashboard.verify(token):
        return
    if is_key_format(token):
        raise BehestAPIError("A project API key cannot call the management API: use the "
                             "dashboard token (`behest-local dashboard-token` prints one).",
                             status=401)
    raise BehestAPIError("Invalid dashboard token. `behest-local dashboard-token` prints a new "
                         "one (the previous one stops working).", status=401)


def _authenticate_admin(request: web.Request) -> None:
    """``X-Admin-Secret``: 401 without one; 403, the same words, for a wrong one and for a
    gateway with none configured (or a damaged record), so a caller learns nothing about
    which; both say how to make one. ``AdminSecret.verify`` compares in constant time."""
    presented = request.headers.get(ADMIN_HEADER, "").strip()
    hint = ("`behest-local admin-secret` prints a new one (`--rotate` replaces the current "
            "one); send it as X-Admin-Secret.")
    if not presented:
        raise BehestAPIError(f"Missing admin secret: the admin API needs X-Admin-Secret. "
                             f"{hint}", status=401)
    admin = request.app[GATEWAY].admin
    if admin is None or not admin.verify(presented):
        raise BehestAPIError(f"Invalid admin secret. {hint}", status=403)


def _from_http(exc: web.HTTPException, request: web.Request) -> BehestAPIError:
    if exc.status == 404:
        return BehestAPIError(f"Unknown management route: {request.method} {request.path}",
                              status=404)
    if exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        return BehestAPIError(f"Method {request.method} is not allowed for {request.path}; "
                              f"allowed: {allowed}", status=405, headers={"Allow": allowed})
    if exc.status == 413:
        return BehestAPIError("Request body too large", status=413)
    return BehestAPIError(exc.reason or f"HTTP {exc.status}", status=exc.status)


def _failed(request: web.Request, error: BehestAPIError) -> web.Response:
    return refuse(request, error.body(), status=error.status, code=error.code,
                  message=error.message, headers=error.headers)


# -- the nested shape of Behest's v1.5 routes --------------------------------------------

BEHEST_CODES = frozenset({
    "validation_error", "invalid_token", "token_expired", "forbidden", "quota_exceeded",
    "tier_limit", "rate_limited", "server_error", "upstream_error", "not_found",
    "not_supported", "method_not_allowed", "project_not_found"})
_NESTED = {400: "validation_error", 401: "invalid_token", 402: "quota_exceeded",
           403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "validation_error",
           415: "validation_error", 422: "validation_error", 429: "rate_limited"}
LEGACY_PREFIX = "/auth/v1/"


def is_behest_route(path: str) -> bool:
    """True for the Behest (non-OpenAI) routes of the data and auth planes."""
    return (path.startswith(("/v1/auth/", "/v1/threads/", "/v1/billing/", LEGACY_PREFIX))
            or path in ("/v1/threads", "/v1/usage", "/.well-known/jwks.json"))


class PathKind(NamedTuple):
    """What the gateway middleware's phases need to know about a request path."""

    gateway: bool
    """A data- or auth-plane route (``/v1/…``, ``/auth/v1/…``, JWKS): CORS and the per-IP
    limit apply (``cors.applies``)."""
    management: bool
    """The control plane (``/v1/projects``, ``/v1/tenants/…``): dashboard token, flat errors."""
    behest: bool
    """Behest's own data/auth-plane routes (``is_behest_route``): Behest's error shapes."""
    data: bool
    """Under ``/v1/``: the data plane's API-key/JWT authentication applies."""
    inference: bool
    """A billed route (``finops.recorder.INFERENCE_PATHS``): counts toward request limits."""
    anthropic: bool
    """Anthropic's Messages API (``/v1/messages…``): ``x-api-key`` accepted, errors and
    rate-limit headers in Anthropic's shape (``speaks_anthropic``)."""


@functools.lru_cache(maxsize=1024)  # bounded: paths come from clients
def path_kind(path: str) -> PathKind:
    """Classify ``path`` (cached: the gateway middleware asks on every request)."""
    return PathKind(
        gateway=path.startswith(("/v1/", LEGACY_PREFIX)) or path == "/.well-known/jwks.json",
        management=path.startswith(PATH_PREFIXES) or path == "/v1/projects",
        behest=is_behest_route(path), data=path.startswith("/v1/"),
        inference=path in INFERENCE_PATHS, anthropic=path.startswith(MESSAGES_PREFIX))


def speaks_anthropic(request: web.Request) -> bool:
    """Whether ``request`` is answered in Anthropic's dialect: a Messages API path, or the
    models list asked for with ``anthropic-version`` (how the Anthropic SDKs and Claude
    Code's model discovery call it, anthropic-ingress.md §7)."""
    path = request.path
    return path_kind(path).anthropic or (path.startswith("/v1/models")
                                         and VERSION_HEADER in request.headers)


def nested_body(error: GatewayError) -> dict:
    """``error`` in Behest's nested shape; codes outside Behest's set fall back by status."""
    code = error.code if error.code in BEHEST_CODES else \
        _NESTED.get(error.status, "server_error" if error.status >= 500 else "validation_error")
    inner: dict = {"code": code, "message": error.message}
    if error.param:
        inner["details"] = {"param": error.param}
    return {"error": inner}


async def behest_guard(request: web.Request, call) -> web.StreamResponse:
    """Run ``call()`` (the route, after any authentication) and render what it raises, and
    router 404/405s, in the route's Behest shape: flat under ``/auth/v1/``, else nested."""
    try:
        if request.match_info.http_exception is not None:
            raise request.match_info.http_exception
        return await call()
    except GatewayError as error:
        failure = error
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        failure = from_http_exception(
            exc, request, body_limit=request.app[GATEWAY].settings.server.max_body_bytes)
    body = BehestAPIError(failure.message, status=failure.status).body() \
        if request.path.startswith(LEGACY_PREFIX) else nested_body(failure)
    return refuse(request, body, status=failure.status, code=failure.code,
                  message=failure.message, headers=failure.headers)

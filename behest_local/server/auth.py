"""Data-plane authentication: ``Authorization: Bearer <project API key>`` on every /v1 route.

The key store's ``verify`` (SHA-256 lookup, slow hash checked once per key and cached)
maps a key to its project; the request then runs as a ``Principal`` with the settings
snapshot of this moment. Failures are 401 ``invalid_api_key`` in OpenAI's shape. Routes
outside ``/v1`` (``/healthz``) and unknown URLs (which become 404) skip authentication.
JWTs (Behest v1.5) join here in a later issue.
"""

from __future__ import annotations

from aiohttp import web

from behest_local.errors import AuthenticationError
from behest_local.keys import is_key_format
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL
from behest_local.server.principal import Principal

MISSING = ("You didn't provide an API key. You need to provide your API key in an Authorization "
           "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). Create one with "
           "`behest-local keys create --project local`.")


def mask(token: str) -> str:
    """OpenAI's way of naming a wrong key in an error: its start and end only."""
    if len(token) < 12:
        return "*" * len(token)
    return f"{token[:8]}{'*' * 4}{token[-4:]}"


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    if not request.path.startswith("/v1/") or request.match_info.http_exception is not None:
        return await handler(request)
    if request.method == "OPTIONS":
        return await handler(request)
    gateway = request.app[GATEWAY]
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if not header or scheme.lower() != "bearer" or not token:
        raise AuthenticationError(MISSING)
    record = gateway.keys.verify(token) if is_key_format(token) else None
    if record is None:
        raise AuthenticationError(
            f"Incorrect API key provided: {mask(token)}. Keys look like behest_sk_live_…; list "
            "yours with `behest-local keys list`.")
    settings = gateway.settings
    project = settings.project(record.project)
    if project is None:
        raise AuthenticationError(
            f"This API key belongs to project {record.project!r}, which is not configured in "
            f"{settings.source}.", code="project_not_found")
    user = request.headers.get("X-End-User-Id") or None
    session = request.headers.get("X-Session-Id") or None
    principal = Principal(settings.tenant_id, project, record.prefix + "…", settings, user, session)
    request[PRINCIPAL] = principal
    request[EXCHANGE].authenticated(tenant=principal.tenant, project=project.id,
                                    credential=principal.credential, user=user, session=session)
    return await handler(request)

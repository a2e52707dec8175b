"""The admin kill-switch API: stop and revive a project or a tenant's provider.

Behest has admin kill-switch endpoints behind ``X-Admin-Secret`` (reference/behest-api.md
§1.7) whose paths and bodies are not published; these are the emulator's, shaped like the
management API's routes (``routes/management.py``):

* ``POST /v1/admin/projects/{pid}/kill`` (optional JSON ``{"reason": "…"}``) and
  ``POST /v1/admin/projects/{pid}/revive``;
* ``POST /v1/admin/tenants/{tid}/providers/{provider}/kill`` and ``…/revive``;
* ``GET /v1/admin/kill-switches``: what is killed, when, why, and whether the state file
  is damaged.

They are control-plane routes: ``behest_errors.serve_management`` checks the admin secret
(``identity/admin_secret.py``) and renders errors in Behest's flat shape. A kill or revival
is written to the state file off the loop, then applied at once
(``policy/kill_switches.py``); the data plane then refuses (or serves) the very next request.
Kill and revive are idempotent (a second kill updates the reason).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from behest_local.policy.kill_switches import KillStateError, ProviderRefused, check_killable
from behest_local.server.behest_errors import BehestAPIError
from behest_local.server.body import read_json
from behest_local.server.keys import GATEWAY
from behest_local.server.render import json_response
from behest_local.server.routes.management import path_project, path_provider, path_tenant

MAX_REASON = 500
"""Characters of a kill's reason kept (it is shown in every refusal)."""


def setup_admin_routes(app: web.Application) -> None:
    for method, path, handler in (
            ("GET", "/v1/admin/kill-switches", list_kill_switches),
            ("POST", "/v1/admin/projects/{pid}/kill", kill_project),
            ("POST", "/v1/admin/projects/{pid}/revive", revive_project),
            ("POST", "/v1/admin/tenants/{tid}/providers/{provider}/kill", kill_provider),
            ("POST", "/v1/admin/tenants/{tid}/providers/{provider}/revive", revive_provider)):
        app.router.add_route(method, path, handler)


def _view(kills) -> dict:
    return {"projects": [{"project_id": name, **entry}
                         for name, entry in sorted(kills.entries["projects"].items())],
            "providers": [{"provider": name, **entry}
                          for name, entry in sorted(kills.entries["providers"].items())],
            "state_error": kills.damaged}


async def list_kill_switches(request: web.Request) -> web.Response:
    return json_response(_view(request.app[GATEWAY].kills))


async def _reason(request: web.Request) -> str | None:
    """The optional ``{"reason": "…"}`` of a kill; an empty body means none."""
    if not request.can_read_body:
        return None
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"reason"} or not isinstance(
            body.get("reason", ""), str):
        raise BehestAPIError('Expected no body, or a JSON body {"reason": "<why>"}', status=400)
    reason = " ".join(body.get("reason", "").split())[:MAX_REASON]
    return reason or None


async def _switch(request: web.Request, kind: str, name: str, killed: bool,
                  reason: str | None = None) -> dict | None:
    kills = request.app[GATEWAY].kills
    try:
        state = await asyncio.to_thread(kills.write, kind, name, killed, reason=reason,
                                        by="admin API")
    except KillStateError as exc:
        raise BehestAPIError(f"Kill switches unavailable: {exc}", status=503,
                             code="KILL_SWITCHES_DAMAGED", retryable=False) from None
    kills.apply(state)
    return state[kind].get(name)


async def kill_project(request: web.Request) -> web.Response:
    project = path_project(request)
    entry = await _switch(request, "projects", project.id, True, await _reason(request))
    return json_response({"project_id": project.id, "status": "killed", **entry})


async def revive_project(request: web.Request) -> web.Response:
    project = path_project(request)
    await _switch(request, "projects", project.id, False)
    return json_response({"project_id": project.id, "status": "active"})


def _tenant_provider(request: web.Request) -> tuple[str, str]:
    tid, provider = path_tenant(request), path_provider(request)
    try:
        check_killable(provider, request.app[GATEWAY].settings.providers,
                       request.app[GATEWAY].kills.providers)
    except ProviderRefused as exc:
        status = 404 if exc.code == "PROVIDER_NOT_FOUND" else 400
        raise BehestAPIError(str(exc), status=status, code=exc.code) from None
    return tid, provider


async def kill_provider(request: web.Request) -> web.Response:
    tid, provider = _tenant_provider(request)
    entry = await _switch(request, "providers", provider, True, await _reason(request))
    return json_response({"tenant_id": tid, "provider": provider, "status": "killed", **entry})


async def revive_provider(request: web.Request) -> web.Response:
    tid, provider = _tenant_provider(request)
    await _switch(request, "providers", provider, False)
    return json_response({"tenant_id": tid, "provider": provider, "status": "active"})

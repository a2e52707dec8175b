"""Behest's management API on localhost, so the migration guide's curl commands work as written.

Routes (all behind the dashboard token, errors in Behest's flat shape: ``behest_errors.py``):

* ``GET /v1/tenants/{tid}/providers`` and ``PUT|GET|DELETE /v1/tenants/{tid}/providers/{p}``:
  BYOK keys, stored in the vault (``vault/store.py``); responses show the last 4 characters only.
  The free plan is refused with 403 ``BYOAK_REQUIRES_PRO``.
* ``GET|POST /v1/projects``, ``GET /v1/projects/{pid}``: projects of ``behest.toml`` and those
  made here (kept in ``deployed.toml``); the free plan allows 3 active ones.
* ``GET|PUT /v1/projects/{pid}/settings``: read the live settings and edit the *draft*;
  ``DELETE …/settings/draft`` discards it; ``POST …/settings/deploy`` makes it live (409
  ``NO_DRAFT`` without one), at once or after ``emulator.deploy_delay_s``.

State changes go through ``deployed.DeployedStore`` and become the gateway's settings via
``reload.LiveConfig.refresh_deployed``; ``behest.toml`` is never written.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from aiohttp import web

from behest_local.config import DEFAULT_MODEL, FREE_PLAN_PROJECTS, ProjectConfig
from behest_local.config.models import is_unspecified, provider_for_model
from behest_local.config.errors import did_you_mean
from behest_local.config.parse import Reader, field_problems
from behest_local.config.render import to_toml
from behest_local.config.slugs import SLUG_RE, unique_slug
from behest_local.config.deployed import SETTABLE
from behest_local.secret import Secret
from behest_local.server.behest_errors import UPGRADE_URL, BehestAPIError, byoak_requires_pro
from behest_local.server.body import read_json
from behest_local.server.keys import GATEWAY
from behest_local.server.render import json_response
from behest_local.vault.key_formats import normalize_provider
from behest_local.vault.store import Vault, VaultError, VaultLocked


@dataclass(slots=True)
class VaultHolder:
    """The vault, unlocked on first use by a management call (not at startup)."""

    vault: Vault | None = None


VAULT = web.AppKey("management_vault", VaultHolder)


def setup_routes(app: web.Application) -> None:
    app[VAULT] = VaultHolder()
    for method, path, handler in (
            ("GET", "/v1/tenants/{tid}/providers", list_providers),
            ("PUT", "/v1/tenants/{tid}/providers/{provider}", put_provider),
            ("GET", "/v1/tenants/{tid}/providers/{provider}", get_provider),
            ("DELETE", "/v1/tenants/{tid}/providers/{provider}", delete_provider),
            ("GET", "/v1/projects", list_projects), ("POST", "/v1/projects", create_project),
            ("GET", "/v1/projects/{pid}", get_project),
            ("GET", "/v1/projects/{pid}/settings", get_settings),
            ("PUT", "/v1/projects/{pid}/settings", put_settings),
            ("DELETE", "/v1/projects/{pid}/settings/draft", discard_draft),
            ("POST", "/v1/projects/{pid}/settings/deploy", deploy)):
        app.router.add_route(method, path, handler)


# -- provider keys (BYOK) --------------------------------------------------------------------


def path_tenant(request: web.Request) -> str:
    settings = request.app[GATEWAY].settings
    tid = request.match_info["tid"]
    if tid != settings.tenant.id:
        raise BehestAPIError(f"Unknown tenant {tid!r}: this gateway is tenant "
                             f"{settings.tenant.id!r} ([tenant] id in behest.toml)", status=404,
                             code="TENANT_NOT_FOUND")
    return tid


def path_provider(request: web.Request) -> str:
    try:
        return normalize_provider(request.match_info["provider"])
    except VaultError as exc:
        raise BehestAPIError(str(exc), status=400, code="INVALID_PROVIDER") from None


async def _vault(request: web.Request) -> Vault:
    holder = request.app[VAULT]
    if holder.vault is None:
        try:  # scrypt for a passphrase vault: seconds of CPU, off the event loop
            holder.vault = await asyncio.to_thread(Vault.open, request.app[GATEWAY].home)
        except VaultLocked as exc:
            raise BehestAPIError(f"{exc}; then restart behest-local", status=503,
                                 code="VAULT_LOCKED", retryable=False) from None
        except VaultError as exc:
            raise BehestAPIError(str(exc), status=503, code="VAULT_UNAVAILABLE",
                                 retryable=False) from None
    return holder.vault


def _key_view(tid: str, entry) -> dict:
    return {"tenant_id": tid, "provider": entry.provider, "key_last4": entry.last4,
            "added_at": entry.added_at, "configured": True}


async def list_providers(request: web.Request) -> web.Response:
    tid = path_tenant(request)
    entries = await asyncio.to_thread((await _vault(request)).list)
    return json_response({"providers": [_key_view(tid, e) for e in entries]})


async def put_provider(request: web.Request) -> web.Response:
    tid, provider = path_tenant(request), path_provider(request)
    if request.app[GATEWAY].settings.tenant.plan == "free":
        raise byoak_requires_pro()
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("api_key"), str):
        raise BehestAPIError('Expected a JSON body {"api_key": "<your provider key>"}', status=400)
    key = Secret(body.pop("api_key"))
    vault = await _vault(request)
    try:
        await asyncio.to_thread(vault.set, provider, key)
    except VaultError as exc:  # a wrong key format says what was expected, never the key
        raise BehestAPIError(f"api_key: {exc}", status=400,
                             code="INVALID_API_KEY_FORMAT") from None
    gateway = request.app[GATEWAY]
    await asyncio.to_thread(gateway.provider_keys.refresh)
    entry = next(e for e in await asyncio.to_thread(vault.list) if e.provider == provider)
    return json_response(_key_view(tid, entry))


async def get_provider(request: web.Request) -> web.Response:
    tid, provider = path_tenant(request), path_provider(request)
    entries = await asyncio.to_thread((await _vault(request)).list)
    entry = next((e for e in entries if e.provider == provider), None)
    if entry is None:
        raise BehestAPIError(f"No {provider} API key configured for this tenant", status=404,
                             code="PROVIDER_NOT_CONFIGURED")
    return json_response(_key_view(tid, entry))


async def delete_provider(request: web.Request) -> web.Response:
    path_tenant(request)
    provider = path_provider(request)
    removed = await asyncio.to_thread((await _vault(request)).remove, provider)
    if not removed:
        raise BehestAPIError(f"No {provider} API key configured for this tenant", status=404,
                             code="PROVIDER_NOT_CONFIGURED")
    await asyncio.to_thread(request.app[GATEWAY].provider_keys.refresh)
    return web.Response(status=204)


# -- projects --------------------------------------------------------------------------------


def path_project(request: web.Request, pid: str | None = None) -> ProjectConfig:
    pid = pid or request.match_info["pid"]
    settings = request.app[GATEWAY].settings
    project = next((p for p in settings.projects if p.id == pid), None)
    if project is None:
        raise BehestAPIError(f"Unknown project {pid!r}; GET /v1/projects lists them",
                             status=404, code="PROJECT_NOT_FOUND")
    return project


def _project_view(request: web.Request, project: ProjectConfig, made: dict) -> dict:
    """A project as Behest lists it; ``made`` is the deployed layer's ``created`` table."""
    gateway = request.app[GATEWAY]
    created = made.get(project.id)
    return {"id": project.id, "tenant_id": gateway.settings.tenant.id, "name": project.name,
            "slug": project.slug, "status": project.status, "dns_status": "READY",
            "provider_model": project.provider_model,
            "source": "api" if created else "behest.toml",
            **({"created_at": created["created_at"]} if created else {})}


async def _made(request: web.Request) -> dict:
    doc = await asyncio.to_thread(request.app[GATEWAY].live.deployed.read)
    return doc.get("created", {})


async def list_projects(request: web.Request) -> web.Response:
    projects, made = request.app[GATEWAY].settings.projects, await _made(request)
    return json_response({"projects": [_project_view(request, p, made) for p in projects]})


async def get_project(request: web.Request) -> web.Response:
    return json_response(_project_view(request, path_project(request), await _made(request)))


async def create_project(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    settings = gateway.settings
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
            or not body["name"].strip():
        raise BehestAPIError('Expected a JSON body {"name": "<project name>"}', status=400)
    problems = field_problems(ProjectConfig, "name", body["name"].strip())  # behest.toml's rules
    if problems:
        raise BehestAPIError("; ".join(problems), status=400)
    unknown = [k for k in body if k not in ("name", "slug")]
    if unknown:
        raise BehestAPIError(f"Unknown field {unknown[0]!r}: expected name and slug", status=400)
    active = sum(p.status == "active" for p in settings.projects)
    if settings.tenant.plan == "free" and active >= FREE_PLAN_PROJECTS:
        raise BehestAPIError(f"The free plan allows {FREE_PLAN_PROJECTS} active projects",
                             status=403, code="PROJECT_LIMIT_REACHED",
                             upgrade_url=UPGRADE_URL)
    taken = {p.slug for p in settings.projects}
    project_id = "proj_" + secrets.token_hex(8)
    slug = body.get("slug") or unique_slug(project_id, taken)
    if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
        raise BehestAPIError("slug: expected Behest's {adjective}-{noun}-{3 digits} form, "
                             "e.g. 'amber-fox-042'", status=400)
    if slug in taken:
        raise BehestAPIError(f"The slug {slug!r} is taken", status=409, code="SLUG_TAKEN")
    await asyncio.to_thread(gateway.live.deployed.create_project, project_id,
                            body["name"].strip(), slug)
    gateway.live.refresh_deployed()
    return json_response(_project_view(request, path_project(request, project_id),
                                       await _made(request)), status=201)


# -- project settings: draft and deploy --------------------------------------------------------


def _settings_view(project: ProjectConfig) -> dict:
    return {key: to_toml(getattr(project, key)) for key in SETTABLE}


async def get_settings(request: web.Request) -> web.Response:
    project = path_project(request)
    doc = await asyncio.to_thread(request.app[GATEWAY].live.deployed.read)
    draft = doc.get("drafts", {}).get(project.id)
    live = doc.get("live", {}).get(project.id)
    pending = doc.get("pending", {}).get(project.id)
    return json_response({
        "project_id": project.id, "settings": _settings_view(project),
        "draft": draft["settings"] if draft else None,
        "draft_updated_at": draft["updated_at"] if draft else None,
        "deployed_at": live["deployed_at"] if live else None,
        "pending": {"live_at": pending["live_at"], "settings": pending["settings"]}
        if pending else None})


async def put_settings(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    project = path_project(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not body:
        raise BehestAPIError('Expected a JSON object of settings, e.g. {"provider_model": '
                             '"gpt-4o"}', status=400)
    for key in body:
        if key not in SETTABLE:
            hint = did_you_mean(key, SETTABLE)
            raise BehestAPIError(f"Unknown setting {key!r}: expected {', '.join(SETTABLE)}"
                                 + (f" ({hint})" if hint else ""), status=400)
    reader = Reader()
    updated = reader.apply(project, body, ())
    if reader.problems:
        raise BehestAPIError("; ".join(p.message for p in reader.problems), status=400)
    model = updated.provider_model
    warnings = _check_model(gateway, None if is_unspecified(model) else model)
    draft = await asyncio.to_thread(gateway.live.deployed.put_draft, project.id, body)
    return json_response({"project_id": project.id, "status": "draft", "draft": draft,
                          "warnings": warnings})


def _check_model(gateway, model: str | None) -> list[str]:
    """Behest's checks of a provider_model: a known model whose provider has a key."""
    settings = gateway.settings
    if model is None:
        return []
    provider = provider_for_model(model, settings.providers)
    if provider is None:
        raise BehestAPIError(f"Unknown model {model!r}: use a model such as gpt-4o, "
                             "claude-sonnet-4-20250514 or gemini-2.5-pro", status=422,
                             code="MODEL_NOT_FOUND")
    if not settings.requires_key(provider) or model == DEFAULT_MODEL:
        return []
    if settings.tenant.plan == "free":
        raise byoak_requires_pro()
    if gateway.provider_keys.has(provider):
        return []
    message = f"No {provider} API key configured for this tenant"
    if not settings.emulator.emulate_unconfigured:
        raise BehestAPIError(message, status=422, code="PROVIDER_NOT_CONFIGURED")
    return [f"{message}: requests are served by the emulated model until you add one "
            f"(PUT /v1/tenants/{settings.tenant.id}/providers/{provider})"]


async def discard_draft(request: web.Request) -> web.Response:
    project = path_project(request)
    deployed = request.app[GATEWAY].live.deployed
    if not await asyncio.to_thread(deployed.discard_draft, project.id):
        raise BehestAPIError("No draft to discard", status=409, code="NO_DRAFT")
    return web.Response(status=204)


async def deploy(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    project = path_project(request)
    store = gateway.live.deployed
    before = await asyncio.to_thread(store.read)
    delay = gateway.settings.emulator.deploy_delay_s
    entry = await asyncio.to_thread(store.deploy, project.id, delay)
    if entry is None:
        raise BehestAPIError(f"No draft to deploy: PUT /v1/projects/{project.id}/settings "
                             "first", status=409, code="NO_DRAFT")
    if not gateway.live.refresh_deployed():  # the result breaks a rule: undo, say why
        await asyncio.to_thread(store.restore, before)
        gateway.live.refresh_deployed()
        raise BehestAPIError("The draft cannot go live with the current behest.toml; see the "
                             "gateway log", status=422)
    # what is (or will be, after the delay) live
    future = (path_project(request) if delay <= 0
              else Reader().apply(project, entry["settings"], ()))
    return json_response({"project_id": project.id,
                          "status": "deploying" if delay > 0 else "deployed",
                          "deployed_at": entry["deployed_at"], "live_at": entry["live_at"],
                          "settings": _settings_view(future)})

"""Behest's v1.5 auth routes: mint and JWKS, plus the wiring of threads.

``setup_behest_routes(app)`` (called from ``app.setup_routes``) puts the JWT key ring and
the threads database on the application (``server.keys.KEYRING``/``THREADS``), closes the
database on cleanup, and adds:

* ``POST /v1/auth/mint`` (what the v1.5 SDKs call) and the legacy ``POST
  /auth/v1/auth/mint`` (reference/behest-api.md §1.1, §1.2): ``Authorization: Bearer
  <project API key>``, body ``{user_id, role?, ttl?, tier?, session_id?}`` checked by
  ``auth_jwt.MintRequest``; answers the union of the documented responses with an RS256
  token signed by the platform key (``Cache-Control: no-store``, RFC 6749 §5.1). The
  platform key is unsealed once per process in a worker thread (made on first use).
* ``GET /.well-known/jwks.json``: the RFC 7517 JWK Set of the platform key and every
  active tenant signing key, public, cacheable for the 5 minutes Kong caches it (§1.3).
* ``/v1/threads*``: ``thread_routes``.

Errors: nested ``{"error": {"code", "message"}}`` on ``/v1/…``, flat on the legacy
``/auth/v1/…`` path (``behest_errors.behest_guard``, entered from ``auth.py``).
``GET /v1/usage`` is not served here: it is 404, which the SDKs report as
``not_supported`` (§1.6), until usage lands.
"""

from __future__ import annotations

from aiohttp import web

from behest_local.auth_jwt import ClaimError, KeyRing, MintRequest, looks_like_jwt, mint
from behest_local.errors import AuthenticationError, GatewayError, InvalidRequestError
from behest_local.keys import is_key_format
from behest_local.server import thread_routes
from behest_local.server.auth import bearer_token, verify_api_key
from behest_local.server.body import read_json
from behest_local.server.keys import EXCHANGE, GATEWAY, KEYRING, THREADS
from behest_local.server.render import json_response
from behest_local.threads import THREADS_FILE, ThreadStore
from behest_local.vault import VaultError

MINT_MISSING = ("The mint endpoint needs your project API key: Authorization: Bearer "
                "behest_sk_live_… (create one with `behest-local keys create --project local`).")


def setup_behest_routes(app: web.Application) -> None:
    """Add the Behest auth and threads routes, and the state they use, to ``app``."""
    home = app[GATEWAY].home
    app[KEYRING] = KeyRing(home)
    app[THREADS] = ThreadStore(home / THREADS_FILE)
    app.router.add_post("/v1/auth/mint", mint_token)
    app.router.add_post("/auth/v1/auth/mint", mint_token)
    app.router.add_get("/.well-known/jwks.json", jwks)
    thread_routes.setup(app)
    app.on_cleanup.append(_close_threads)


async def _close_threads(app: web.Application) -> None:
    await app[THREADS].close()


async def mint_token(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    settings = gateway.settings
    token = bearer_token(request, missing=MINT_MISSING)
    if looks_like_jwt(token):
        raise AuthenticationError("The mint endpoint takes your project API key "
                                  "(behest_sk_live_…), not a JWT.", code="invalid_token")
    record = gateway.keys.verify(token) if is_key_format(token) else None
    project = verify_api_key(settings, record, token)
    if project.status != "active":
        raise AuthenticationError(f"Project {project.id!r} is {project.status}: its API keys "
                                  "mint no tokens (status in behest.toml).", code="invalid_token")
    try:
        wanted = MintRequest.parse(await read_json(request))
    except ClaimError as exc:
        raise InvalidRequestError(exc.message, code="validation_error", param=exc.param) from None
    request[EXCHANGE].authenticated(tenant=settings.tenant_id, project=project.id,
                                    credential=record.prefix + "…", user=wanted.user_id,
                                    session=wanted.session_id)
    try:
        signer = await request.app[KEYRING].signer()
    except VaultError as exc:
        raise GatewayError(f"Cannot mint: the platform signing key is sealed by the vault, "
                           f"which cannot be opened ({exc}).", status=503, type="server_error",
                           code="server_error") from None
    result = mint(signer, wanted, tenant=settings.tenant_id, project=project.id)
    return json_response(result, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def jwks(request: web.Request) -> web.Response:
    return json_response(request.app[KEYRING].jwks(),
                         headers={"Cache-Control": "public, max-age=300"})

"""Behest's own v1.5 routes (mint, JWKS, threads) and the chat hook behind ``X-Thread-Id``.

``setup_behest_routes(app)`` (called from ``app.setup_routes``) puts the JWT key ring and
the threads database on the application (``server.keys.KEYRING``/``THREADS``), closes the
database on cleanup, and adds:

* ``POST /v1/auth/mint`` (what the v1.5 SDKs call) and the legacy ``POST
  /auth/v1/auth/mint`` (reference/behest-api.md §1.1, §1.2): ``Authorization: Bearer
  <project API key>``, body ``{user_id, role?, ttl?, tier?, session_id?}`` checked by
  ``identity/jwt.MintRequest``; answers the union of the documented responses with an RS256
  token signed by the platform key (``Cache-Control: no-store``, RFC 6749 §5.1). The
  platform key is unsealed once per process in a worker thread (made on first use).
* ``GET /.well-known/jwks.json``: the RFC 7517 JWK Set of the platform key and every
  active tenant signing key, public, cacheable for the 5 minutes Kong caches it (§1.3).
* ``/v1/threads*`` (§1.5; JWT, or API key unless ``strict_v15``): ``GET /v1/threads``
  (array, most recent first), ``GET /v1/threads/{id}`` (``id``, ``title``, ``created_at``,
  ``last_message_at``, ``messages_count``), ``GET /v1/threads/{id}/messages`` (array of
  ``{id, role, content, created_at…}``), ``DELETE /v1/threads/{id}`` (204); unknown → 404
  ``not_found``. Scoped to (project, user): the JWT's ``uid``, or ``X-End-User-Id`` with an
  API key, else ``default`` (the SDK's default user). Ids may contain ``/`` (the Python SDK
  does not encode them), so ``{id}`` takes the rest of the path.

``begin_turn`` is the chat handler's hook: with ``X-Thread-Id`` it loads the thread's
history (off the loop, ``threads/store.ThreadStore``) and returns a ``threads/turn.Turn``.

Errors: nested ``{"error": {"code", "message"}}`` on ``/v1/…``, flat on the legacy
``/auth/v1/…`` path (``behest_errors.behest_guard``, entered from ``server/admission/auth.py``).
``GET /v1/usage`` is not served here: it is 404, which the SDKs report as
``not_supported`` (§1.6), until usage lands.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from behest_local.identity.jwt import ClaimError, KeyRing, MintRequest, looks_like_jwt, mint
from behest_local.errors import (AuthenticationError, GatewayError, InvalidRequestError,
                                 NotFoundError)
from behest_local.home import database_path
from behest_local.identity.api_keys import is_key_format
from behest_local.server.admission.auth import bearer_token, verify_api_key
from behest_local.server.body import beside_body, read_json
from behest_local.server.keys import EXCHANGE, GATEWAY, KEYRING, PRINCIPAL, THREADS
from behest_local.server.render import json_response
from behest_local.threads.turn import Turn
from behest_local.threads.store import THREADS_FILE, ThreadKey, ThreadStore
from behest_local.vault.store import VaultError

MINT_MISSING = ("The mint endpoint needs your project API key: Authorization: Bearer "
                "behest_sk_live_… (create one with `behest-local keys create --project local`).")
THREAD_HEADER = "X-Thread-Id"
DEFAULT_USER = "default"
MAX_THREAD_ID = 255


def setup_behest_routes(app: web.Application) -> None:
    """Add the Behest auth and threads routes, and the state they use, to ``app``."""
    home = app[GATEWAY].home
    app[KEYRING] = KeyRing(home)
    app[THREADS] = ThreadStore(database_path(home, THREADS_FILE))
    app.router.add_post("/v1/auth/mint", mint_token)
    app.router.add_post("/auth/v1/auth/mint", mint_token)
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_get("/v1/threads", list_threads)
    app.router.add_get("/v1/threads/{id:.+}/messages", thread_messages)
    app.router.add_get("/v1/threads/{id:.+}", get_thread)
    app.router.add_delete("/v1/threads/{id:.+}", delete_thread)
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
    record = gateway.keys.cached(token)
    if record is None and is_key_format(token):  # first use: the slow hash, off the loop
        record = await asyncio.to_thread(gateway.keys.verify, token)
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
    if gateway.kills is not None:  # a killed project's keys mint nothing (403 forbidden)
        gateway.kills.check_project(project.id)
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


# -- threads ------------------------------------------------------------------------------


def _check_id(thread: str, source: str) -> str:
    # isprintable: no control characters, and no lone surrogates (the header bytes aiohttp
    # could not decode as UTF-8), which the thread store could not even encode.
    if not thread or len(thread) > MAX_THREAD_ID or not thread.isprintable():
        raise InvalidRequestError(f"{source} must be 1-{MAX_THREAD_ID} printable UTF-8 "
                                  "characters.", code="validation_error", param=source)
    return thread


def _key(request: web.Request, thread: str) -> ThreadKey:
    principal = request[PRINCIPAL]
    return ThreadKey(principal.project.id, principal.user or DEFAULT_USER, thread)


async def begin_turn(request: web.Request, body: dict) -> Turn:
    """The thread turn of a validated chat body: a no-op ``Turn`` without ``X-Thread-Id``."""
    thread = (request.headers.get(THREAD_HEADER) or "").strip()
    store = request.app.get(THREADS)
    if not thread or store is None:
        return Turn(body)
    key = _key(request, _check_id(thread, THREAD_HEADER))
    history = await store.history(key)
    # Normalizing and comparing every message: beside the loop for a large body.
    return await beside_body(request, Turn.start, store, key, body, history)


def _missing(key: ThreadKey) -> NotFoundError:
    return NotFoundError(f"Thread {key.thread!r} not found for user {key.user!r} of project "
                         f"{key.project!r}. Threads are created by a chat request with "
                         f"{THREAD_HEADER}.", code="not_found")


async def list_threads(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    threads = await request.app[THREADS].list(principal.project.id,
                                              principal.user or DEFAULT_USER)
    return json_response(threads)


async def get_thread(request: web.Request) -> web.Response:
    key = _key(request, _check_id(request.match_info["id"], "id"))
    thread = await request.app[THREADS].get(key)
    if thread is None:
        raise _missing(key)
    return json_response(thread)


async def thread_messages(request: web.Request) -> web.Response:
    key = _key(request, _check_id(request.match_info["id"], "id"))
    # The JSON is made on the store's thread: a thread may hold many 20 MiB messages.
    messages = await request.app[THREADS].messages_json(key)
    if messages is None:
        raise _missing(key)
    return web.Response(body=messages, content_type="application/json")


async def delete_thread(request: web.Request) -> web.Response:
    key = _key(request, _check_id(request.match_info["id"], "id"))
    if not await request.app[THREADS].delete(key):
        raise _missing(key)
    return web.Response(status=204)

"""Data-plane authentication: ``Authorization: Bearer <API key or JWT>`` → ``Principal``.

On Anthropic's Messages API the credential may come as ``x-api-key`` too
(``credential_header``), as the Anthropic SDKs and Claude Code send it.

Two credentials reach the data plane (reference/behest-api.md §1.4, §2, §7.8):

* **Behest JWTs** (v1.5): minted by ``POST /v1/auth/mint`` or signed locally by an SDK with
  a registered signing key. ``KeyRing.verify`` checks them (RS256 only, kid lookup,
  ``exp``/``nbf``/``iat``, ``aud``, ``iss``: ``identity/jwt/verify.py``); the identity they
  carry (tenant, project, user, role, tier, session) becomes the principal. Refusals are
  401 ``invalid_token`` or ``token_expired`` (403 ``forbidden`` for a token of another
  tenant or a signing key of another project), with RFC 6750 §3's ``WWW-Authenticate``.
* **Project API keys** (v1.x): accepted unless the project sets ``strict_v15``, which
  refuses them with 401 as the cloud does. ``X-End-User-Id`` names the user.

* **Batch lines**: the batch runner sends each line of a batch back through the gateway
  with a random per-batch token (``INTERNAL_CALLERS``, in memory only), which becomes the
  principal of the caller who made the batch (``kind="batch"``).

**Kill switches.** A principal of a project an admin killed is refused with 403
``forbidden`` once identified (``policy/kill_switches.py``; Kong checks them after the
JWT), on every route that authenticates here: inference, threads, usage. Mint checks it
itself (``routes/behest.mint_token``). One set lookup, on cached principals too.

``X-Session-Id`` (else the JWT's ``sid``) groups requests. Both must be printable text
(``identifier``: 400 naming the header otherwise). Authentication is a phase of
the gateway middleware (``server/middleware.py``), after the per-IP limit and before the
caller's limits: ``authenticate_async`` for the OpenAI routes under ``/v1``; routes outside
``/v1`` and unknown URLs skip it. Behest's own routes (mint, JWKS, threads) go through
``serve_behest_route`` (``behest_errors.behest_guard``) so their errors have Behest's
shape, and only threads need a principal (mint checks its API key itself, JWKS is public).

**Cost.** An API key's slow hash (scrypt, ~70 ms) runs once per key per process, in a
worker thread (``authenticate_async``): the event loop keeps serving meanwhile. After that
a request costs one ``PrincipalCache`` lookup by its raw ``Authorization`` header: the
principal of a (key, user, session) is built once per settings snapshot and key-store
generation, so neither the header's parsing nor ``KeyStore.cached``'s SHA-256 repeats.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from behest_local.identity.jwt import TokenError, looks_like_jwt
from behest_local.config import ProjectConfig, Settings
from behest_local.errors import AuthenticationError, GatewayError, InvalidRequestError
from behest_local.identity.api_keys import KeyRecord, is_key_format
from behest_local.server.behest_errors import behest_guard, speaks_anthropic
from behest_local.server.keys import EXCHANGE, GATEWAY, INTERNAL_CALLERS, KEYRING, PRINCIPAL
from behest_local.server.admission.principal import InternalCaller, Principal

MISSING = ("You didn't provide an API key. You need to provide your API key in an Authorization "
           "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). Create one with "
           "`behest-local keys create --project local`.")
MISSING_ANTHROPIC = ("x-api-key header is required: send your behest-local project key in "
                     "x-api-key (or as Authorization: Bearer). Create one with "
                     "`behest-local keys create --project local`.")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="behest", error="invalid_token"'}
USER_HEADER, SESSION_HEADER = "X-End-User-Id", "X-Session-Id"


def mask(token: str) -> str:
    """OpenAI's way of naming a wrong key in an error: its start and end only."""
    if len(token) < 12:
        return "*" * len(token)
    return f"{token[:8]}{'*' * 4}{token[-4:]}"


class PrincipalCache:
    """API-key principals by (``Authorization`` header, user, session), for one settings
    snapshot and one ``KeyStore.generation``.

    A ``Principal`` depends on nothing else, so each is built once, and a request whose header
    was seen before skips parsing it and ``KeyStore.cached``'s SHA-256. The cache starts afresh
    when the settings object changes, when the key store's index is replaced (a reload,
    create or revoke bumps its generation, so a revoked key is refused on the very next
    request), and when it holds ``max_entries`` (user and session ids come from clients).
    Only verified API keys get in (JWTs are checked on every request: they expire).

    The raw header is a dict key here, as it is in the request's own headers: in memory
    only, never logged (the repr below shows nothing), never pickled (the app is not). One
    per application (``server/app.py``); event-loop only."""

    __slots__ = ("max_entries", "_settings", "_generation", "_principals")

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._settings: Settings | None = None
        self._generation = -1
        self._principals: dict[tuple[str, str | None, str | None], Principal] = {}

    def __repr__(self) -> str:
        return f"<PrincipalCache {len(self._principals)} entries>"

    def get(self, settings: Settings, generation: int, header: str, user: str | None,
            session: str | None) -> Principal | None:
        if settings is not self._settings or generation != self._generation:
            self._settings, self._generation, self._principals = settings, generation, {}
            return None
        return self._principals.get((header, user, session))

    def put(self, generation: int, header: str, principal: Principal) -> None:
        """Remember ``principal`` for ``header``; ``generation`` is the key store's as read
        *before* the key was looked up, so an index replaced meanwhile is never cached."""
        if generation != self._generation or principal.settings is not self._settings:
            return
        if len(self._principals) >= self.max_entries:
            self._principals = {}
        self._principals[(header, principal.user, principal.session)] = principal


PRINCIPALS = web.AppKey("principal_cache", PrincipalCache)


class _FirstUse(Exception):
    """An API key this process has not verified yet: its slow hash must run off the loop."""

    def __init__(self, token: str) -> None:
        super().__init__("first use of an API key")
        self.token = token


async def serve_behest_route(request: web.Request, then) -> web.StreamResponse:
    """The authentication phase of Behest's own routes (``path_kind(path).behest``), then
    ``then()`` (the caller's limits and the route), every error in Behest's shape."""
    return await behest_guard(request, lambda: _behest_route(request, then))


async def _behest_route(request: web.Request, then) -> web.StreamResponse:
    if request.method != "OPTIONS":
        path = request.path
        if path.startswith("/v1/threads"):
            await authenticate_async(request)
        elif path == "/v1/usage" or path.startswith("/v1/billing/"):
            # These routes authenticate themselves (routes/usage._caller, synchronously):
            # run a first-seen key's slow hash off the loop now, so theirs is a cache hit.
            await verify_first_use(request)
    return await then()


async def authenticate_async(request: web.Request) -> Principal:
    """``authenticate``, with a first-seen API key's slow hash run in a worker thread."""
    try:
        return authenticate(request, _defer=True)
    except _FirstUse as first:
        await asyncio.to_thread(request.app[GATEWAY].keys.verify, first.token)
    return authenticate(request)  # cached now (or refused without a slow hash)


async def verify_first_use(request: web.Request) -> None:
    """If the request carries an API key not verified yet, verify it in a worker thread."""
    header = request.headers.get("Authorization")
    token = header.strip().partition(" ")[2].strip() if header else ""
    keys = request.app[GATEWAY].keys
    if is_key_format(token) and keys.cached(token) is None:
        await asyncio.to_thread(keys.verify, token)


def identifier(headers, name: str) -> str | None:
    """The value of identifier header ``name`` (``X-End-User-Id``, ``X-Session-Id``), None
    when absent or empty; a 400 naming the header unless it is printable text. They key
    budgets, limits and usage records, where a byte that is not UTF-8 (aiohttp hands it
    on as a lone surrogate, which SQLite cannot store) or a control character has no place.
    One C-level scan of a present header: nothing on the path of a request without one."""
    value = headers.get(name)
    if not value:
        return None
    if not value.isprintable():  # control characters, and the surrogates of bad bytes
        raise InvalidRequestError(
            f"The {name} header must be printable UTF-8 text: it holds a control character "
            "or bytes that are not UTF-8.", code="invalid_header_value")
    return value


def credential_header(headers, anthropic: bool) -> str | None:
    """The request's credential as an ``Authorization`` value. On Anthropic's Messages API
    ``x-api-key`` counts too, and wins over ``Authorization`` as it does at Anthropic
    (anthropic-ingress.md §0: SDK 1.x sends ``x-api-key``, 2.x a Bearer token)."""
    if anthropic:
        key = headers.get("x-api-key")
        if key:
            return "Bearer " + key.strip()
    return headers.get("Authorization")


def bearer_token(request: web.Request, *, missing: str = MISSING,
                 header: str | None = None) -> str:
    if header is None:
        header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if not header or scheme.lower() != "bearer" or not token:
        raise AuthenticationError(missing)
    return token


def verify_api_key(settings: Settings, record: KeyRecord | None,
                   token: str) -> ProjectConfig:
    """The project of a verified key record, or the 401 a client should see."""
    if record is None:
        raise AuthenticationError(
            f"Incorrect API key provided: {mask(token)}. Keys look like behest_sk_live_… (list "
            "yours with `behest-local keys list`) and tokens like eyJ… (POST /v1/auth/mint).")
    project = settings.project(record.project)
    if project is None:
        raise AuthenticationError(
            f"This API key belongs to project {record.project!r}, which is not configured in "
            f"{settings.source}.", code="project_not_found")
    return project


def authenticate(request: web.Request, *, _defer: bool = False) -> Principal:
    """Attach the caller's ``Principal`` to the request and the exchange, or raise. An API
    key seen for the first time is checked here, on the calling thread (~70 ms): the
    middleware calls ``authenticate_async`` instead (``_defer``: raise ``_FirstUse``)."""
    app = request.app
    gateway = app[GATEWAY]
    settings, keys = gateway.settings, gateway.keys
    generation = keys.generation  # read first: see PrincipalCache.put
    headers = request.headers
    anthropic = speaks_anthropic(request)
    if anthropic:
        request[EXCHANGE].dialect = "anthropic"
    header = credential_header(headers, anthropic)
    user = identifier(headers, USER_HEADER)
    session = identifier(headers, SESSION_HEADER)
    cache = app[PRINCIPALS]
    principal = (cache.get(settings, generation, header, user, session)
                 if header is not None else None)
    if principal is None:
        token = bearer_token(request, header=header or "",
                             missing=MISSING_ANTHROPIC if anthropic else MISSING)
        internal = app[INTERNAL_CALLERS].get(token)
        if internal is not None:
            principal = _from_batch(settings, internal)
        elif looks_like_jwt(token):
            principal = _from_jwt(request, token, settings, session)
        else:
            record = keys.cached(token)
            if record is None and is_key_format(token):
                if _defer:
                    raise _FirstUse(token)
                record = keys.verify(token)
            principal = _from_api_key(settings, record, token, user, session)
            cache.put(generation, header, principal)
    request[PRINCIPAL] = principal
    request[EXCHANGE].authenticated(tenant=principal.tenant, project=principal.project.id,
                                    credential=principal.credential, user=principal.user,
                                    session=principal.session)
    kills = gateway.kills
    if kills is not None and kills.projects:  # Kong's kill-switch check, after the JWT's
        kills.check_project(principal.project.id)
    return principal


def _from_api_key(settings: Settings, record: KeyRecord | None, token: str, user: str | None,
                  session: str | None) -> Principal:
    project = verify_api_key(settings, record, token)
    if project.strict_v15:
        raise AuthenticationError(
            f"Project {project.id!r} is strict_v15: API keys are not accepted on the data "
            "plane. Mint a short-lived JWT with POST /v1/auth/mint (API key as Bearer) and "
            "send that instead.", code="invalid_token", headers=_CHALLENGE)
    return Principal(settings.tenant_id, project, record.prefix + "…", settings, user, session)


def _from_batch(settings: Settings, caller: InternalCaller) -> Principal:
    """A batch's line: its project as configured now (a removed project's batch fails)."""
    project = settings.project(caller.project)
    if project is None or project.id != caller.project:
        raise AuthenticationError(f"Batch {caller.batch_id} belongs to project "
                                  f"{caller.project!r}, which is no longer configured in "
                                  f"{settings.source}.", code="project_not_found")
    return Principal(settings.tenant_id, project, f"batch {caller.batch_id}", settings,
                     caller.user, None, caller.role, caller.tier, "batch")


def _from_jwt(request: web.Request, token: str, settings: Settings,
              session: str | None) -> Principal:
    ring = request.app.get(KEYRING)
    if ring is None:
        raise AuthenticationError("This gateway was built without JWT support.",
                                  code="invalid_token")
    try:
        identity = ring.verify(token)
    except TokenError as exc:
        raise AuthenticationError(exc.message, status=exc.status, code=exc.code,
                                  headers=_CHALLENGE if exc.status == 401 else None) from None
    if identity.tenant != settings.tenant_id:
        raise GatewayError(f"The token is for tenant {identity.tenant!r}; this gateway plays "
                           f"tenant {settings.tenant_id!r} ([tenant] id in {settings.source}).",
                           status=403, type="invalid_request_error", code="forbidden")
    project = settings.project(identity.project)
    if project is None or project.id != identity.project:
        raise AuthenticationError(f"The token names project {identity.project!r}, which is not "
                                  f"configured in {settings.source}.", code="project_not_found")
    return Principal(identity.tenant, project, identity.credential, settings, identity.user,
                     session or identity.session, identity.role, identity.tier, "jwt")

"""``/v1/batches``: OpenAI's Batch API, each line served by this gateway's own pipeline.

The routes create, retrieve, list and cancel batches of the caller's project
(``batches.BatchStore``); the work is ``batches.BatchRunner``'s, one task that exists only
while a batch has work left. How a line is served is ``LoopbackSender``: it sends the
line's body to this gateway's own address, as an HTTP request to the batch's endpoint, so
every line is an ordinary exchange: routing, the emulated model or the provider, the
trace, the usage record and the caller's quotas and budgets are exactly an interactive
request's, with no second copy of that path to drift. Its credential is a random
per-batch token (``INTERNAL_CALLERS``, in memory only) that authentication maps to the
caller who made the batch; the per-minute limits (per IP, per project, per user) skip
those lines, so a batch never spends an interactive client's requests. The address is
where the gateway listens (``resume``, at start, which also picks up the batches a
restart interrupted), else the address a batch request arrived on. Each line carries
``X-Behest-Batch-Id``, so its trace says which batch it belongs to.
"""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
from aiohttp import web

from behest_local.batches.batch import (CANCELLABLE, COMPLETION_WINDOW_S, ENDPOINTS,
                                        MAX_INPUT_BYTES, Batch)
from behest_local.batches.runner import BatchRunner
from behest_local.batches.store import BatchStore
from behest_local.errors import GatewayError, InvalidRequestError, NotFoundError
from behest_local.files.objects import EXPIRES_MAX_S, EXPIRES_MIN_S
from behest_local.server.admission.principal import InternalCaller
from behest_local.server.body import read_json
from behest_local.server.keys import FILES, GATEWAY, INTERNAL_CALLERS, PRINCIPAL
from behest_local.server.render import json_response
from behest_local.server.routes.files import query_int, page

RUNNER = web.AppKey("batch_runner", BatchRunner)
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10)
"""A line may wait on a slow provider as long as an interactive request would."""
_RETRIES = 5
"""Tries to reach the gateway's own port (a moment's refusal while it restarts its site)."""


class LoopbackSender:
    """Sends batch lines to the gateway's own address as each batch's caller."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.url: str | None = None
        self._tokens: dict[str, str] = {}  # batch id → its token
        self._session: aiohttp.ClientSession | None = None

    def _token(self, batch: Batch) -> str:
        token = self._tokens.get(batch.id)
        if token is None:
            token = self._tokens[batch.id] = "behest_batch_" + secrets.token_urlsafe(32)
            self.app[INTERNAL_CALLERS][token] = InternalCaller(
                batch.id, batch.project, batch.user, batch.role, batch.tier)
        return token

    def done(self, batch: Batch) -> None:
        token = self._tokens.pop(batch.id, None)
        if token is not None:
            self.app[INTERNAL_CALLERS].pop(token, None)

    async def send(self, batch: Batch, data: bytes) -> tuple[int, str | None, bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        headers = {"Authorization": f"Bearer {self._token(batch)}",
                   "Content-Type": "application/json", "X-Behest-Batch-Id": batch.id}
        for attempt in range(_RETRIES):
            try:
                async with self._session.post(self.url + batch.endpoint, data=data,
                                              headers=headers) as resp:
                    return resp.status, resp.headers.get("X-Request-Id"), await resp.read()
            except aiohttp.ClientConnectionError:
                if attempt == _RETRIES - 1:
                    raise GatewayError("The gateway could not serve this line: its own "
                                       "address did not answer.", status=503,
                                       code="server_error") from None
                await asyncio.sleep(0.2 * 2 ** attempt)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def setup_batches(app: web.Application, store: BatchStore) -> None:
    sender = LoopbackSender(app)

    def pace() -> tuple[float, float]:
        emulator = app[GATEWAY].settings.emulator
        return emulator.batch_validate_delay_s, emulator.batch_line_delay_s

    app[RUNNER] = BatchRunner(store, app[FILES], sender, pace)
    router = app.router
    router.add_post("/v1/batches", create_batch)
    router.add_get("/v1/batches", list_batches)
    router.add_get("/v1/batches/{batch_id}", retrieve_batch)
    router.add_post("/v1/batches/{batch_id}/cancel", cancel_batch)

    async def stop(app: web.Application) -> None:
        await app[RUNNER].stop()  # an unrecorded line runs again at the next start

    async def close(app: web.Application) -> None:
        await sender.close()
        await store.close()

    app.on_shutdown.append(stop)
    app.on_cleanup.append(close)


def resume(app: web.Application, url: str) -> None:
    """Once the gateway listens at ``url``: send lines there, and run what is left."""
    runner = app[RUNNER]
    runner.sender.url = url
    runner.kick()


def _learn_address(request: web.Request) -> None:
    """Without ``resume`` (an app served by a test client), the address this came in on."""
    sender = request.app[RUNNER].sender
    if sender.url is None and request.transport is not None:
        host, port = request.transport.get_extra_info("sockname")[:2]
        sender.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def _create_request(raw: object) -> dict:
    if not isinstance(raw, dict):
        raise InvalidRequestError("The body must be a JSON object.", code="invalid_value")
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise InvalidRequestError(f"Missing required parameter: '{name}'.", param=name,
                                      code="missing_required_parameter")
    if raw["endpoint"] not in ENDPOINTS:
        raise InvalidRequestError(f"Invalid value for 'endpoint': {raw['endpoint']!r}. "
                                  f"Supported here: {', '.join(ENDPOINTS)}.", param="endpoint",
                                  code="invalid_value")
    if raw["completion_window"] not in COMPLETION_WINDOW_S:
        raise InvalidRequestError("Invalid value for 'completion_window': only '24h' is "
                                  "supported.", param="completion_window", code="invalid_value")
    metadata = raw.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16 or not all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512
            for k, v in metadata.items())):
        raise InvalidRequestError("Invalid 'metadata': at most 16 string pairs, keys up to 64 "
                                  "and values up to 512 characters.", param="metadata",
                                  code="invalid_value")
    after = raw.get("output_expires_after")
    if after is not None:
        seconds = after.get("seconds") if isinstance(after, dict) else None
        if not isinstance(after, dict) or after.get("anchor") != "created_at" or \
                isinstance(seconds, bool) or not isinstance(seconds, int) or \
                not EXPIRES_MIN_S <= seconds <= EXPIRES_MAX_S:
            raise InvalidRequestError(
                "Invalid 'output_expires_after': expected {\"anchor\": \"created_at\", "
                f"\"seconds\": {EXPIRES_MIN_S}..{EXPIRES_MAX_S}}}.",
                param="output_expires_after", code="invalid_value")
    return raw


async def create_batch(request: web.Request) -> web.Response:
    """``POST /v1/batches``: a batch over an uploaded ``purpose=batch`` JSONL file."""
    body = await read_json(request, _create_request)
    principal = request[PRINCIPAL]
    project = principal.project.id
    file = await request.app[FILES].get(project, body["input_file_id"])
    if file["purpose"] != "batch":
        raise InvalidRequestError(f"The input file {file['id']} has purpose "
                                  f"{file['purpose']!r}; a batch needs one uploaded with "
                                  "purpose 'batch'.", param="input_file_id",
                                  code="invalid_value")
    if file["bytes"] > MAX_INPUT_BYTES:
        raise InvalidRequestError(f"The input file {file['id']} holds {file['bytes']} bytes; "
                                  f"a batch's input may hold at most {MAX_INPUT_BYTES}.",
                                  param="input_file_id", code="invalid_value")
    batch = Batch.new(project=project, endpoint=body["endpoint"], input_file_id=file["id"],
                      completion_window=body["completion_window"],
                      metadata=body.get("metadata"), user=principal.user, role=principal.role,
                      tier=principal.tier, output_expires_after_s=(
                          body.get("output_expires_after") or {}).get("seconds"))
    runner = request.app[RUNNER]
    await runner.store.save(batch)
    _learn_address(request)
    runner.kick()
    return json_response(batch.to_object())


async def _batch(request: web.Request) -> Batch:
    runner, batch_id = request.app[RUNNER], request.match_info["batch_id"]
    project = request[PRINCIPAL].project.id
    current = runner.current
    if current is not None and current.id == batch_id and current.project == project:
        return current
    batch = await runner.store.get(project, batch_id)
    if batch is None:
        raise NotFoundError(f"No such Batch object: {batch_id}", param="batch_id")
    return batch


async def retrieve_batch(request: web.Request) -> web.Response:
    _learn_address(request)
    batch = await _batch(request)
    if batch.status in ("validating", "in_progress", "finalizing", "cancelling"):
        request.app[RUNNER].kick()  # a test client's restarted app resumes here
    return json_response(batch.to_object())


async def list_batches(request: web.Request) -> web.Response:
    """``GET /v1/batches``: newest first, ``after`` and ``limit`` (1-100, default 20)."""
    limit = query_int(request, "limit", 20, 1, 100)
    batches, more = await request.app[RUNNER].store.page(
        request[PRINCIPAL].project.id, after=request.query.get("after"), limit=limit)
    return json_response(page([b.to_object() for b in batches], more))


async def cancel_batch(request: web.Request) -> web.Response:
    batch = await _batch(request)
    if batch.status not in CANCELLABLE:
        raise InvalidRequestError(f"Batch {batch.id} is {batch.status}: only a validating or "
                                  "in-progress batch can be cancelled.", param="batch_id",
                                  code="invalid_batch_state", status=409)
    _learn_address(request)
    return json_response((await request.app[RUNNER].cancel(batch)).to_object())

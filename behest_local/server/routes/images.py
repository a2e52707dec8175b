"""``POST /v1/images/generations``, and the image URLs it hands out.

Admission (auth, limits, the exchange) has run in the middleware. The body is checked per
model (``providers/emulated/images.py``) and routed like moderations: to OpenAI when the
vault holds an OpenAI key (the plan and key rules of ``policy/routing.keyed``), relayed as
sent (``relay_images``, which the uploads of ``image_edits.py`` use too); else each image
is rendered beside the event loop (``offload.off_loop``).

``response_format: url`` (DALL·E's default): the image is kept in memory and served by the
gateway itself at ``GET /images/{token}.{ext}`` for an hour, as OpenAI's URLs are. The
decision, documented in the README: the URL is a capability, like OpenAI's signed blob
URLs: 128 random bits, no ``Authorization`` needed (an ``<img src>`` or a plain download
sends none), outside ``/v1/`` so the API-key check does not apply; the ``Host`` check
still does (DNS rebinding), and the URL names the host the client called. The store is
bounded (``STORE_BYTES``): the oldest images go first beyond it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from aiohttp import web

from behest_local import sse
from behest_local.errors import NotFoundError
from behest_local.finops.prices import image_variant
from behest_local.offload import off_loop
from behest_local.policy import routing
from behest_local.providers.emulated import images
from behest_local.providers.form import Form
from behest_local.server.body import read_json
from behest_local.server.guard_inputs import guard_field
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL
from behest_local.server.render import json_response
from behest_local.server.streaming import relay
from behest_local.sse import EventJSON, SSEEvent

UPSTREAM = "openai"
URL_SECONDS = 3600  # OpenAI: "URLs are only valid for 60 minutes"
STORE_BYTES = 256 * 1024 * 1024
URL_PREFIX = "/images/"


class ImageStore:
    """Rendered images by token, for an hour, at most ``limit`` bytes in all (oldest out)."""

    def __init__(self, limit: int = STORE_BYTES, clock=time.monotonic) -> None:
        self.limit, self.clock = limit, clock
        self._items: OrderedDict[str, tuple[float, str, bytes]] = OrderedDict()
        self._bytes = 0

    def put(self, data: bytes, media_type: str) -> str:
        token = secrets.token_urlsafe(16)
        self._items[token] = (self.clock() + URL_SECONDS, media_type, data)
        self._bytes += len(data)
        while self._bytes > self.limit or self._expired_head():
            _, (_, _, old) = self._items.popitem(last=False)
            self._bytes -= len(old)
        return token

    def get(self, token: str) -> tuple[str, bytes] | None:
        item = self._items.get(token)
        if item is None or item[0] <= self.clock():
            return None
        return item[1], item[2]

    def _expired_head(self) -> bool:
        head = next(iter(self._items.values()), None)
        return head is not None and head[0] <= self.clock()


STORE = web.AppKey("image_store", ImageStore)


def setup_image_routes(app: web.Application) -> None:
    app[STORE] = ImageStore()
    app.router.add_post("/v1/images/generations", generations)
    app.router.add_get(URL_PREFIX + "{token}.{ext}", image_file)


async def generations(request: web.Request) -> web.Response:
    raw = await read_json(request)
    req = images.validate_generation(raw)
    exchange = request[EXCHANGE]
    target = route(request, req.model)
    exchange.routed(requested_model=raw.get("model"), model=target.model,
                    provider=target.provider, reason=target.reason, stream=req.stream)
    if (guarded := await guard_field(request, raw, "prompt")) is not raw:
        raw, req = guarded, replace(req, prompt=guarded["prompt"])
    exchange.upstream_started()
    if target.provider != routing.EMULATED:
        provider = request.app[GATEWAY].provider(target.provider)
        return await relay_images(request, provider, "images", raw, req)
    if req.stream:
        return await relay(request, _stream(request, req), terminator=None)
    return await respond(request, req, lambda index: off_loop(images.render, req, index))


async def relay_images(request: web.Request, provider, op: str, body: dict | Form,
                       req: images.ImageRequest) -> web.StreamResponse:
    """``op`` (``images``, ``image_edits``, ``image_variations``) of ``req`` (its checked
    fields) answered by ``provider`` as it answers: its JSON with its usage metered, or,
    for ``req.stream``, its events one by one."""
    exchange = request[EXCHANGE]
    if req.stream:
        events = provider.native_events(op, body, {})
        return await relay(request, _relayed(events, exchange), terminator=None)
    text, reply = await provider.native_json(op, body, {})
    usage = (reply or {}).get("usage") or {}
    exchange.usage(usage.get("input_tokens") or 0, usage.get("output_tokens") or 0)
    if req.family != "gpt-image":  # DALL·E's reply has no usage: its images are billed
        exchange.variant = image_variant(req.quality, req.size)
        exchange.usage(0, len((reply or {}).get("data") or ()))
    return json_response(EventJSON(reply, text) if text is not None else reply)


async def _relayed(events: AsyncIterator[SSEEvent], exchange) -> AsyncIterator[bytes]:
    """OpenAI's image events as it sent them; the completed events' usage metered."""
    try:
        async for event in events:
            if "completed" in event.event:
                usage = json.loads(event.data).get("usage") or {}
                exchange.usage(usage.get("input_tokens") or 0, usage.get("output_tokens") or 0)
            yield sse.encode(event.data, event=event.event)
    finally:
        await events.aclose()


async def _stream(request: web.Request, req: images.ImageRequest) -> AsyncIterator[bytes]:
    """``stream: true`` (GPT image models): per image, ``partial_images`` previews, then the
    completed image with the request's usage (reference §6 "Streaming")."""
    usage = images.usage(req)
    request[EXCHANGE].usage(usage["input_tokens"], usage["output_tokens"])
    head = {"size": req.size, "quality": req.quality, "background": req.background,
            "output_format": req.output_format}
    for index in range(req.n):
        for step in range(req.partial_images):
            data = await off_loop(images.render_partial, req, index, step)
            yield sse.encode_json({"type": "image_generation.partial_image",
                                   "b64_json": base64.b64encode(data).decode("ascii"),
                                   "created_at": int(time.time()), **head,
                                   "partial_image_index": step},
                                  event="image_generation.partial_image")
        data = await off_loop(images.render, req, index)
        yield sse.encode_json({"type": "image_generation.completed",
                               "b64_json": base64.b64encode(data).decode("ascii"),
                               "created_at": int(time.time()), **head, "usage": usage},
                              event="image_generation.completed")


async def respond(request: web.Request, req: images.ImageRequest,
                  produce: Callable[[int], Awaitable[bytes]]) -> web.Response:
    """OpenAI's ``ImagesResponse`` for ``req.n`` images made by ``produce(index)``, as
    ``url`` or ``b64_json``, with usage for GPT image models (also on the exchange)."""
    exchange = request[EXCHANGE]
    data = []
    for index in range(req.n):
        encoded = await produce(index)
        if req.response_format == "url":
            token = request.app[STORE].put(encoded, images.MEDIA_TYPES[req.output_format])
            data.append({"url": f"{request.scheme}://{request.host}{URL_PREFIX}{token}."
                                f"{req.output_format}"})
        else:
            data.append({"b64_json": base64.b64encode(encoded).decode("ascii")})
        if req.family == "dall-e-3":
            data[-1]["revised_prompt"] = req.prompt
    body: dict = {"created": int(time.time()), "data": data}
    if req.family == "gpt-image":
        usage = images.usage(req)
        body.update(background=req.background, output_format=req.output_format,
                    size=req.size, quality=req.quality, usage=usage)
        exchange.usage(usage["input_tokens"], usage["output_tokens"])
    else:  # DALL·E: billed per image, by quality and size (finops/prices.PER_IMAGE)
        exchange.variant = image_variant(req.quality, req.size)
        exchange.usage(0, req.n)
    return json_response(body)


async def image_file(request: web.Request) -> web.Response:
    """``GET /images/{token}.{ext}``: an image of the last hour (404 once expired)."""
    found = request.app[STORE].get(request.match_info["token"])
    if found is None:
        raise NotFoundError("This image URL has expired (they last an hour) or never "
                            "existed.", code="image_not_found")
    media_type, data = found
    return web.Response(body=data, content_type=media_type,
                        headers={"Cache-Control": f"private, max-age={URL_SECONDS}"})


def route(request: web.Request, model: str) -> routing.Target:
    """Where an image request for ``model`` goes: OpenAI by the key and plan rules, else
    the emulated images."""
    keys = request.app[GATEWAY].provider_keys
    return routing.keyed(model, "requested model", UPSTREAM, request[PRINCIPAL].settings,
                         keys.has if keys else lambda provider: False,
                         fallback="emulated images")

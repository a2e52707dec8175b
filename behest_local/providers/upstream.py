"""Real providers: a ``ChatProvider`` that reaches an upstream over HTTP through its adapter.

Per call: the provider's key is fetched from the vault at that moment (``key_for``) and
revealed only into the one request's headers (issue 3: "decrypted at request time"); the
adapter (``registry.ADAPTERS``) builds the native request; the shared pooled session
sends it; the answer is translated back to OpenAI chat (an OpenAI-compatible reply that
needs no repair, ``openai_compat.translate.as_sent``, is returned as an ``sse.EventJSON``
keeping the upstream's text, which the handler sends on as it came). Streams are
translated event by event as bytes arrive (``SSEDecoder`` → the adapter's stream
``Translator``; a translator with ``raw_lines`` also gets the non-SSE lines, Gemini's raw
JSON errors), never buffered; given a ``ChatCall.sink``, the reads that arrive while the
stream's loop waits are translated and sent to it from the socket's read callback
(``push.Push``). Closing the generator (client gone) releases the upstream response at once,
which closes its connection. Failures become ``UpstreamError``: unreachable → 502,
timeout → 504, a native error → its own status and message, a cut stream → 502.

Timeouts, per provider (``[providers.NAME]``): ``connect_timeout_s`` to open the
connection; ``timeout_s`` for the first byte of the answer *and* for every gap between
two reads of a stream. There is no limit on the total, since
a healthy stream may run for minutes. Before the first event a timeout is a 504; after
it, the relay turns the same ``UpstreamError`` into an error event and a clean close.

Sizes, per provider too, so that no upstream can make the gateway hold more:
``max_response_bytes`` for a body read whole, ``max_event_bytes`` for a stream's line or
event (``SSEDecoder``'s cap). Over one, the answer is a 502 (before the first event; an
error event after it) naming the provider as configured and the setting to raise, and
the connection is closed at once. Messages name ``self.name``, the ``[providers.NAME]``
name, which the stream translators are given too (a custom server's adapter is the
``custom`` profile's, but its errors say ``ollama``).

``native_json``, ``native_events``, ``native_body`` and ``native_bytes`` (``native.py``)
send a body already in the provider's dialect (Anthropic's ``/v1/messages``, OpenAI's
images and audio) and hand back its answer untranslated, with the same transport,
timeouts, caps and error mapping.

``fetch_models`` asks the provider for its own models list (the adapter's ``models``
operation) with a short timeout and keeps the answer for ``MODELS_TTL_S`` (a failure for
``MODELS_RETRY_S``); concurrent callers share one request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

from behest_local.config.schema import ProviderConfig
from behest_local.errors import UpstreamError
from behest_local.exchange.exchange import CURRENT
from behest_local.json_text import encode_body, is_small
from behest_local.offload import off_loop
from behest_local.providers.base import ChatCall
from behest_local.providers.http import HttpPool, HttpResponse
from behest_local.providers.native import NativeRelay
from behest_local.providers.proxy import Route
from behest_local.providers.push import Push
from behest_local.providers.http_connection import (BodyTooLarge, ConnectError, ConnectionCut,
                                                    ConnectTimeout, HttpError, ReadTimeout)
from behest_local.providers.openai_compat import translate as openai_translate
from behest_local.providers.shapes import EmbedCall
from behest_local.providers.registry import Adapter
from behest_local.secret import Secret
from behest_local.sse import EventJSON, EventTooLarge, SSEDecoder

log = logging.getLogger("behest_local.providers")

MODELS_TTL_S = 600.0
"""How long a provider's models list is reused."""
MODELS_RETRY_S = 30.0
"""How long a failed models fetch is remembered (no new attempt, no models listed)."""
MODELS_TIMEOUT_S = 5.0
"""Upper bound on one models fetch: ``GET /v1/models`` must not wait on a slow upstream."""

# Request bodies are encoded compactly, by one encoder built once (``json.dumps`` with
# options would build one per call).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _encoded_large(value: object) -> bytes:
    return bytes(encode_body(value))


class UpstreamProvider(NativeRelay):
    """One configured upstream (``openai``, ``anthropic``, a custom local server …)."""

    def __init__(self, name: str, adapter: Adapter, *, pool: HttpPool,
                 key_for: Callable[[str], Secret | None],
                 config: ProviderConfig | None = None) -> None:
        self.name = name
        self.adapter = adapter
        self._pool = pool
        self._key_for = key_for
        config = config or ProviderConfig()  # the defaults are declared there, once
        self.base_url = config.base_url or None
        self.route = Route(config.proxy, config.ca_bundle or None, config.tls_verify)
        """How its connections are made: proxy and trust (providers/proxy.py)."""
        connect = self.connect_timeout_s = config.connect_timeout_s
        idle = self.timeout_s = config.timeout_s
        self.max_response_bytes = config.max_response_bytes
        self.max_event_bytes = config.max_event_bytes
        # The read timeout bounds the wait for the first byte and every gap between
        # reads; there is no total limit, since a healthy stream may run for minutes.
        self._models_timeouts = (min(connect, MODELS_TIMEOUT_S), min(idle, MODELS_TIMEOUT_S))
        # OpenAI-compatible replies often need no repair at all: when the adapter's
        # translation is that dialect's, ``as_sent`` tells when it would change nothing.
        self._as_sent = (openai_translate.as_sent
                         if getattr(adapter, "_from_native", None) is openai_translate.from_native
                         else None)
        self._models: list[dict] = []
        self._models_until = 0.0
        self._models_fetch: asyncio.Task | None = None

    def __repr__(self) -> str:
        base_url = self.base_url or self.adapter.default_base_url
        return f"UpstreamProvider({self.name!r}, base_url={base_url!r})"

    def _key(self) -> Secret | None:
        key = self._key_for(self.name)
        if key is None and self.adapter.key_required:
            raise UpstreamError(f"Configure your {self.name} API key in Provider Settings "
                                f"(behest-local vault set {self.name}).", status=400,
                                type="invalid_request_error", code="PROVIDER_NOT_CONFIGURED")
        return key

    async def complete(self, call: ChatCall) -> dict:
        key = self._key()
        request = self.adapter.request("chat", _unstreamed(call), key, base_url=self.base_url)
        text, body = await self._receive_json(request, key)
        if self._as_sent is not None and text is not None and self._as_sent(body):
            # Already what ``from_native`` would make of it: the client gets the text the
            # upstream sent (``render.json_response``), not a re-encoding of it.
            return EventJSON(body, text)
        return self.adapter.from_native("chat", body, call)

    async def stream(self, call: ChatCall) -> AsyncIterator[dict]:
        key = self._key()
        request = self.adapter.request("chat", call, key, base_url=self.base_url)
        translator = self.adapter.translator(call, self.name)
        decoder = SSEDecoder(raw_lines=getattr(translator, "raw_lines", False),
                             max_event=self.max_event_bytes)
        response = await self._open(request, key)
        del key, request  # nothing long-lived keeps the key or the headers it went into
        started = False
        take, wait = response.take, response.wait
        push = (Push(decoder, translator, call.sink, response) if call.sink is not None
                else None)
        tap = push.tap if push is not None else None
        try:
            try:
                while True:  # once per stream event: HttpResponse.take says why a loop
                    if push is not None and push.failure is not None:
                        raise push.failure  # before any read queued after it
                    data = take()
                    if data is None:
                        # Parked with every earlier chunk sent: reads may go through the
                        # sink meanwhile (push.Push), in order, ahead of nothing.
                        await wait(tap)
                        continue
                    if not data:
                        break
                    started = True
                    for event in decoder.feed(data):
                        for chunk in translator.feed(event):
                            yield chunk
                for event in decoder.close():  # may meet a last line over the cap too
                    for chunk in translator.feed(event):
                        yield chunk
            except (ReadTimeout, ConnectionCut, EventTooLarge) as exc:
                started = started or (push is not None and push.started)
                raise self._stream_failure(exc, started) from None
            for chunk in translator.finish():
                yield chunk
        finally:
            # Early exit (client gone, error): ``release`` closes a connection whose
            # response is unfinished, so the upstream sees it drop and stops generating.
            response.release()

    def _stream_failure(self, exc: Exception, started: bool) -> UpstreamError:
        """The error a stream read ends with (``stream`` and ``native_events`` alike): a
        timeout before or between events, a cut connection, an event over the cap."""
        if isinstance(exc, ReadTimeout):
            return self._timed_out("between two stream events" if started
                                   else "before its first stream event")
        if isinstance(exc, ConnectionCut):
            return UpstreamError(f"The {self.name} stream was cut off: {exc}",
                                 status=502, code="upstream_stream_cut")
        return self._too_large(f"a stream {exc.kind}", self.max_event_bytes,
                               "max_event_bytes", "upstream_event_too_large")

    async def embed(self, body: dict, model: str) -> dict:
        key = self._key()
        request = self.adapter.request("embed", EmbedCall(body, model), key, base_url=self.base_url)
        native = await self._send_json(request, key)
        return self.adapter.from_native("embed", native, EmbedCall(body, model))

    def models(self) -> list[dict]:
        """The models list last fetched (``fetch_models``), possibly empty."""
        return list(self._models)

    async def fetch_models(self) -> list[dict]:
        """The provider's models as OpenAI model objects, from cache while fresh.

        Never raises for an upstream failure: it is logged and the list is empty until
        ``MODELS_RETRY_S`` has passed (an unreachable provider must not break, or slow
        down, every ``GET /v1/models``)."""
        if "models" not in self.adapter.operations or time.monotonic() < self._models_until:
            return self.models()
        if self._models_fetch is None:
            self._models_fetch = asyncio.create_task(self._refresh_models(),
                                                     name=f"models of {self.name}")
        # shield: one caller going away must not cancel the fetch the others wait on
        return list(await asyncio.shield(self._models_fetch))

    async def _refresh_models(self) -> list[dict]:
        try:
            key = self._key()
            request = self.adapter.request("models", None, key, base_url=self.base_url)
            native = await self._send_json(request, key, self._models_timeouts)
            del key, request
            models = [m for m in self.adapter.from_native("models", native).get("data") or []
                      if isinstance(m, dict) and isinstance(m.get("id"), str)]
            self._models, self._models_until = models, time.monotonic() + MODELS_TTL_S
        except (UpstreamError, ValueError, TypeError, AttributeError) as exc:
            log.warning("models list of %s unavailable, skipped for %ds: %s", self.name,
                        MODELS_RETRY_S, getattr(exc, "message", None) or _why(exc))
            self._models, self._models_until = [], time.monotonic() + MODELS_RETRY_S
        finally:
            self._models_fetch = None
        return self._models

    # -- transport ----------------------------------------------------------------------

    def _too_large(self, what: str, limit: int, setting: str, code: str) -> UpstreamError:
        return UpstreamError(
            f"{self.name} sent {what} larger than {_size(limit)}; the gateway stopped "
            f"reading and closed the connection (providers.{self.name}.{setting} in "
            "behest.toml).", status=502, code=code)

    def _timed_out(self, when: str) -> UpstreamError:
        return UpstreamError(
            f"{self.name} sent nothing for {self.timeout_s:g} s {when} "
            f"(providers.{self.name}.timeout_s in behest.toml).", status=504,
            code="upstream_timeout")

    async def _open(self, request, key: Secret | None, *,
                    timeouts: tuple[float, float] | None = None) -> HttpResponse:
        headers, body = request.headers, request.body
        if request.json is not None:
            # Encoded here, once and compactly, by the one encoder above; a large body (a
            # 20 MiB prompt, thousands of messages) a piece at a time beside the loop.
            body = _encode(request.json).encode() if is_small(request.json) else \
                await off_loop(_encoded_large, request.json)
            if "Content-Type" not in headers:
                headers = {**headers, "Content-Type": "application/json"}
        connect, idle = timeouts or (self.connect_timeout_s, self.timeout_s)
        try:
            response = await self._pool.request(request.method, request.url, headers=headers,
                                                body=body, connect_timeout=connect,
                                                read_timeout=idle, route=self.route)
        except ConnectTimeout:
            raise UpstreamError(
                f"{self.name} did not accept a connection at {_origin(request.url)} within "
                f"{connect:g} s (providers.{self.name}.connect_timeout_s in "
                "behest.toml).", status=504, code="upstream_timeout") from None
        except ReadTimeout:
            raise self._timed_out("before answering") from None
        except (ConnectError, ConnectionCut) as exc:
            raise UpstreamError(
                f"Could not reach {self.name} at {_origin(request.url)}: {exc}. "
                f"{self._unreachable_hint(str(exc))}", status=502,
                code="upstream_unreachable") from None
        except ValueError as exc:  # a header that would break the request's framing
            raise UpstreamError(f"The request to {self.name} could not be sent: {exc} "
                                f"(check the headers configured for providers.{self.name}).",
                                status=502, code="upstream_bad_request") from None
        if response.status >= 400:
            try:
                raw = await response.read(self.max_response_bytes)
            except HttpError:  # BodyTooLarge too: the status alone still says what failed
                raw = b""
            finally:
                response.release()
            raise self.adapter.error(response.status, raw, response.headers, key=key)
        return response

    def _unreachable_hint(self, failure: str) -> str:
        """What to check, by what failed (proxy.py and http.py word those failures)."""
        setting = f"providers.{self.name}"
        if failure.startswith("proxy "):
            return (f"Check the proxy ({setting}.proxy in behest.toml, else HTTPS_PROXY, "
                    "HTTP_PROXY, ALL_PROXY and NO_PROXY).")
        if failure.startswith(("certificate verify failed", "cannot load the CA")):
            return f"Check the CA certificates ({setting}.ca_bundle, SSL_CERT_FILE)."
        return f"Check {setting}.base_url and that the server is running."

    async def _send_json(self, request, key: Secret | None,
                         timeouts: tuple[float, float] | None = None) -> dict:
        return (await self._receive_json(request, key, timeouts))[1]

    async def _receive_json(self, request, key: Secret | None,
                            timeouts: tuple[float, float] | None = None
                            ) -> tuple[str | None, dict]:
        """The answer's JSON text (None for an empty body) and its decoded value: the
        declared charset, else UTF-8 (RFC 8259 §8.1), surrounding whitespace ignored."""
        charset, raw = await self._receive(request, key, timeouts, charset=True)
        raw = raw.strip()
        if not raw:
            return None, None
        try:
            text = raw.decode(charset or "utf-8")
            return text, json.loads(text)
        except (ValueError, LookupError) as exc:  # not JSON, not the charset, no such charset
            raise UpstreamError(f"{self.name} sent a response that is not JSON ({_why(exc)}).",
                                status=502, code="upstream_bad_response") from None

    async def _receive(self, request, key: Secret | None,
                       timeouts: tuple[float, float] | None = None, *, charset: bool = False
                       ) -> tuple[str | None, bytes]:
        """The answer's whole body, within ``max_response_bytes``, after its declared
        charset (``charset=True``) or its ``Content-Type`` header."""
        exchange = CURRENT.get()  # the request's, for Server-Timing (server/timing_header.py)
        started = exchange.now() if exchange is not None else 0.0
        response = await self._open(request, key, timeouts=timeouts)
        try:
            raw = await response.read(self.max_response_bytes)
            return (response.charset() if charset
                    else response.headers.get("Content-Type")), raw
        except ReadTimeout:
            raise self._timed_out("while sending its response") from None
        except BodyTooLarge:
            raise self._too_large("a response", self.max_response_bytes, "max_response_bytes",
                                  "upstream_response_too_large") from None
        except ConnectionCut as exc:
            raise UpstreamError(f"The {self.name} response was cut off: {exc}.",
                                status=502, code="upstream_bad_response") from None
        finally:
            response.release()
            if exchange is not None:
                exchange.provider_waited(exchange.now() - started)


def _unstreamed(call: ChatCall) -> ChatCall:
    if not call.request.get("stream"):
        return call
    request = {k: v for k, v in call.request.items() if k not in ("stream", "stream_options")}
    return ChatCall(request=request, model=call.model, emulate=call.emulate)




def _origin(url: str) -> str:
    # Only scheme://host:port: a Gemini-style URL may carry a key in its query.
    parts = url.split("/", 3)
    return "/".join(parts[:3])


def _size(n: int) -> str:
    """``n`` bytes as the config would likely say it: ``64 MiB``, ``256 KiB``, ``1000 bytes``."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("?", 1)[0][:200]

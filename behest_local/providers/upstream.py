"""Real providers: a ``ChatProvider`` that reaches an upstream over HTTP through its adapter.

Per call: the provider's key is fetched from the vault at that moment (``key_for``) and
revealed only into the one request's headers (issue 3: "decrypted at request time"); the
adapter (``registry.ADAPTERS``) builds the native request; the shared pooled session
sends it; the answer is translated back to OpenAI chat. Streams are translated event by
event as bytes arrive (``SSEDecoder`` → the adapter's stream ``Translator``), never
buffered. Closing the generator (client gone) releases the upstream response at once,
which closes its connection. Failures become ``UpstreamError``: unreachable → 502,
timeout → 504, a native error → its own status and message, a cut stream → 502.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import aiohttp

from behest_local.errors import UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.http import HttpPool
from behest_local.providers.openai_compat.shapes import EmbedCall
from behest_local.providers.registry import Adapter
from behest_local.secret import Secret
from behest_local.sse import SSEDecoder

if TYPE_CHECKING:
    from behest_local.config.schema import ProviderConfig


class UpstreamProvider:
    """One configured upstream (``openai``, ``anthropic``, a custom local server …)."""

    def __init__(self, name: str, adapter: Adapter, *, pool: HttpPool,
                 key_for: Callable[[str], Secret | None],
                 config: ProviderConfig | None = None) -> None:
        self.name = name
        self.adapter = adapter
        self._pool = pool
        self._key_for = key_for
        self.base_url = config.base_url if config and config.base_url else None
        connect = config.connect_timeout_s if config else 10.0
        idle = config.timeout_s if config else 600.0
        # sock_read bounds the wait for the first byte and every gap between chunks;
        # there is no total limit, since a healthy stream may run for minutes.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=idle)

    def __repr__(self) -> str:
        return f"UpstreamProvider({self.name!r}, base_url={self.base_url or self.adapter.default_base_url!r})"

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
        body = await self._send_json(request, key)
        return self.adapter.from_native("chat", body, call)

    async def stream(self, call: ChatCall) -> AsyncIterator[dict]:
        key = self._key()
        request = self.adapter.request("chat", call, key, base_url=self.base_url)
        translator = self.adapter.translator(call)
        decoder = SSEDecoder()
        response = await self._open(request, key)
        del key, request  # nothing long-lived keeps the key or the headers it went into
        try:
            try:
                async for data in response.content.iter_any():
                    for event in decoder.feed(data):
                        for chunk in translator.feed(event):
                            yield chunk
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                raise UpstreamError(f"The {self.name} stream was cut off: {_why(exc)}",
                                    status=502, code="upstream_stream_cut") from None
            except TimeoutError:
                raise _timeout(self.name, "between stream events") from None
            for chunk in translator.finish():
                yield chunk
        finally:
            # Early exit (client gone, error): close rather than release, so the upstream
            # sees the connection drop and stops generating.
            if not response.content.at_eof():
                response.close()
            else:
                response.release()

    async def embed(self, body: dict, model: str) -> dict:
        key = self._key()
        request = self.adapter.request("embed", EmbedCall(body, model), key, base_url=self.base_url)
        native = await self._send_json(request, key)
        return self.adapter.from_native("embed", native, EmbedCall(body, model))

    def models(self) -> list[dict]:
        return []

    # -- transport ----------------------------------------------------------------------

    async def _open(self, request, key: Secret | None) -> aiohttp.ClientResponse:
        session = self._pool.session()
        try:
            response = await session.request(request.method, request.url,
                                             headers=request.headers, json=request.json,
                                             timeout=self._timeout)
        except TimeoutError:
            raise _timeout(self.name, "waiting for a response") from None
        except aiohttp.ClientConnectionError as exc:
            raise UpstreamError(
                f"Could not reach {self.name} at {_origin(request.url)}: {_why(exc)}. Check "
                f"providers.{self.name}.base_url and that the server is running.",
                status=502, code="upstream_unreachable") from None
        if response.status >= 400:
            try:
                raw = await response.read()
            finally:
                response.release()
            raise self.adapter.error(response.status, raw, response.headers, key=key)
        return response

    async def _send_json(self, request, key: Secret | None) -> dict:
        response = await self._open(request, key)
        try:
            return await response.json(content_type=None)
        except TimeoutError:
            raise _timeout(self.name, "reading the response") from None
        except (ValueError, aiohttp.ClientError) as exc:
            raise UpstreamError(f"{self.name} sent a response that is not JSON ({_why(exc)}).",
                                status=502, code="upstream_bad_response") from None
        finally:
            response.release()


def _unstreamed(call: ChatCall) -> ChatCall:
    if not call.request.get("stream"):
        return call
    request = {k: v for k, v in call.request.items() if k not in ("stream", "stream_options")}
    return ChatCall(request=request, model=call.model, emulate=call.emulate)


def _timeout(name: str, when: str) -> UpstreamError:
    return UpstreamError(f"{name} timed out {when} (providers.{name}.timeout_s in behest.toml).",
                         status=504, code="upstream_timeout")


def _origin(url: str) -> str:
    # Only scheme://host:port: a Gemini-style URL may carry a key in its query.
    parts = url.split("/", 3)
    return "/".join(parts[:3])


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("?", 1)[0][:200]


"""The adapter registry: provider name → how to talk to that upstream. Data only, no I/O.

Each provider package (``openai_compat``, ``anthropic``, ``gemini``, ``cohere``) has the
same three parts, after Portkey's ``providers/<name>/`` layout (style.md §1.7):
``transport`` (URL, endpoint, auth headers), ``translate`` (OpenAI request → native body,
native response → OpenAI, native error → ``UpstreamError``) and ``stream`` (a per-stream
``Translator``). An ``Adapter`` binds one provider's three parts behind one surface, so the
upstream client needs no per-provider code:

    adapter = ADAPTERS[name]
    up = adapter.request("chat", call, key, base_url=configured_base_url)
    # POST up.json to up.url with up.headers; on status >= 400:
    raise adapter.error(status, await response.read(), response.headers, key=key)
    # JSON body:    adapter.from_native("chat", body, call)
    # SSE body:     t = adapter.translator(call); for each SSEDecoder event: t.feed(event)
    #               at end of body: t.finish()

Mistral, OpenRouter and custom servers (Ollama, llama.cpp, vLLM, LM Studio) are quirk
profiles of ``openai_compat`` (providers.md §9, §10). Base URLs follow each provider SDK's
own ``base_url`` convention (OpenAI-compatible ones include ``/v1``; Anthropic, Gemini and
Cohere are host only), so a URL copied from SDK docs works as a config override.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from behest_local.errors import UpstreamError
from behest_local.providers.anthropic import stream as anthropic_stream
from behest_local.providers.anthropic import transport as anthropic_transport
from behest_local.providers.anthropic import translate as anthropic_translate
from behest_local.providers.base import ChatCall
from behest_local.providers.cohere import stream as cohere_stream
from behest_local.providers.cohere import transport as cohere_transport
from behest_local.providers.cohere import translate as cohere_translate
from behest_local.providers.gemini import stream as gemini_stream
from behest_local.providers.gemini import transport as gemini_transport
from behest_local.providers.gemini import translate as gemini_translate
from behest_local.providers.openai_compat import stream as openai_stream
from behest_local.providers.openai_compat import transport as openai_transport
from behest_local.providers.openai_compat import translate as openai_translate
from behest_local.providers.shapes import EmbedCall, UpstreamRequest
from behest_local.secret import Secret, redact
from behest_local.sse import SSEEvent

__all__ = ["ADAPTERS", "Adapter", "EmbedCall", "StreamTranslator", "UpstreamRequest"]


class StreamTranslator(Protocol):
    usage: dict | None
    """The latest usage in OpenAI shape, kept even when the client did not ask for it."""

    def feed(self, event: SSEEvent) -> list[dict]:
        """OpenAI chunks for one upstream SSE event; raises ``UpstreamError`` on an
        in-stream error event."""
        ...

    def finish(self) -> list[dict]:
        """Chunks due at end of body; raises ``UpstreamError`` if the stream was cut."""
        ...


@dataclass(frozen=True, slots=True)
class Adapter:
    name: str
    dialect: str
    """The package that implements it (``openai_compat``, ``anthropic`` …)."""
    default_base_url: str
    operations: frozenset[str]
    """Among ``chat``, ``embed``, ``models``; OpenAI's also ``moderations`` and ``images``,
    Anthropic's ``messages`` and ``count_tokens``: native bodies relayed untranslated
    (``UpstreamProvider.native_*``)."""
    key_required: bool
    _request: Callable[..., UpstreamRequest]
    _from_native: Callable[[str, dict, object], dict]
    _error: Callable[[int, bytes, Mapping[str, str] | None], UpstreamError]
    _translator: Callable[..., StreamTranslator]

    def request(self, op: str, payload: ChatCall | EmbedCall | None, key: Secret | str | None,
                *, base_url: str | None = None, headers: dict[str, str] | None = None
                ) -> UpstreamRequest:
        """The native request for ``op``; may raise ``InvalidRequestError`` for what the
        provider cannot express. ``key`` is revealed only into the returned headers."""
        return self._request(op, payload, key, base_url=base_url, headers=headers)

    def from_native(self, op: str, body: dict, call: ChatCall | EmbedCall | None = None) -> dict:
        """The OpenAI response (``chat.completion``, embeddings list, models list)."""
        return self._from_native(op, body, call)

    def error(self, status: int, body: bytes, headers: Mapping[str, str] | None = None, *,
              key: Secret | str | None = None) -> UpstreamError:
        """The ``UpstreamError`` for a native error response (status and message kept).

        Pass the request's ``key``: upstreams echo (parts of) a bad key in their messages
        ("Incorrect API key provided: sk-…"), and the message reaches clients and traces."""
        error = self._error(status, body, headers)
        if key is not None:
            error.message = redact(error.message, [key])
            error.args = (error.message,)
        return error

    def translator(self, call: ChatCall, provider: str | None = None) -> StreamTranslator:
        """A fresh translator for one stream (stateful: never share between streams).
        ``provider``: the name its errors give, the provider as configured (a custom
        server's ``[providers.NAME]``); default, the adapter's own."""
        return self._translator(call, provider=provider or self.name)


def _openai_compatible(profile: openai_transport.Profile) -> Adapter:
    ops = frozenset({"chat", "models"} | ({"embed"} if profile.embeddings else set())
                    | profile.native_ops)
    return Adapter(
        profile.name, "openai_compat", profile.base_url, ops, profile.key_required,
        partial(openai_transport.request, profile=profile), openai_translate.from_native,
        openai_translate.error_from_native, partial(openai_stream.Translator, profile=profile))


ADAPTERS: dict[str, Adapter] = {
    "openai": _openai_compatible(openai_transport.OPENAI),
    "mistral": _openai_compatible(openai_transport.MISTRAL),
    "openrouter": _openai_compatible(openai_transport.OPENROUTER),
    "custom": _openai_compatible(openai_transport.CUSTOM),
    "anthropic": Adapter(
        "anthropic", "anthropic", anthropic_transport.DEFAULT_BASE_URL,
        frozenset({"chat", "models", "messages", "count_tokens"}), True, anthropic_transport.request,
        anthropic_translate.from_native, anthropic_translate.error_from_native,
        anthropic_stream.Translator),
    "gemini": Adapter(
        "gemini", "gemini", gemini_transport.DEFAULT_BASE_URL,
        frozenset({"chat", "embed", "models"}), True, gemini_transport.request,
        gemini_translate.from_native, gemini_translate.error_from_native,
        gemini_stream.Translator),
    "cohere": Adapter(
        "cohere", "cohere", cohere_transport.DEFAULT_BASE_URL,
        frozenset({"chat", "embed", "models"}), True, cohere_transport.request,
        cohere_translate.from_native, cohere_translate.error_from_native,
        cohere_stream.Translator),
}

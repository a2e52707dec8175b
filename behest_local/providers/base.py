"""The provider contract: what the gateway asks of any model backend.

The gateway speaks OpenAI chat completions internally. A provider receives a validated
chat request (``ChatCall``) and returns a ``chat.completion`` dict, or an async iterator of
``chat.completion.chunk`` dicts for streams (the usage chunk included when the request
asked for it). Upstream failures are raised as ``errors.UpstreamError`` (before or during
a stream) or ``errors.StreamDropped`` (connection lost mid-stream). Providers never import
``server/``: they see dicts and dataclasses, never an aiohttp request. A provider whose
model list lives upstream is also a ``ModelSource`` (``GET /v1/models`` awaits it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ChatCall:
    request: dict
    """Validated OpenAI chat request; ``model`` is already the routed model."""
    model: str
    emulate: dict = field(default_factory=dict)
    """Parsed ``x-behest-emulate`` directives (see dialects/emulate.py)."""
    sink: ChunkSink | None = None
    """Optional, for ``stream``: where chunks may be sent the moment their bytes arrive
    instead of being yielded (``UpstreamProvider.stream`` says when). A provider that
    does not push ignores it."""


class ChunkSink(Protocol):
    """Takes a stream's chunks outside the consumer's task (``ChatCall.sink``)."""

    def ready(self) -> bool:
        """Whether chunks may be sent now; checked before each read's chunks, so that a
        read is either all sent here or all yielded."""
        ...

    def __call__(self, chunk: dict) -> None:
        """Send ``chunk`` on, as the consumer of ``stream`` would have."""
        ...


class ChatProvider(Protocol):
    name: str

    async def complete(self, call: ChatCall) -> dict:
        """A full ``chat.completion`` object."""
        ...

    def stream(self, call: ChatCall) -> AsyncIterator[dict]:
        """``chat.completion.chunk`` objects, in order, without the ``[DONE]`` marker."""
        ...

    async def embed(self, body: dict, model: str) -> dict:
        """An OpenAI embeddings response for a validated embeddings body."""
        ...

    def models(self) -> list[dict]:
        """OpenAI model objects this provider serves."""
        ...


@runtime_checkable
class ModelSource(Protocol):
    """A provider that fetches its models list (from an upstream, over the network)."""

    async def fetch_models(self) -> list[dict]:
        """OpenAI model objects; an unreachable upstream gives ``[]``, never an error."""
        ...

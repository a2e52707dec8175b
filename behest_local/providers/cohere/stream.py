"""Stream translator: Cohere v2 chat stream events → OpenAI ``chat.completion.chunk`` dicts.

Cohere names each event, and ``data.type`` repeats the name (providers.md §8.4). One
``Translator`` per stream:

* ``message-start`` → the role chunk; Cohere's id becomes the chunk id;
* ``content-delta`` → ``delta.content`` (deltas of a ``thinking`` content block are skipped);
* ``tool-call-start`` carries ``tool_calls`` as a single object, not a list → a tool-call
  delta with id, name and the first arguments; ``tool-call-delta`` → argument fragments.
  The OpenAI index is a per-message counter keyed by Cohere's event ``index``;
* ``message-end`` → the finish chunk, then the usage chunk if the client asked;
  ``finish_reason`` ``ERROR``/``TIMEOUT`` raise ``UpstreamError`` with ``delta.error``;
* ``tool-plan-delta`` (not the answer, see ``translate``), ``citation-*``, ``debug``, the
  ``*-end`` events, unknown events and a trailing ``data: [DONE]`` are ignored.

A body that ends before ``message-end`` is a truncation: ``finish()`` raises.
"""

from __future__ import annotations

from behest_local.providers.base import ChatCall
from behest_local.providers.cohere.translate import finish_reason, usage
from behest_local.providers.shapes import (
    ChunkFactory,
    include_usage,
    parse_event_json,
    truncated,
)
from behest_local.sse import SSEEvent


class Translator:
    """Feed decoded SSE events; get OpenAI chunks. See the module docstring."""

    def __init__(self, call: ChatCall, *, provider: str = "cohere") -> None:
        self.provider = provider
        """The name errors give: the provider as configured (``google`` for Gemini)."""
        self._chunks = ChunkFactory(call.model, include_usage=include_usage(call.request))
        self._tool_index: dict[object, int] = {}
        self._thinking: set[object] = set()
        self._started = False
        self.done = False
        self.usage: dict | None = None
        """Usage from ``message-end`` (OpenAI shape), whether or not the client asked."""

    def feed(self, event: SSEEvent) -> list[dict]:
        if self.done or event.data.strip() == "[DONE]":
            return []
        data = parse_event_json(event.data, self.provider)
        kind = data.get("type") or event.event
        message = ((data.get("delta") or {}).get("message")) or {}
        if kind == "message-start":
            if data.get("id"):
                self._chunks.id = data["id"]
            return self._role()
        if kind == "content-start":
            if (message.get("content") or {}).get("type") == "thinking":
                self._thinking.add(data.get("index"))
            return self._role()
        if kind == "content-delta":
            text = (message.get("content") or {}).get("text")
            if not text or data.get("index") in self._thinking:
                return []
            return self._role() + [self._chunks.chunk({"content": text})]
        if kind == "tool-call-start":
            return self._role() + self._tool_start(data.get("index"), message.get("tool_calls"))
        if kind == "tool-call-delta":
            fragment = ((message.get("tool_calls") or {}).get("function") or {}).get("arguments")
            index = self._tool_index.get(data.get("index"))
            if not fragment or index is None:
                return []
            return [self._chunks.chunk({"tool_calls": [
                {"index": index, "function": {"arguments": fragment}}]})]
        if kind == "message-end":
            return self._end(data.get("delta") or {})
        return []

    def finish(self) -> list[dict]:
        if not self.done:
            raise truncated(self.provider)
        return []

    def _tool_start(self, cohere_index: object, call: object) -> list[dict]:
        if isinstance(call, list):  # tolerate a list, though the wire sends one object
            call = call[0] if call else {}
        call = call or {}
        index = len(self._tool_index)
        self._tool_index[cohere_index] = index
        fn = call.get("function") or {}
        return [self._chunks.chunk({"tool_calls": [{
            "index": index, "id": call.get("id"), "type": "function",
            "function": {"name": fn.get("name"), "arguments": fn.get("arguments") or ""}}]})]

    def _end(self, delta: dict) -> list[dict]:
        self.done = True
        if delta.get("usage"):
            self.usage = usage(delta["usage"])
        reason = finish_reason(delta.get("finish_reason"), delta.get("error"))
        out = self._role() + [self._chunks.chunk({}, reason)]
        if self._chunks.include_usage and self.usage is not None:
            out.append(self._chunks.usage_chunk(self.usage))
        return out

    def _role(self) -> list[dict]:
        if self._started:
            return []
        self._started = True
        return [self._chunks.chunk({"role": "assistant", "content": ""})]

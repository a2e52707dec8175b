"""Stream translator: Anthropic's named stream events → OpenAI ``chat.completion.chunk`` dicts.

One ``Translator`` per stream, fed the events ``sse.SSEDecoder`` decodes from the upstream
body. The state machine is providers.md §6.7:

* ``message_start`` → the role chunk (``role: "assistant", content: ""``, pitfall 6); the
  message id, model and input usage are remembered;
* ``text_delta`` → ``delta.content``;
* a ``tool_use`` block start → a tool-call delta with id, name and ``arguments: ""``; its
  ``input_json_delta`` fragments follow at the same index. The index is a per-message tool
  counter, *not* Anthropic's block index, which counts text blocks too (pitfall 1);
* ``message_delta`` carries ``stop_reason`` and *cumulative* usage: fields overwrite, never
  add (pitfall 9); there may be several, so the finish chunk waits for ``message_stop``;
* ``message_stop`` → the finish chunk, then the usage chunk if the client asked;
* ``ping``, thinking/signature/citation deltas and unknown events are ignored (the SDK
  ignores unknown events too: new ones are added over time);
* ``event: error`` raises ``UpstreamError`` with the status its type implies (529 for
  ``overloaded_error``).

A body that ends before ``message_stop`` is a truncation: ``finish()`` raises.
"""

from __future__ import annotations

import json

from behest_local.dialects.messages_wire import FINISH_REASONS
from behest_local.providers.anthropic.translate import stream_error, usage
from behest_local.providers.base import ChatCall
from behest_local.providers.shapes import (
    ChunkFactory,
    include_usage,
    parse_event_json,
    truncated,
)
from behest_local.sse import SSEEvent


class Translator:
    """Feed decoded SSE events; get OpenAI chunks. See the module docstring."""

    def __init__(self, call: ChatCall, *, provider: str = "anthropic") -> None:
        self.provider = provider
        """The name errors give: the provider as configured (``google`` for Gemini)."""
        self._call = call
        self._chunks = ChunkFactory(call.model, include_usage=include_usage(call.request))
        self._native_usage: dict = {}
        self._tool_index: dict[int, int] = {}  # Anthropic block index → OpenAI tool index
        self._stop_reason: str | None = None
        self._started = False
        self.done = False
        self.usage: dict | None = None
        """The latest usage (OpenAI shape), whether or not the client asked for it."""

    def feed(self, event: SSEEvent) -> list[dict]:
        if self.done:
            return []
        data = parse_event_json(event.data, self.provider)
        kind = data.get("type") or event.event
        handler = getattr(self, "_on_" + kind, None)
        return handler(data) if handler is not None else []

    def finish(self) -> list[dict]:
        if not self.done:
            raise truncated(self.provider)
        return []

    # -- events ----------------------------------------------------------------------

    def _on_message_start(self, data: dict) -> list[dict]:
        message = data.get("message") or {}
        if message.get("id"):
            self._chunks.id = message["id"]
        if message.get("model"):
            self._chunks.model = message["model"]
        self._update_usage(message.get("usage"))
        return self._role()

    def _on_content_block_start(self, data: dict) -> list[dict]:
        block = data.get("content_block") or {}
        if block.get("type") != "tool_use":
            return self._role()
        index = len(self._tool_index)
        self._tool_index[data.get("index", index)] = index
        # ``input`` is ``{}`` at the start of a streamed block; a non-empty one came whole.
        start = block.get("input")
        arguments = json.dumps(start, ensure_ascii=False) if start else ""
        return self._role() + [self._chunks.chunk({"tool_calls": [{
            "index": index, "id": block.get("id"), "type": "function",
            "function": {"name": block.get("name"), "arguments": arguments}}]})]

    def _on_content_block_delta(self, data: dict) -> list[dict]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return self._role() + [self._chunks.chunk({"content": delta["text"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            index = self._tool_index.get(data.get("index"))
            if index is None:
                return []  # a fragment of a block we never saw start: nothing to attach to
            return [self._chunks.chunk({"tool_calls": [{
                "index": index, "function": {"arguments": delta["partial_json"]}}]})]
        return []

    def _on_message_delta(self, data: dict) -> list[dict]:
        delta = data.get("delta") or {}
        if delta.get("stop_reason"):
            self._stop_reason = delta["stop_reason"]
        self._update_usage(data.get("usage"))
        return []

    def _on_message_stop(self, data: dict) -> list[dict]:
        self.done = True
        reason = FINISH_REASONS.get(self._stop_reason or "end_turn", "stop")
        out = self._role() + [self._chunks.chunk({}, reason)]
        if self._chunks.include_usage and self.usage is not None:
            out.append(self._chunks.usage_chunk(self.usage))
        return out

    def _on_error(self, data: dict) -> list[dict]:
        raise stream_error(data.get("error") or {})

    # -- helpers ---------------------------------------------------------------------

    def _role(self) -> list[dict]:
        if self._started:
            return []
        self._started = True
        return [self._chunks.chunk({"role": "assistant", "content": ""})]

    def _update_usage(self, native: dict | None) -> None:
        if not native:
            return
        # Cumulative counts: the newest value of each field wins (pitfall 9).
        self._native_usage.update({k: v for k, v in native.items() if v is not None})
        self.usage = usage(self._native_usage)

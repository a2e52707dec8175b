"""``/v1/messages`` answer side, streamed: chat chunks → Anthropic's named SSE events.

One ``MessagesStreamTranslator`` per stream. The route calls ``start()`` before the first chunk,
``feed(chunk)`` per chat chunk, then ``finish()`` when the upstream ends (or ``stopped``
says a stop sequence matched, and the route stops reading), or ``fail()`` for an error
after the first byte. Each returns SSE frames (``event: <type>`` + ``data:``; the SDKs
ignore a data line without an event name, anthropic-ingress.md §4).

The sequence is exactly the API's: ``message_start`` (the Message with empty content,
``stop_reason`` null, the prompt's tokens), then per content block, with dense indices in
order, ``content_block_start``, its deltas (``text_delta``, ``input_json_delta``,
``thinking_delta`` then one ``signature_delta``), ``content_block_stop``; one ``ping``
after the first block opens, as Anthropic sends it; ``message_delta`` with ``stop_reason``,
``stop_sequence`` and cumulative usage; ``message_stop``. Never ``[DONE]``. One block is
open at a time (a new kind of delta, or a new tool call, closes the open one: the SDK
indexes deltas into ``content[index]``). A tool call's chat ``index`` maps to its own block;
its argument fragments are sent as they come (their concatenation is the JSON object).

Usage: chat's usage chunk (which the gateway always asks for) arrives after the finish
chunk, so ``message_delta`` waits for the end; without one, the output is counted with
``count``. Pure: the route owns the socket, the ids and the token counter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from behest_local import sse
from behest_local.dialects.messages_reply import (REASONING_FIELDS, StopWatch, message_shell,
                                                  signature, usage_of)
from behest_local.dialects.messages_wire import STOP_REASONS, error_body, native_usage


def _frame(data: dict) -> bytes:
    return sse.encode_json(data, event=data["type"])


class MessagesStreamTranslator:
    """Chat chunks → Messages events (see the module docstring)."""

    def __init__(self, *, message_id: str, model: str, input_tokens: int,
                 stop_sequences: Sequence[str] = (), thinking: str | None = None,
                 want_reasoning: bool = False, count: Callable[[str], int],
                 cache: tuple[int, int] | None = None) -> None:
        self.message_id, self.model = message_id, model
        self.input_tokens = input_tokens
        self.watch = StopWatch(stop_sequences) if stop_sequences else None
        self.thinking = thinking
        """A thinking block to lead with (the emulated model's), or None."""
        self.want_reasoning = want_reasoning
        self.count = count
        self.cache = cache
        """Prompt tokens (read, written) of the gateway's own cache (``messages_cache``)."""
        self.index = -1
        self.open: str | None = None  # the kind of the open block: text, thinking, tool
        self.tools: dict[int, int] = {}  # chat tool-call index → block index
        self.tool_open: int | None = None  # the chat index of the open tool block
        self.thought: list[str] = []
        self.sent: list[str] = []  # generated text sent, for a count without usage
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self.stopped = False
        self.pinged = False

    # -- the sequence ----------------------------------------------------------------

    def start(self) -> list[bytes]:
        shell = message_shell(self.message_id, self.model)
        shell["usage"] = native_usage(self.input_tokens, 1, *(self.cache or (0, 0)))
        out = [_frame({"type": "message_start", "message": shell})]
        if self.thinking:
            out += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._thinking(self.thinking)
            out += self._close()
        return out

    def feed(self, chunk: dict) -> list[bytes]:
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        out: list[bytes] = []
        if self.stopped:
            return out
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0):
                continue
            delta = choice.get("delta") or {}
            if self.want_reasoning:
                for name in REASONING_FIELDS:
                    if isinstance(delta.get(name), str) and delta[name]:
                        if self.open != "thinking":
                            out += self._close() + self._open("thinking", {
                                "type": "thinking", "thinking": "", "signature": ""})
                        out += self._thinking(delta[name])
            text = delta.get("content")
            if isinstance(text, str) and text:
                out += self._text(text)
                if self.stopped:
                    return out
            for call in delta.get("tool_calls") or ():
                out += self._tool(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        watch = self.watch
        if watch is not None and not self.stopped:
            rest = watch.flush()
            if rest:
                out += self._text_frames(rest)
        out += self._close()
        prompt, output, cached = usage_of(self.usage)
        if self.usage is None or self.stopped:
            output = self.count("".join(self.sent))
            prompt = prompt or self.input_tokens
        stop_reason = "stop_sequence" if self.stopped else STOP_REASONS.get(
            self.finish_reason or "stop", "end_turn")
        usage = native_usage(prompt, output, *(self.cache or (cached, 0)))
        del usage["cache_creation"], usage["service_tier"]  # message_delta's usage
        out.append(_frame({"type": "message_delta", "delta": {
            "stop_reason": stop_reason,
            "stop_sequence": watch.matched if watch is not None else None}, "usage": usage}))
        out.append(_frame({"type": "message_stop"}))
        return out

    def fail(self, status: int, message: str, request_id: str | None = None) -> bytes:
        """The ``error`` event for a failure after the first byte (§4)."""
        return sse.encode_json(error_body(status, message, request_id), event="error")

    # -- blocks ----------------------------------------------------------------------

    def _open(self, kind: str, block: dict) -> list[bytes]:
        self.index += 1
        self.open = kind
        out = [_frame({"type": "content_block_start", "index": self.index,
                       "content_block": block})]
        if not self.pinged:
            self.pinged = True
            out.append(_frame({"type": "ping"}))
        return out

    def _close(self) -> list[bytes]:
        if self.open is None:
            return []
        out = []
        if self.open == "thinking":
            out.append(self._delta({"type": "signature_delta",
                                    "signature": signature("".join(self.thought))}))
            self.thought = []
        self.open, self.tool_open = None, None
        out.append(_frame({"type": "content_block_stop", "index": self.index}))
        return out

    def _delta(self, delta: dict) -> bytes:
        return _frame({"type": "content_block_delta", "index": self.index, "delta": delta})

    def _thinking(self, text: str) -> list[bytes]:
        self.thought.append(text)
        return [self._delta({"type": "thinking_delta", "thinking": text})]

    def _text(self, text: str) -> list[bytes]:
        watch = self.watch
        if watch is not None:
            text = watch.feed(text)
            if watch.matched is not None:
                self.stopped = True
            if not text:
                return []
        return self._text_frames(text)

    def _text_frames(self, text: str) -> list[bytes]:
        out = []
        if self.open != "text":
            out = self._close() + self._open("text", {"type": "text", "text": ""})
        self.sent.append(text)
        out.append(self._delta({"type": "text_delta", "text": text}))
        return out

    def _tool(self, call: dict) -> list[bytes]:
        n = call.get("index", 0)
        function = call.get("function") or {}
        out: list[bytes] = []
        if n not in self.tools:
            out += self._close() + self._open("tool", {
                "type": "tool_use", "id": call.get("id"), "name": function.get("name") or "",
                "input": {}})
            self.tools[n] = self.index
            self.tool_open = n
            self.sent.append(function.get("name") or "")
        elif self.tool_open != n:
            return out  # a fragment of a block already closed: interleaving is not allowed
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self.sent.append(arguments)
            out.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return out

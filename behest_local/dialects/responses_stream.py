"""``/v1/responses`` answer side, streamed: chat chunks → Responses stream events.

Flow: when the ``/v1/responses`` request streams, the server feeds each
``chat.completion.chunk`` from the provider to a ``ResponsesStreamTranslator`` and frames
each returned ``(event_name, data)`` pair as ``event: <name>\\ndata: <json>\\n\\n``.
There is no ``[DONE]``: the terminal event (``response.completed`` / ``.incomplete`` /
``.failed``) ends the stream (providers.md §0, §5.3).

The final response is built with ``responses_object``'s helpers, so it equals
``from_chat_completion`` of the aggregated completion. One caveat: streamed output keeps
the order in which items first appeared, while the whole-completion path puts the message
before the function calls (the order OpenAI-style upstreams stream them in anyway).
"""

from __future__ import annotations

from typing import Any

from behest_local.dialects.responses_object import (
    RESPONSE_ERROR_CODES,
    build_response,
    fallback_call_id,
    function_call_id,
    function_call_item,
    message_id,
    message_item,
    output_part,
    response_status,
    response_usage,
)


class _Message:
    """The open assistant message item: its content parts in order of appearance."""

    def __init__(self, item_id: str, output_index: int) -> None:
        self.id = item_id
        self.output_index = output_index
        self.parts: list[list[str]] = []  # [kind, text so far]
        self.part_index: dict[str, int] = {}

    def item(self, status: str) -> dict:
        return message_item(self.id, [(kind, text) for kind, text in self.parts], status)


class _Call:
    """An open function call item, keyed by its chat tool-call index."""

    def __init__(self, item_id: str, output_index: int, call_id: str, name: str) -> None:
        self.id = item_id
        self.output_index = output_index
        self.call_id = call_id
        self.name = name
        self.arguments = ""

    def item(self, status: str) -> dict:
        return function_call_item(self.id, self.call_id, self.name, self.arguments, status)


class ResponsesStreamTranslator:
    """Chat completion chunks → Responses stream events (providers.md §5.3).

    Call ``start()`` once, ``feed(chunk)`` per chat chunk, then exactly one of
    ``finish()`` (the upstream stream ended normally) or ``fail(message, code)``. Each
    call returns ``(event_name, data)`` pairs; ``data["type"] == event_name`` and
    ``data["sequence_number"]`` counts up from 0 across the whole stream. ``feed()``
    before ``start()`` starts the stream itself; once finished or failed, ``finish()``
    and ``fail()`` return ``[]`` and ``feed()`` raises ``RuntimeError``. A chunk with a
    top-level ``error`` (OpenAI's mid-stream error shape, §1.4) fails the stream.

    Items stay open until ``finish()``, which closes them in output order; parallel tool
    calls each get their own ``output_index`` (one per chat tool-call ``index``; §5.4
    pitfall: collapsing them onto one index breaks clients). Only chat choice 0 is read:
    a Responses request never asks for ``n > 1``.
    """

    def __init__(self, *, request: dict, response_id: str, created_at: int, model: str) -> None:
        self._request = request
        self._response_id = response_id
        self._created_at = created_at
        self._model = model
        self._sequence = 0
        self._items: list[_Message | _Call] = []
        self._message: _Message | None = None
        self._calls: dict[int, _Call] = {}
        self._finish_reason: str | None = None
        self._usage: dict | None = None
        self._started = False
        self._closed = False
        self.final: dict | None = None
        """The terminal event's response object, once ``finish`` or ``fail`` made it (what a
        stored response keeps)."""

    # ---- public API

    def start(self) -> list[tuple[str, dict]]:
        """``response.created`` then ``response.in_progress``, both with an empty output."""
        if self._started:
            return []
        self._started = True
        snapshot = self._response("in_progress", output=[], usage=None)
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def feed(self, chunk: dict) -> list[tuple[str, dict]]:
        """Translate one chat chunk (a usage-only chunk with ``choices: []`` is recorded)."""
        if self._closed:
            raise RuntimeError("feed() after the stream was finished or failed")
        events = self.start()
        error = chunk.get("error")
        if error:  # an OpenAI-style mid-stream error chunk (§1.4)
            if not isinstance(error, dict):
                error = {"message": str(error)}
            return events + self.fail(str(error.get("message") or "upstream error"), error.get("code"))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:  # may be [] or null (§1.4)
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text_delta("output_text", delta["content"])
            if delta.get("refusal"):
                events += self._text_delta("refusal", delta["refusal"])
            for call_delta in delta.get("tool_calls") or []:
                events += self._tool_call_delta(call_delta)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[tuple[str, dict]]:
        """Close every open item in output order, then the terminal event."""
        if self._closed:
            return []
        events = self.start()
        if not self._items:  # nothing said: an empty message, as from_chat_completion gives
            events += self._open_message()
            assert self._message is not None
            events += self._open_part(self._message, "output_text")
        status, incomplete = response_status(self._finish_reason)
        item_status = "incomplete" if status == "incomplete" else "completed"
        for item in self._items:
            events += self._close_item(item, item_status)
        self._closed = True
        response = self._response(status, self._output(item_status), response_usage(self._usage), incomplete)
        self.final = response
        name = "response.completed" if status == "completed" else "response.incomplete"
        return events + [self._event(name, response=response)]

    def fail(self, message: str, code: str | None = None) -> list[tuple[str, dict]]:
        """An ``error`` event, then ``response.failed`` carrying ``error {code, message}``.

        The failed response keeps the items produced so far, marked ``incomplete``.
        """
        if self._closed:
            return []
        events = self.start()
        self._closed = True
        events.append(self._event("error", code=code, message=message, param=None))
        error = {"code": code if code in RESPONSE_ERROR_CODES else "server_error", "message": message}
        response = self._response(
            "failed", self._output("incomplete"), response_usage(self._usage), error=error
        )
        self.final = response
        return events + [self._event("response.failed", response=response)]

    # ---- helpers

    def _event(self, name: str, **fields: Any) -> tuple[str, dict]:
        data = {"type": name, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return name, data

    def _response(
        self,
        status: str,
        output: list[dict],
        usage: dict | None,
        incomplete: dict | None = None,
        error: dict | None = None,
    ) -> dict:
        return build_response(
            self._request,
            response_id=self._response_id,
            created_at=self._created_at,
            model=self._model,
            status=status,
            output=output,
            usage=usage,
            incomplete_details=incomplete,
            error=error,
        )

    def _output(self, status: str) -> list[dict]:
        return [item.item(status) for item in self._items]

    def _open_message(self) -> list[tuple[str, dict]]:
        self._message = _Message(message_id(self._response_id), len(self._items))
        self._items.append(self._message)
        return [
            self._event(
                "response.output_item.added",
                output_index=self._message.output_index,
                item=self._message.item("in_progress"),
            )
        ]

    def _open_part(self, message: _Message, kind: str) -> list[tuple[str, dict]]:
        message.part_index[kind] = len(message.parts)
        message.parts.append([kind, ""])
        return [
            self._event(
                "response.content_part.added",
                item_id=message.id,
                output_index=message.output_index,
                content_index=message.part_index[kind],
                part=output_part(kind, ""),
            )
        ]

    def _text_delta(self, kind: str, text: str) -> list[tuple[str, dict]]:
        events: list[tuple[str, dict]] = []
        if self._message is None:
            events += self._open_message()
        message = self._message
        assert message is not None
        if kind not in message.part_index:
            events += self._open_part(message, kind)
        index = message.part_index[kind]
        message.parts[index][1] += text
        fields: dict[str, Any] = {
            "item_id": message.id,
            "output_index": message.output_index,
            "content_index": index,
            "delta": text,
        }
        if kind == "output_text":
            events.append(self._event("response.output_text.delta", **fields, logprobs=[]))
        else:
            events.append(self._event("response.refusal.delta", **fields))
        return events

    def _tool_call_delta(self, delta: dict) -> list[tuple[str, dict]]:
        events: list[tuple[str, dict]] = []
        index = delta.get("index")
        if index is None:
            index = self._infer_tool_index(delta.get("id"))
        function = delta.get("function") or {}
        call = self._calls.get(index)
        if call is None:
            # §1.4: the first delta of a call carries id and name; later ones only
            # argument fragments.
            call = _Call(
                function_call_id(self._response_id, index),
                len(self._items),
                delta.get("id") or fallback_call_id(self._response_id, index),
                function.get("name") or "",
            )
            self._calls[index] = call
            self._items.append(call)
            events.append(
                self._event("response.output_item.added", output_index=call.output_index, item=call.item("in_progress"))
            )
        elif function.get("name") and not call.name:
            call.name = function["name"]
        fragment = function.get("arguments") or ""
        if fragment:
            call.arguments += fragment
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.id,
                    output_index=call.output_index,
                    delta=fragment,
                )
            )
        return events

    def _infer_tool_index(self, call_id: str | None) -> int:
        """Lenient fallback for OpenAI-compatible backends that omit ``index`` (§1.4)."""
        for index, call in self._calls.items():
            if call_id and call.call_id == call_id:
                return index
        if call_id or not self._calls:
            return len(self._calls)  # a new call
        return max(self._calls)  # a fragment of the latest call

    def _close_item(self, item: _Message | _Call, status: str) -> list[tuple[str, dict]]:
        events: list[tuple[str, dict]] = []
        if isinstance(item, _Message):
            for index, (kind, text) in enumerate(item.parts):
                where = {"item_id": item.id, "output_index": item.output_index, "content_index": index}
                if kind == "output_text":
                    events.append(self._event("response.output_text.done", **where, text=text, logprobs=[]))
                else:
                    events.append(self._event("response.refusal.done", **where, refusal=text))
                events.append(self._event("response.content_part.done", **where, part=output_part(kind, text)))
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=item.output_index,
                    arguments=item.arguments,
                )
            )
        events.append(self._event("response.output_item.done", output_index=item.output_index, item=item.item(status)))
        return events


__all__ = ["ResponsesStreamTranslator"]

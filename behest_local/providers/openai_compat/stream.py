"""Stream translator for OpenAI-compatible upstreams: chunks in, normalised chunks out.

One ``Translator`` per stream. The upstream already speaks ``chat.completion.chunk``, so
the work is repair, not translation (providers.md §1.4, §9.4, §10.4, pitfalls 6–8, 11, 22):

* the first chunk of each choice carries ``role: "assistant"``;
* tool-call ``index`` is a per-choice counter: a delta with a new ``id`` opens the next
  index, a delta without one continues the call its upstream index last named (Mistral
  sends whole calls, possibly all at index 0; parallel calls must not collide);
* an ``arguments`` object (Mistral) becomes a JSON string;
* usage is always remembered on ``.usage`` (for the gateway's records) but reaches the
  client only as OpenAI's ``choices: []`` chunk, and only if it asked with
  ``stream_options.include_usage``; Mistral's usage on the finish chunk is split off;
* an in-band ``error`` (OpenAI ``data: {"error": …}``, OpenRouter ``finish_reason:
  "error"``) raises ``UpstreamError``; SSE comments (``: OPENROUTER PROCESSING``) never get
  here because ``sse.SSEDecoder`` drops them.

The stream must end with ``data: [DONE]`` or at least a finish_reason for every choice
seen; anything less is a truncation and ``finish()`` raises.

Most chunks need none of that: once a choice has begun, a plain text delta from OpenAI or
a compatible server is already what the client gets. ``_as_sent`` recognises those and
returns the parsed chunk as an ``sse.EventJSON`` holding the event's own text, which the
relay then writes as received instead of encoding it again; every other chunk is repaired.
"""

from __future__ import annotations

import json
import time

from behest_local.providers.base import ChatCall
from behest_local.providers.shapes import include_usage, parse_event_json, truncated
from behest_local.providers.openai_compat.transport import OPENAI, Profile
from behest_local.providers.openai_compat.translate import (
    FINISH_REASONS,
    finish_reason,
    in_band_error,
)
from behest_local.sse import EventJSON, SSEEvent


class _Choice:
    __slots__ = ("role_sent", "finished", "by_upstream", "seen_ids", "next")

    def __init__(self) -> None:
        self.role_sent = False
        self.finished = False
        self.by_upstream: dict[object, int] = {}
        self.seen_ids: set[str] = set()
        self.next = 0


class Translator:
    """Feed decoded SSE events; get OpenAI chunks. See the module docstring."""

    def __init__(self, call: ChatCall, profile: Profile = OPENAI, *,
                 provider: str | None = None) -> None:
        self.provider = provider or profile.name
        """The name errors give: the provider as configured (``ollama``, not ``custom``)."""
        self.include_usage = include_usage(call.request)
        self.model = call.model
        self.usage: dict | None = None
        """The latest usage the upstream reported (OpenAI shape), whether or not sent."""
        self.done = False
        self._choices: dict[int, _Choice] = {}
        self._header: dict | None = None

    def feed(self, event: SSEEvent) -> list[dict]:
        if self.done:
            return []
        data = event.data
        if data[:1] != "{" and data.strip() == "[DONE]":
            self.done = True
            return []
        chunk = parse_event_json(data, self.provider)
        if not self._as_sent(chunk):
            return self._repaired(chunk)
        frame = EventJSON(chunk, data)
        if self.include_usage:
            frame["usage"] = None
        else:
            frame.pop("usage", None)
        return [frame]

    def _repaired(self, chunk: dict) -> list[dict]:
        """``chunk`` made what the client expects (the module docstring's list)."""
        if chunk.get("error"):
            raise in_band_error(chunk)
        header = self._remember_header(chunk)
        out: list[dict] = []
        choices = [self._choice(c, chunk) for c in chunk.get("choices") or []]
        usage = chunk.get("usage")
        if choices:
            frame = {**chunk, **header, "choices": choices}
            if self.include_usage:
                frame["usage"] = None
            else:
                frame.pop("usage", None)
            out.append(frame)
        if isinstance(usage, dict):
            if usage.get("total_tokens") is None:
                usage = {**usage, "total_tokens": (usage.get("prompt_tokens") or 0)
                         + (usage.get("completion_tokens") or 0)}
            self.usage = usage
            if self.include_usage:
                out.append({**{k: v for k, v in chunk.items() if k not in ("choices", "usage")},
                            **header, "choices": [], "usage": usage})
        return out

    def finish(self) -> list[dict]:
        """End of the upstream body: nothing more to emit, or a truncation error."""
        if self.done:
            return []
        if self._choices and all(c.finished for c in self._choices.values()):
            return []  # some local servers omit [DONE]; every choice did finish
        raise truncated(self.provider)

    # -- helpers -------------------------------------------------------------------------

    def _as_sent(self, chunk: dict) -> bool:
        """Whether repairing ``chunk`` would change nothing but its ``usage: null`` (see
        ``feed``). Records a finish as the repair would; any doubt means repair."""
        header = self._header
        if (header is None or chunk.get("usage") is not None or chunk.get("error")
                or chunk.get("id") != header["id"] or chunk.get("model") != header["model"]
                or chunk.get("created") != header["created"]
                or chunk.get("object") != "chat.completion.chunk"):
            return False
        choices = chunk.get("choices")
        if not choices or type(choices) is not list:
            return False
        finished = []
        for choice in choices:
            if (type(choice) is not dict or "logprobs" not in choice
                    or "finish_reason" not in choice):
                return False
            index = choice.get("index")  # begun (its role was sent), and it says which
            state = self._choices.get(index) if type(index) is int else None
            delta = choice.get("delta")
            reason = choice["finish_reason"]
            if (state is None or type(delta) is not dict or delta.get("tool_calls")
                    or (reason is not None and (type(reason) is not str or reason == "error"
                                                or reason in FINISH_REASONS))):
                return False
            if reason is not None:
                finished.append(state)
        for state in finished:
            state.finished = True
        return True

    def _remember_header(self, chunk: dict) -> dict:
        """``id``/``object``/``created``/``model`` of the first chunk, repeated on every chunk
        (early Mistral chunks lack ``object`` and ``created``, §9.4)."""
        if self._header is None:
            self._header = {"id": chunk.get("id") or "chatcmpl-upstream",
                            "object": "chat.completion.chunk",
                            "created": chunk.get("created") or int(time.time()),
                            "model": chunk.get("model") or self.model}
        return self._header

    def _choice(self, choice: dict, chunk: dict) -> dict:
        index = choice.get("index", 0)
        state = self._choices.setdefault(index, _Choice())
        delta = dict(choice.get("delta") or {})
        if not state.role_sent:
            delta.setdefault("role", "assistant")
            state.role_sent = True
        if delta.get("tool_calls"):
            delta["tool_calls"] = [self._tool_call(state, tc) for tc in delta["tool_calls"]]
        reason = finish_reason(choice.get("finish_reason"), chunk)
        if reason is not None:
            state.finished = True
        return {**choice, "index": index, "delta": delta, "logprobs": choice.get("logprobs"),
                "finish_reason": reason}

    @staticmethod
    def _tool_call(state: _Choice, tool_call: dict) -> dict:
        tool_call = dict(tool_call)
        upstream = tool_call.get("index")
        call_id = tool_call.get("id")
        if call_id and call_id not in state.seen_ids:
            state.seen_ids.add(call_id)
            ours = state.next
            state.next += 1
            state.by_upstream[upstream] = ours
            tool_call.setdefault("type", "function")
        elif upstream in state.by_upstream:
            ours = state.by_upstream[upstream]
        else:  # a fragment of a call whose start we never saw: give it its own index
            ours = state.next
            state.next += 1
            state.by_upstream[upstream] = ours
        tool_call["index"] = ours
        fn = tool_call.get("function")
        if isinstance(fn, dict) and not isinstance(fn.get("arguments", ""), str):
            tool_call["function"] = {**fn, "arguments": json.dumps(fn["arguments"],
                                                                   ensure_ascii=False)}
        return tool_call

"""Stream translator: Gemini ``streamGenerateContent?alt=sse`` events → OpenAI chunks.

Each ``data:`` event is a GenerateContentResponse holding only the new parts
(providers.md §7.4), and the stream has no terminator: the end of the body is the end.
One ``Translator`` per stream, per §7.7 and the pitfalls it cites:

* the first event opens every candidate with a role chunk (pitfall 6);
* text parts → ``delta.content``; ``thought`` parts are skipped;
* a ``functionCall`` part arrives whole → one tool-call delta with id, name and the full
  arguments, at an index that counts calls per candidate *across* events (pitfall 2);
* ``finish_reason`` appears only on the chunk for the event that carries ``finishReason``
  (pitfall 4), and is ``tool_calls`` when the candidate made calls although Gemini says
  ``STOP`` (pitfall 3); that event may have no parts at all (pitfall 5);
* ``usageMetadata`` is a snapshot that may repeat: the last one wins (never summed); the
  usage chunk goes out at end of body, since any event may still update it;
* an event holding ``{"error": …}`` raises ``UpstreamError``.

Gemini's mid-stream errors are raw JSON, often pretty-printed over several lines and not
``data:``-prefixed (§0: python-genai buffers such lines until the braces balance). The
translator asks for them (``raw_lines``: the upstream loop then decodes with
``SSEDecoder(raw_lines=True)``), gathers the raw lines until they parse as JSON (an
object, or one wrapped in ``[...]``) and raises the error they carry with its own status
and message. Raw text that never becomes JSON is reported at end of body, quoted.
"""

from __future__ import annotations

import json

from behest_local.errors import UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.gemini.translate import finish_reason, native_error, tool_call, usage
from behest_local.providers.shapes import (
    ChunkFactory,
    include_usage,
    parse_event_json,
    truncated,
)
from behest_local.sse import SSEEvent


class _Candidate:
    __slots__ = ("calls", "finished")

    def __init__(self) -> None:
        self.calls = 0
        self.finished = False


MAX_RAW = 64 * 1024
"""Raw (non-SSE) text kept while waiting for it to become a JSON error body."""


class Translator:
    """Feed decoded SSE events; get OpenAI chunks. See the module docstring."""

    raw_lines = True
    """Wants non-SSE lines as ``SSEEvent(raw=True)`` (see ``sse.SSEDecoder``)."""

    def __init__(self, call: ChatCall, *, provider: str = "gemini") -> None:
        self.provider = provider
        """The name errors give: the provider as configured (``google`` for Gemini)."""
        self._chunks = ChunkFactory(call.model, include_usage=include_usage(call.request))
        self._choices = max(1, call.request.get("n") or 1)
        self._candidates: dict[int, _Candidate] = {}
        self._started = False
        self._closed = False
        self._raw: list[str] = []
        self.usage: dict | None = None
        """The latest usage snapshot (OpenAI shape), whether or not the client asked."""

    @property
    def done(self) -> bool:
        return bool(self._candidates) and all(c.finished for c in self._candidates.values())

    def feed(self, event: SSEEvent) -> list[dict]:
        if event.raw:
            self._raw_line(event.data)
            return []
        data = parse_event_json(event.data, self.provider)
        if isinstance(data.get("error"), dict):
            raise native_error(data["error"])
        out = self._open(data)
        if data.get("usageMetadata"):
            self.usage = usage(data["usageMetadata"])
        candidates = data.get("candidates") or []
        if not candidates and (data.get("promptFeedback") or {}).get("blockReason"):
            # The prompt itself was blocked: no candidates at all (§7.3).
            for index in range(self._choices):
                self._candidates.setdefault(index, _Candidate()).finished = True
                out.append(self._chunks.chunk({}, "content_filter", index))
        for position, candidate in enumerate(candidates):
            out += self._candidate(candidate.get("index", position), candidate)
        return out

    def finish(self) -> list[dict]:
        """End of body: the usage chunk if asked for, or a truncation error."""
        if self._closed:
            return []
        if "".join(self._raw).strip():
            text = " ".join(line.strip() for line in self._raw)
            raise UpstreamError(f"{self.provider} ended the stream with text that is not an "
                                f"event: {text[:300]!r}", status=502, code="bad_upstream_event")
        if not self.done:
            raise truncated(self.provider)
        self._closed = True
        if self._chunks.include_usage and self.usage is not None:
            return [self._chunks.usage_chunk(self.usage)]
        return []

    def _raw_line(self, line: str) -> None:
        """Gather raw lines; raise the error once they form a JSON body."""
        self._raw.append(line)
        text = "\n".join(self._raw).strip()
        if not text:
            self._raw.clear()
            return
        if len(text) > MAX_RAW:
            raise UpstreamError(f"{self.provider} sent non-event text mid-stream: {text[:300]!r}",
                                status=502, code="bad_upstream_event")
        if text[-1] not in "}]":
            return
        try:
            body = json.loads(text)
        except ValueError:
            return  # not complete yet (a brace inside a string, more lines to come)
        self._raw.clear()
        if isinstance(body, list) and body:
            body = body[0]
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise native_error(error)
        raise UpstreamError(f"{self.provider} sent non-event JSON mid-stream: {text[:300]!r}",
                            status=502, code="bad_upstream_event")

    def _open(self, data: dict) -> list[dict]:
        if self._started:
            return []
        self._started = True
        if data.get("responseId"):
            self._chunks.id = data["responseId"]
        if data.get("modelVersion"):
            self._chunks.model = data["modelVersion"]
        return [self._chunks.chunk({"role": "assistant", "content": ""}, index=i)
                for i in range(self._choices)]

    def _candidate(self, index: int, candidate: dict) -> list[dict]:
        state = self._candidates.setdefault(index, _Candidate())
        if state.finished:
            return []
        out = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if part.get("thought"):
                continue
            if part.get("text"):
                out.append(self._chunks.chunk({"content": part["text"]}, index=index))
            elif "functionCall" in part:
                call = {"index": state.calls, **tool_call(part)}
                state.calls += 1
                out.append(self._chunks.chunk({"tool_calls": [call]}, index=index))
        if candidate.get("finishReason"):
            state.finished = True
            reason = finish_reason(candidate["finishReason"], state.calls > 0)
            out.append(self._chunks.chunk({}, reason, index=index))
        return out

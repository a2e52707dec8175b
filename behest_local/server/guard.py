"""Where a project's guardrails run: around the provider of every chat-shaped call.

Chat completions, completions, the Responses API and the Messages API (translated) all
build their provider call in one place (``routes/openai._chat_call``), after
authentication, admission and routing; that place wraps the provider in a
``GuardedProvider`` when the project has a guardrail on, so the prompt is checked once,
in the dialect every route speaks inside (chat messages: content strings and text parts,
the Responses API's ``instructions`` and the Messages API's ``system`` included, as
system messages), and before any provider, real or emulated, is asked. The project's own
system prompt is not checked: it is the project's, not the user's.

What it does with ``guardrails.shield``'s verdict:

* records each finding on the exchange (``Exchange.guarded``: a ``GuardrailTriggered``
  event, a line in the record) and hands the values found to the capture, which replaces
  them in every copy a trace, export or log shows (``Capture.pii``), in shadow mode too;
* a block raises ``GuardrailBlocked`` (451) before the provider is called;
* masked and redacted messages replace the call's; a MASK reply has its placeholders put
  back: a whole completion's message, or a stream's content deltas through a
  ``StreamRestorer`` per choice (the stream then skips the direct-write sink, so the
  chunks pass here). A call without MASK findings keeps the sink: its chunks pass only
  through this generator's ``yield`` (and a chat stream's mostly not even that), and a
  project without guardrails is never wrapped at all.

A prompt of more than ``INLINE_BYTES`` characters is checked beside the loop
(``offload.off_loop``): a 19 MiB prompt takes about a second to scan.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from behest_local.errors import GuardrailBlocked
from behest_local.exchange.exchange import Exchange
from behest_local.guardrails.entities import PII_BLOCKED
from behest_local.guardrails.restore import StreamRestorer, restore
from behest_local.guardrails.shield import Shielded, shield, texts
from behest_local.offload import off_loop
from behest_local.providers.base import ChatCall, ChatProvider
from behest_local.server.big_body import INLINE_BYTES

_PII_MESSAGE = ("The request was blocked by the project's PII shield: it contains {found}. "
                "Remove them, or change projects.{project}.guardrails.pii.")
_CONTENT_MESSAGE = ("The request was blocked by the project's content policy: it matches "
                    "{found}. See projects.{project}.guardrails.content.")


class GuardedProvider:
    """``inner`` with the project's guardrails applied to each call (module docstring)."""

    def __init__(self, inner: ChatProvider, policy: Any, exchange: Exchange, *,
                 project: str, skip: int = 0) -> None:
        self.inner, self.policy, self.exchange = inner, policy, exchange
        self.name = inner.name
        self.project = project
        self.skip = skip
        """Leading messages not checked: the project's own system prompt."""

    async def _checked(self, call: ChatCall) -> tuple[ChatCall, dict[str, str]]:
        messages = call.request["messages"]
        head, checked = messages[:self.skip], messages[self.skip:]
        size = sum(len(text) for *_, text in texts(checked))
        if size > INLINE_BYTES:
            result = await off_loop(shield, checked, self.policy)
        else:
            result = shield(checked, self.policy)
        self._record(result)
        if result.blocked is not None:
            code, counts = result.blocked
            raise self._refusal(code, counts)
        if result.messages is not checked:
            call = replace(call, request=dict(call.request, messages=[*head, *result.messages]))
        return call, result.originals

    def _record(self, result: Shielded) -> None:
        exchange = self.exchange
        if result.values:
            exchange.pii = (*exchange.pii, *result.values)
        for f in result.findings:
            exchange.guarded(guard=f.guard, mode=f.mode, counts=f.counts, action=f.action,
                             summary=f.summary())

    def _refusal(self, code: str, counts: Mapping[str, int]) -> GuardrailBlocked:
        # Entity types and counts only: the message and details never quote the prompt.
        if code == PII_BLOCKED:
            found = ", ".join(f"{n} {name}" for name, n in counts.items())
            message, details = _PII_MESSAGE, {"entities": dict(counts)}
        else:
            matches = sum(counts.values())
            found = f"{matches} blocked phrase{'s' if matches > 1 else ''} or pattern"
            message, details = _CONTENT_MESSAGE, {"matches": matches}
        return GuardrailBlocked(message.format(found=found, project=self.project), code=code,
                                details=details)

    async def complete(self, call: ChatCall) -> dict:
        call, originals = await self._checked(call)
        completion = await self.inner.complete(call)
        return restore_completion(completion, originals) if originals else completion

    async def stream(self, call: ChatCall) -> AsyncIterator[dict]:
        call, originals = await self._checked(call)
        if not originals:
            async for chunk in self.inner.stream(call):
                yield chunk
            return
        restorers: dict[int, StreamRestorer] = {}
        last: dict | None = None
        async for chunk in self.inner.stream(replace(call, sink=None)):
            last = chunk
            yield restore_chunk(chunk, originals, restorers)
        held = {i: r.flush() for i, r in restorers.items()}
        if any(held.values()) and last is not None:  # a stream cut before its finish
            yield {**last, "choices": [{"index": i, "delta": {"content": text},
                                        "finish_reason": None}
                                       for i, text in held.items() if text], "usage": None}

    async def embed(self, body: dict, model: str) -> dict:
        return await self.inner.embed(body, model)

    def models(self) -> list[dict]:
        return self.inner.models()


def restore_completion(completion: dict, originals: Mapping[str, str]) -> dict:
    """``completion`` with its messages' placeholders (content and tool-call arguments,
    JSON-escaped there) restored; a copy, the upstream's object is left as it was."""
    choices = []
    for choice in completion.get("choices") or ():
        message = choice.get("message")
        if not isinstance(message, dict):
            choices.append(choice)
            continue
        message = dict(message)
        if isinstance(message.get("content"), str):
            message["content"] = restore(message["content"], originals)
        if message.get("tool_calls"):
            escaped = {k: _json_escaped(v) for k, v in originals.items()}
            message["tool_calls"] = [
                {**call, "function": {**call["function"], "arguments": restore(
                    call["function"].get("arguments") or "", escaped)}}
                if isinstance(call.get("function"), dict) else call
                for call in message["tool_calls"]]
        choices.append({**choice, "message": message})
    return {**completion, "choices": choices}


def restore_chunk(chunk: dict, originals: Mapping[str, str],
                  restorers: dict[int, StreamRestorer]) -> dict:
    """A stream chunk with its content deltas restored (text that may still become a
    placeholder held back, flushed with the choice's finish)."""
    choices = chunk.get("choices")
    if not choices:
        return chunk
    out = []
    for choice in choices:
        delta = choice.get("delta") or {}
        content = delta.get("content")
        finish = choice.get("finish_reason")
        if not isinstance(content, str) and not finish:
            out.append(choice)
            continue
        restorer = restorers.get(choice.get("index", 0))
        if restorer is None:
            restorer = restorers[choice.get("index", 0)] = StreamRestorer(originals)
        text = restorer.feed(content) if isinstance(content, str) else ""
        if finish:
            text += restorer.flush()
        if isinstance(content, str) or text:
            choice = {**choice, "delta": {**delta, "content": text}}
        out.append(choice)
    return {**chunk, "choices": out}


def _json_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]

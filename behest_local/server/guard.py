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
  back: a whole completion's message, or a stream's content and tool-call argument
  deltas (``ChunkRestorer``: a ``StreamRestorer`` per choice and per tool call, so a
  placeholder split across events comes back whole; the stream then skips the
  direct-write sink, so the chunks pass here). A call without MASK findings keeps the sink: its chunks pass only
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


async def check(messages: list, policy: Any, exchange: Exchange, *, project: str) -> Shielded:
    """``policy`` applied to ``messages``, its findings recorded on ``exchange``; a block
    raises the 451. The one place a request's guardrail verdict is taken and acted on:
    the chat path (``GuardedProvider``) and the other inference routes (``guard_inputs``)
    both come here."""
    size = sum(len(text) for *_, text in texts(messages))
    if size > INLINE_BYTES:
        result = await off_loop(shield, messages, policy)
    else:
        result = shield(messages, policy)
    if result.values:
        exchange.pii = (*exchange.pii, *result.values)
    for f in result.findings:
        exchange.guarded(guard=f.guard, mode=f.mode, counts=f.counts, action=f.action,
                         summary=f.summary())
    if result.blocked is not None:
        raise _refusal(*result.blocked, project=project)
    return result


def _refusal(code: str, counts: Mapping[str, int], *, project: str) -> GuardrailBlocked:
    # Entity types and counts only: the message and details never quote the prompt.
    if code == PII_BLOCKED:
        found = ", ".join(f"{n} {name}" for name, n in counts.items())
        message, details = _PII_MESSAGE, {"entities": dict(counts)}
    else:
        matches = sum(counts.values())
        found = f"{matches} blocked phrase{'s' if matches > 1 else ''} or pattern"
        message, details = _CONTENT_MESSAGE, {"matches": matches}
    return GuardrailBlocked(message.format(found=found, project=project), code=code,
                            details=details)


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
        result = await check(checked, self.policy, self.exchange, project=self.project)
        if result.messages is not checked:
            call = replace(call, request=dict(call.request, messages=[*head, *result.messages]))
        return call, result.originals

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
        restorer = ChunkRestorer(originals)
        last: dict | None = None
        async for chunk in self.inner.stream(replace(call, sink=None)):
            last = chunk
            yield restorer.chunk(chunk)
        held = restorer.rest()
        if held and last is not None:  # a stream cut before its finish
            yield {**last, "choices": held, "usage": None}

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


class ChunkRestorer:
    """A MASK stream's chunks with their placeholders restored: one ``StreamRestorer`` per
    choice's content and one per tool call's arguments (JSON-escaped values there), each
    holding back only what may still become a placeholder, flushed with the choice's
    finish (or by ``rest`` when the stream is cut). The Responses and Messages APIs
    translate these chat chunks afterwards, so their function-call argument deltas and
    ``input_json_delta``s are restored here too."""

    __slots__ = ("originals", "escaped", "content", "arguments")

    def __init__(self, originals: Mapping[str, str]) -> None:
        self.originals = originals
        self.escaped = {k: _json_escaped(v) for k, v in originals.items()}
        self.content: dict[int, StreamRestorer] = {}
        self.arguments: dict[tuple[int, int], StreamRestorer] = {}

    def chunk(self, chunk: dict) -> dict:
        """``chunk`` restored (a copy when anything in it may change)."""
        choices = chunk.get("choices")
        if not choices:
            return chunk
        return {**chunk, "choices": [self._choice(choice) for choice in choices]}

    def _choice(self, choice: dict) -> dict:
        delta = choice.get("delta") or {}
        content, calls = delta.get("content"), delta.get("tool_calls")
        finish = choice.get("finish_reason")
        if not isinstance(content, str) and not calls and not finish:
            return choice
        index = choice.get("index", 0)
        delta = dict(delta)
        if isinstance(content, str) or finish:
            restorer = self.content.get(index)
            if restorer is None:
                restorer = self.content[index] = StreamRestorer(self.originals)
            text = restorer.feed(content) if isinstance(content, str) else ""
            if finish:
                text += restorer.flush()
            if isinstance(content, str) or text:
                delta["content"] = text
        if isinstance(calls, list):
            delta["tool_calls"] = [self._call(index, call) for call in calls]
        if finish and (held := self._held_arguments(index)):
            delta["tool_calls"] = [*(delta.get("tool_calls") or ()), *held]
        return {**choice, "delta": delta}

    def _call(self, index: int, call: Any) -> Any:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
            return call
        key = (index, call.get("index", 0))
        restorer = self.arguments.get(key)
        if restorer is None:
            restorer = self.arguments[key] = StreamRestorer(self.escaped)
        return {**call, "function": {**function,
                                     "arguments": restorer.feed(function["arguments"])}}

    def _held_arguments(self, index: int) -> list[dict]:
        """Tool-call argument deltas for what choice ``index``'s restorers still hold."""
        return [{"index": call, "function": {"arguments": text}}
                for (choice, call), restorer in self.arguments.items()
                if choice == index and (text := restorer.flush())]

    def rest(self) -> list[dict]:
        """Choices carrying whatever is still held, for a stream cut before its finish."""
        out = []
        for index in sorted({*self.content, *(c for c, _ in self.arguments)}):
            delta: dict = {}
            restorer = self.content.get(index)
            if restorer is not None and (text := restorer.flush()):
                delta["content"] = text
            if held := self._held_arguments(index):
                delta["tool_calls"] = held
            if delta:
                out.append({"index": index, "delta": delta, "finish_reason": None})
        return out


def _json_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]

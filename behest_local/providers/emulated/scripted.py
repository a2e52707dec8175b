"""Scripted replies: answers of the emulated model pinned in ``behest.toml``.

A project's ``[[projects.scripted]]`` rules match a regex against the last user message;
the first match decides the turn: a fixed text reply, a tool call, and/or emulated
failures and pacing in the ``x-behest-emulate`` grammar (the request's own header wins).
``prepare_chat`` wraps the emulated provider in a ``ScriptedProvider`` when a rule
matches, so users can pin fixtures for their own tests. Replies are returned verbatim
(``max_tokens`` and ``stop`` do not cut them); usage is counted as the emulated model does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from behest_local.config import ScriptedReply
from behest_local.providers.base import ChatCall, ChatProvider
from behest_local.dialects import emulate as directives
from behest_local.providers.emulated.bounds import bounded_request
from behest_local.providers.emulated.provider import _Pacer, emulated_error
from behest_local.providers.tokens import count_prompt_tokens, count_tokens, split_tokens


def last_user_text(messages: list[dict]) -> str:
    """The text of the last user message (text parts joined), or ""."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content
                                 if isinstance(p, dict) and p.get("type") == "text")
            return content if isinstance(content, str) else ""
    return ""


def find_rule(rules: tuple[ScriptedReply, ...], messages: list[dict]) -> ScriptedReply | None:
    """The first rule whose ``match`` is found in the last user message."""
    if not rules:
        return None
    text = last_user_text(messages)
    return next((rule for rule in rules if re.search(rule.match, text)), None)


class ScriptedProvider:
    """The emulated provider, with one turn's reply pinned by ``rule``."""

    name = "emulated"

    def __init__(self, inner: ChatProvider, rule: ScriptedReply) -> None:
        self.inner = inner
        self.rule = rule

    def _call(self, call: ChatCall) -> ChatCall:
        return replace(call, emulate={**directives.parse(self.rule.emulate), **call.emulate})

    async def complete(self, call: ChatCall) -> dict:
        call = self._call(call)
        if self.rule.reply is None and self.rule.tool_call is None:
            return await self.inner.complete(call)
        if "status" in call.emulate:
            raise emulated_error(call.emulate["status"], call.emulate)
        delay = call.emulate.get("first_token_ms", self.inner.config.first_token_ms)
        if delay:
            await asyncio.sleep(delay / 1000)
        message, finish, tokens = self._message(call)
        n = call.request.get("n") or 1
        return {**self._base(call, "chat.completion"),
                "choices": [{"index": i, "message": message, "logprobs": None,
                             "finish_reason": finish} for i in range(n)],
                "usage": _usage(self._prompt_tokens(call), tokens * n)}

    async def stream(self, call: ChatCall) -> AsyncIterator[dict]:
        call = self._call(call)
        if self.rule.reply is None and self.rule.tool_call is None:
            async for chunk in self.inner.stream(call):
                yield chunk
            return
        if "status" in call.emulate:
            raise emulated_error(call.emulate["status"], call.emulate)
        base = self._base(call, "chat.completion.chunk")
        message, finish, tokens = self._message(call)
        n = call.request.get("n") or 1
        frames = [{**base, "choices": [delta]} for i in range(n)
                  for delta in _deltas(i, message, finish)]
        if (call.request.get("stream_options") or {}).get("include_usage"):
            frames.append({**base, "choices": [],
                           "usage": _usage(self._prompt_tokens(call), tokens * n)})
        pacer = _Pacer(call.emulate, self.inner.config, len(frames))
        for index, frame in enumerate(frames):
            await pacer.before(index)
            yield frame

    async def embed(self, body: dict, model: str) -> dict:
        return await self.inner.embed(body, model)

    def models(self) -> list[dict]:
        return self.inner.models()

    # -- shared --------------------------------------------------------------------------

    def _message(self, call: ChatCall) -> tuple[dict, str, int]:
        tool = self.rule.tool_call
        if tool is None:
            text = self.rule.reply or ""
            return ({"role": "assistant", "content": text, "refusal": None, "annotations": []},
                    "stop", count_tokens(text))
        arguments = json.dumps(dict(tool.arguments), separators=(",", ":"), ensure_ascii=False)
        # The id is derived from the conversation, read within the emulated model's bounds.
        messages, cut = bounded_request({"messages": call.request.get("messages")})
        seed = json.dumps(messages["messages"], sort_keys=True, default=str) + tool.name
        call_id = "call_" + hashlib.sha256(seed.encode() + cut).hexdigest()[:24]
        message = {"role": "assistant", "content": None, "refusal": None, "annotations": [],
                   "tool_calls": [{"id": call_id, "type": "function",
                                   "function": {"name": tool.name, "arguments": arguments}}]}
        return message, "tool_calls", count_tokens(tool.name) + count_tokens(arguments)

    def _prompt_tokens(self, call: ChatCall) -> int:
        return count_prompt_tokens(call.request["messages"], call.request.get("tools"))

    @staticmethod
    def _base(call: ChatCall, kind: str) -> dict:
        return {"id": "chatcmpl-" + secrets.token_hex(14), "object": kind,
                "created": int(time.time()), "model": call.model,
                "system_fingerprint": "fp_behest_local", "service_tier": "default"}


def _deltas(index: int, message: dict, finish: str) -> list[dict]:
    def chunk(delta: dict, reason: str | None = None) -> dict:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}

    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if message["content"]:
        out += [chunk({"content": piece}) for piece in split_tokens(message["content"])]
    for n, call in enumerate(message.get("tool_calls", [])):
        out.append(chunk({"tool_calls": [{"index": n, "id": call["id"], "type": "function",
                                          "function": {"name": call["function"]["name"],
                                                       "arguments": ""}}]}))
        out += [chunk({"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
                for piece in split_tokens(call["function"]["arguments"])]
    return out + [chunk({}, finish)]


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}

"""Parity harness: one conversation, asked two ways, reduced to what a caller keeps.

``View`` is what an application takes from a chat reply whatever the SDK: the text, the
tool calls (name and parsed arguments; ids are the provider's own random ones), the
finish reason and the usage totals. ``GatewayClient`` asks behest-local with the openai
SDK; each ``Native*`` class asks the same fake upstream with that provider's own SDK and
maps the native answer onto a ``View`` with the documented tables (providers.md §11.1,
§11.2): the parity tests then say the two views are equal.

Every driver offers the same three calls: ``ask`` (one user turn, optionally with the
weather tool, optionally streamed), and ``answer_tools`` (ask with the tool, send one
result per call back, return the view of the reply to the results).
"""

from __future__ import annotations

import json
import ssl
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import anthropic
import cohere
import httpx
import openai
from google import genai
from google.genai import types as gtypes
from mistralai.client import Mistral

SYSTEM = "You are terse."
RESULTS = ("18C", "19C")
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
                  "required": ["city"]}
OPENAI_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_SCHEMA}}
MAX_TOKENS = 200


@dataclass(frozen=True)
class View:
    text: str
    tools: list[tuple[str, dict]] = field(default_factory=list)
    finish: str | None = None
    usage: tuple[int, int, int] | None = None
    """(prompt, completion, total) in OpenAI's terms."""


class GatewayClient:
    """The openai SDK talking to behest-local."""

    def __init__(self, sdk: openai.AsyncOpenAI, model: str) -> None:
        self.sdk, self.model = sdk, model

    def _messages(self, prompt: str) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]

    async def ask(self, prompt: str, *, tools: bool = False, stream: bool = False) -> View:
        return await self._create(self._messages(prompt), tools=tools, stream=stream)

    async def answer_tools(self, prompt: str) -> View:
        first = await self.sdk.chat.completions.create(
            model=self.model, messages=self._messages(prompt), tools=[OPENAI_TOOL],
            max_tokens=MAX_TOKENS)
        message = first.choices[0].message
        history = self._messages(prompt) + [message.model_dump(exclude_none=True)] + [
            {"role": "tool", "tool_call_id": call.id, "content": result}
            for call, result in zip(message.tool_calls, RESULTS)]
        return await self._create(history, tools=True, stream=False)

    async def _create(self, messages: list[dict], *, tools: bool, stream: bool) -> View:
        extra = {"tools": [OPENAI_TOOL]} if tools else {}
        if not stream:
            reply = await self.sdk.chat.completions.create(
                model=self.model, messages=messages, max_tokens=MAX_TOKENS, **extra)
            return openai_view(reply)
        text, calls, finish, usage = "", {}, None, None
        async for chunk in await self.sdk.chat.completions.create(
                model=self.model, messages=messages, max_tokens=MAX_TOKENS, stream=True,
                stream_options={"include_usage": True}, **extra):
            usage = chunk.usage or usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
                for call in choice.delta.tool_calls or []:
                    slot = calls.setdefault(call.index, {"name": "", "arguments": ""})
                    slot["name"] += (call.function.name or "") if call.function else ""
                    slot["arguments"] += (call.function.arguments or "") if call.function else ""
        return View(text, [(c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())],
                    finish, (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens))


def openai_view(reply) -> View:
    choice = reply.choices[0]
    calls = [(c.function.name, json.loads(c.function.arguments))
             for c in choice.message.tool_calls or []]
    u = reply.usage
    return View(choice.message.content or "", calls, choice.finish_reason,
                (u.prompt_tokens, u.completion_tokens, u.total_tokens))


class NativeOpenAI(GatewayClient):
    """OpenAI, OpenRouter and custom servers: their own SDK *is* the openai SDK, pointed
    at the upstream directly instead of at the gateway."""


class NativeAnthropic:
    STOP = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
            "max_tokens": "length", "refusal": "content_filter"}
    TOOL = {"name": "get_weather", "description": "Weather for a city",
            "input_schema": WEATHER_SCHEMA}

    def __init__(self, sdk: anthropic.AsyncAnthropic, model: str) -> None:
        self.sdk, self.model = sdk, model

    async def ask(self, prompt: str, *, tools: bool = False, stream: bool = False) -> View:
        return await self._create([{"role": "user", "content": prompt}], tools, stream)

    async def answer_tools(self, prompt: str) -> View:
        messages = [{"role": "user", "content": prompt}]
        first = await self.sdk.messages.create(model=self.model, max_tokens=MAX_TOKENS,
                                               system=SYSTEM, messages=messages, tools=[self.TOOL])
        uses = [b for b in first.content if b.type == "tool_use"]
        messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                      for b in first.content]},
                     {"role": "user", "content": [
                         {"type": "tool_result", "tool_use_id": b.id, "content": result}
                         for b, result in zip(uses, RESULTS)]}]
        return await self._create(messages, True, False)

    async def _create(self, messages: list[dict], tools: bool, stream: bool) -> View:
        extra = {"tools": [self.TOOL]} if tools else {}
        if stream:
            async with self.sdk.messages.stream(model=self.model, max_tokens=MAX_TOKENS,
                                                system=SYSTEM, messages=messages, **extra) as s:
                message = await s.get_final_message()
        else:
            message = await self.sdk.messages.create(model=self.model, max_tokens=MAX_TOKENS,
                                                     system=SYSTEM, messages=messages, **extra)
        u = message.usage
        # OpenAI's prompt_tokens include what Anthropic counts apart: cache reads and writes.
        prompt = u.input_tokens + (u.cache_read_input_tokens or 0) + (
            u.cache_creation_input_tokens or 0)
        return View("".join(b.text for b in message.content if b.type == "text"),
                    [(b.name, b.input) for b in message.content if b.type == "tool_use"],
                    self.STOP[message.stop_reason], (prompt, u.output_tokens,
                                                     prompt + u.output_tokens))


class NativeGemini:
    TOOL = gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(
        name="get_weather", description="Weather for a city", parameters=WEATHER_SCHEMA)])

    def __init__(self, sdk: genai.Client, model: str) -> None:
        self.sdk, self.model = sdk, model

    def _config(self, tools: bool) -> gtypes.GenerateContentConfig:
        return gtypes.GenerateContentConfig(system_instruction=SYSTEM, max_output_tokens=MAX_TOKENS,
                                            tools=[self.TOOL] if tools else None)

    async def ask(self, prompt: str, *, tools: bool = False, stream: bool = False) -> View:
        return await self._create(prompt, tools, stream)

    async def answer_tools(self, prompt: str) -> View:
        first = await self.sdk.aio.models.generate_content(model=self.model, contents=prompt,
                                                           config=self._config(True))
        calls = first.function_calls
        contents = [gtypes.Content(role="user", parts=[gtypes.Part(text=prompt)]),
                    first.candidates[0].content,
                    # a functionResponse's response must be an object (providers.md pitfall 18)
                    gtypes.Content(role="user", parts=[gtypes.Part.from_function_response(
                        name=c.name, response={"result": r}) for c, r in zip(calls, RESULTS)])]
        return await self._create(contents, True, False)

    async def _create(self, contents, tools: bool, stream: bool) -> View:
        if stream:
            chunks = [c async for c in await self.sdk.aio.models.generate_content_stream(
                model=self.model, contents=contents, config=self._config(tools))]
        else:
            chunks = [await self.sdk.aio.models.generate_content(
                model=self.model, contents=contents, config=self._config(tools))]
        text = "".join(c.text or "" for c in chunks)
        calls = [(f.name, f.args) for c in chunks for f in c.function_calls or []]
        reason = chunks[-1].candidates[0].finish_reason
        # Gemini says STOP for tool calls too (pitfall 3); MAX_TOKENS is OpenAI's length.
        finish = {gtypes.FinishReason.MAX_TOKENS: "length"}.get(
            reason, "tool_calls" if calls else "stop")
        meta = chunks[-1].usage_metadata
        # OpenAI's completion_tokens include the thinking tokens Gemini counts apart.
        completion = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
        return View(text, calls, finish, (meta.prompt_token_count, completion,
                                          meta.total_token_count))


class NativeCohere:
    FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "TOOL_CALL": "tool_calls",
              "MAX_TOKENS": "length"}

    def __init__(self, sdk: cohere.AsyncClientV2, model: str) -> None:
        self.sdk, self.model = sdk, model

    def _messages(self, prompt: str) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]

    async def ask(self, prompt: str, *, tools: bool = False, stream: bool = False) -> View:
        return await self._create(self._messages(prompt), tools, stream)

    async def answer_tools(self, prompt: str) -> View:
        first = await self.sdk.chat(model=self.model, messages=self._messages(prompt),
                                    tools=[OPENAI_TOOL], max_tokens=MAX_TOKENS)
        calls = first.message.tool_calls
        history = self._messages(prompt) + [
            {"role": "assistant", "tool_plan": first.message.tool_plan,
             "tool_calls": [c.model_dump(exclude_none=True) for c in calls]}] + [
            {"role": "tool", "tool_call_id": c.id, "content": result}
            for c, result in zip(calls, RESULTS)]
        return await self._create(history, True, False)

    async def _create(self, messages: list[dict], tools: bool, stream: bool) -> View:
        extra = {"tools": [OPENAI_TOOL]} if tools else {}
        if not stream:
            reply = await self.sdk.chat(model=self.model, messages=messages,
                                        max_tokens=MAX_TOKENS, **extra)
            text = "".join(c.text for c in reply.message.content or [] if c.type == "text")
            calls = [(c.function.name, json.loads(c.function.arguments))
                     for c in reply.message.tool_calls or []]
            return self._view(text, calls, reply.finish_reason, reply.usage)
        text, calls, end = "", {}, None
        async for event in self.sdk.chat_stream(model=self.model, messages=messages,
                                                max_tokens=MAX_TOKENS, **extra):
            if event.type == "content-delta":
                text += event.delta.message.content.text
            elif event.type in ("tool-call-start", "tool-call-delta"):
                part = event.delta.message.tool_calls
                slot = calls.setdefault(event.index, {"name": "", "arguments": ""})
                fn = part.function
                slot["name"] += getattr(fn, "name", None) or ""  # only on tool-call-start
                slot["arguments"] += getattr(fn, "arguments", None) or ""
            elif event.type == "message-end":
                end = event.delta
        return self._view(text, [(c["name"], json.loads(c["arguments"]))
                                 for _, c in sorted(calls.items())], end.finish_reason, end.usage)

    def _view(self, text: str, calls: list, reason: str, usage) -> View:
        # Cohere reports two buckets; ``tokens`` (what the model saw) is OpenAI's usage.
        p, c = int(usage.tokens.input_tokens), int(usage.tokens.output_tokens)
        return View(text, calls, self.FINISH[reason], (p, c, p + c))


class NativeMistral:
    def __init__(self, sdk: Mistral, model: str) -> None:
        self.sdk, self.model = sdk, model

    def _messages(self, prompt: str) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]

    async def ask(self, prompt: str, *, tools: bool = False, stream: bool = False) -> View:
        return await self._create(self._messages(prompt), tools, stream)

    async def answer_tools(self, prompt: str) -> View:
        first = await self.sdk.chat.complete_async(
            model=self.model, messages=self._messages(prompt), tools=[OPENAI_TOOL],
            max_tokens=MAX_TOKENS)
        message = first.choices[0].message
        history = self._messages(prompt) + [
            {"role": "assistant", "content": message.content or "",
             "tool_calls": [c.model_dump(exclude_none=True) for c in message.tool_calls]}] + [
            {"role": "tool", "tool_call_id": c.id, "name": c.function.name, "content": result}
            for c, result in zip(message.tool_calls, RESULTS)]
        return await self._create(history, True, False)

    async def _create(self, messages: list[dict], tools: bool, stream: bool) -> View:
        extra = {"tools": [OPENAI_TOOL]} if tools else {}
        if not stream:
            reply = await self.sdk.chat.complete_async(model=self.model, messages=messages,
                                                       max_tokens=MAX_TOKENS, **extra)
            choice, u = reply.choices[0], reply.usage
            calls = [(c.function.name, _arguments(c.function.arguments))
                     for c in choice.message.tool_calls or []]
            return View(choice.message.content or "", calls, choice.finish_reason,
                        (u.prompt_tokens, u.completion_tokens, u.total_tokens))
        text, calls, finish, u = "", [], None, None
        async for event in await self.sdk.chat.stream_async(
                model=self.model, messages=messages, max_tokens=MAX_TOKENS, **extra):
            u = event.data.usage or u
            for choice in event.data.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
                # Mistral sends each call whole, in one delta (pitfall 8).
                calls += [(c.function.name, _arguments(c.function.arguments))
                          for c in choice.delta.tool_calls or []]
        return View(text, calls, finish, (u.prompt_tokens, u.completion_tokens, u.total_tokens))


def _arguments(value: object) -> dict:
    return value if isinstance(value, dict) else json.loads(value)


# One TLS context for every SDK client the tests make: building one loads the CA bundle,
# which costs ~0.1 s per client (the fakes speak plain HTTP; nothing is verified anyway).
TLS = ssl.create_default_context()


def openai_sdk(api_key: str, base_url: str, stack: AsyncExitStack) -> openai.AsyncOpenAI:
    sdk = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0,
                             http_client=openai.DefaultAsyncHttpxClient(verify=TLS))
    stack.push_async_callback(sdk.close)
    return sdk


def native_client(provider: str, base_url: str, origin: str, key: str, model: str,
                  stack: AsyncExitStack) -> object:
    """The provider's own SDK on the fake, closed with ``stack``."""
    if provider in ("openai", "openrouter", "ollama"):
        return NativeOpenAI(openai_sdk(key, base_url, stack), model)
    if provider == "anthropic":
        sdk = anthropic.AsyncAnthropic(api_key=key, base_url=base_url, max_retries=0,
                                       http_client=anthropic.DefaultAsyncHttpxClient(verify=TLS))
        stack.push_async_callback(sdk.close)
        return NativeAnthropic(sdk, model)
    if provider == "google":
        sdk = genai.Client(api_key=key, http_options=gtypes.HttpOptions(
            base_url=base_url, retry_options=gtypes.HttpRetryOptions(attempts=1),
            client_args={"verify": TLS}, async_client_args={"ssl": TLS}))
        stack.push_async_callback(sdk.aio.aclose)
        return NativeGemini(sdk, model)
    http = httpx.AsyncClient(verify=TLS)
    stack.push_async_callback(http.aclose)
    if provider == "cohere":
        return NativeCohere(cohere.AsyncClientV2(api_key=key, base_url=base_url,
                                                 httpx_client=http), model)
    if provider == "mistral":
        sync = httpx.Client(verify=TLS)  # built either way by the SDK; never used here
        stack.callback(sync.close)
        return NativeMistral(Mistral(api_key=key, server_url=origin, async_client=http,
                                     client=sync), model)
    raise ValueError(provider)

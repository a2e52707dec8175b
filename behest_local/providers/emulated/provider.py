"""The emulated provider: an offline model that answers like a real one.

It serves every model until real providers are configured. What it says comes from
``composer.compose`` (deterministic for a request and seed); this module turns that reply
into OpenAI ``chat.completion`` objects or chunk streams, applies ``max_tokens`` and
``stop``, counts usage, paces streams, and plays the failure catalogue selected with the
``x-behest-emulate`` header (``dialects/emulate.py``). A streamed reply carries exactly the
text of the non-streamed one because both are built from the same ``Reply``.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from pathlib import Path
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from behest_local.config import EmulatorConfig
from behest_local.errors import InvalidRequestError, StreamDropped, UpstreamError
from behest_local.offload import off_loop
from behest_local.observe.fixtures import FixtureError, fixture_path, load_fixture, replay_chunks
from behest_local.providers.base import ChatCall
from behest_local.providers.emulated import embeddings
from behest_local.providers.emulated.logprobs import logprobs_object, token_logprobs
from behest_local.dialects.emulate import HEADER as directives_header
from behest_local.providers.tokens import count_prompt_tokens, count_tokens, split_tokens

if TYPE_CHECKING:
    from behest_local.providers.emulated.composer import Reply

# Model ids listed by GET /v1/models (any other id is served too).
CHAT_MODELS = (
    "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gpt-4o", "gpt-4o-mini",
    "gpt-4.1", "gpt-4.1-mini", "o3-mini", "claude-sonnet-4-20250514",
    "claude-3-5-haiku-latest", "mistral-large-latest", "command-r-plus",
)
MODEL_CREATED = 1_735_689_600  # 2025-01-01: a stable "created" for listed models

# The error each emulated status produces, in the shape OpenAI uses for it.
FAILURES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Emulated bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided (emulated)."),
    403: ("permission_denied", None, "You are not allowed to use this model (emulated)."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist (emulated)."),
    408: ("timeout", None, "Request timed out (emulated)."),
    409: ("invalid_request_error", "conflict", "Conflicting request (emulated)."),
    422: ("invalid_request_error", None, "Unprocessable request (emulated)."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for requests (emulated). Please try again later."),
    500: ("server_error", None,
          "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", "bad_gateway", "Bad gateway (emulated)."),
    503: ("server_error", "service_unavailable",
          "The engine is currently overloaded, please try again later."),
    504: ("server_error", "timeout", "Gateway timeout (emulated)."),
    529: ("overloaded_error", "overloaded", "Overloaded (emulated)."),
}


def emulated_error(status: int, directives: dict) -> UpstreamError:
    kind, code, message = FAILURES.get(status, ("server_error" if status >= 500 else
                                                "invalid_request_error", None,
                                                f"Emulated HTTP {status}."))
    headers = {}
    if status in (429, 503, 529) or "retry_after" in directives:
        seconds = directives.get("retry_after", 1)
        # Retry-After is integer seconds (RFC 9110 §10.2.3); OpenAI's SDKs also read the
        # millisecond form, which keeps sub-second precision.
        headers["Retry-After"] = str(max(0, round(seconds)))
        headers["retry-after-ms"] = str(int(seconds * 1000))
    return UpstreamError(directives.get("message") or message, status=status, type=kind,
                         code=code, headers=headers)


@dataclass(slots=True)
class _Choice:
    index: int
    reply: Reply
    content: str | None
    finish_reason: str
    completion_tokens: int
    logprobs: list[dict] | None = None
    """``logprobs.content`` entries, one per content token, when the request asked for them."""


class EmulatedProvider:
    """The offline model. Pacing defaults come from ``EmulatorConfig``; directives override."""

    name = "emulated"

    def __init__(self, config: EmulatorConfig | None = None, *,
                 fixtures_dir: Path | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.fixtures_dir = fixtures_dir
        """Where ``replay=NAME`` finds saved fixtures (``<state dir>/fixtures``)."""

    # -- non-streaming ----------------------------------------------------------------

    async def complete(self, call: ChatCall) -> dict:
        directives = call.emulate
        if "status" in directives:
            raise emulated_error(directives["status"], directives)
        if "replay" in directives:
            raise InvalidRequestError("x-behest-emulate: replay= plays a recorded stream; send "
                                      "the request with \"stream\": true.", param="stream")
        delay = directives.get("first_token_ms", self.config.first_token_ms)
        if delay:
            await asyncio.sleep(delay / 1000)
        choices = await self._choices(call.request)
        prompt_tokens = count_prompt_tokens(call.request["messages"], call.request.get("tools"))
        completion_tokens = sum(c.completion_tokens for c in choices)
        return {
            "id": _completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [_message_choice(c) for c in choices],
            "usage": _usage(prompt_tokens, completion_tokens),
            "system_fingerprint": "fp_behest_local",
            "service_tier": "default",
        }

    # -- streaming --------------------------------------------------------------------

    async def stream(self, call: ChatCall) -> AsyncIterator[dict]:
        directives = call.emulate
        if "status" in directives:
            raise emulated_error(directives["status"], directives)
        if "replay" in directives:
            async for chunk in self._replay(call, directives):
                yield chunk
            return
        request = call.request
        choices = await self._choices(request)
        base = {"id": _completion_id(), "object": "chat.completion.chunk",
                "created": int(time.time()), "model": call.model,
                "system_fingerprint": "fp_behest_local", "service_tier": "default"}
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        deltas = [d for c in choices for d in _deltas(c)]
        frames = [{**base, "choices": [d], "usage": None} if include_usage
                  else {**base, "choices": [d]} for d in deltas]
        if include_usage:
            prompt_tokens = count_prompt_tokens(request["messages"], request.get("tools"))
            completion_tokens = sum(c.completion_tokens for c in choices)
            frames.append({**base, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)})
        pacer = _Pacer(directives, self.config, len(frames))
        for index, frame in enumerate(frames):
            await pacer.before(index)
            yield frame

    async def _replay(self, call: ChatCall, directives: dict) -> AsyncIterator[dict]:
        """A saved stream (``observe/fixtures.py``) at its recorded pace: a real upstream's timing
        turned into a deterministic test."""
        if self.fixtures_dir is None:
            raise InvalidRequestError("x-behest-emulate: replay= needs a state directory",
                                      param=directives_header)
        try:
            path = fixture_path(self.fixtures_dir, directives["replay"])
            # A small file, read off the event loop all the same.
            fixture = await asyncio.to_thread(load_fixture, path)
            chunks = replay_chunks(fixture, speed=directives.get("replay_speed", 1.0),
                                   model=call.model)
            async for chunk in chunks:
                yield chunk
        except FixtureError as exc:
            raise InvalidRequestError(f"x-behest-emulate: {exc}", param=directives_header,
                                      code="fixture_not_usable") from None

    # -- other endpoints --------------------------------------------------------------

    async def embed(self, body: dict, model: str) -> dict:
        if embeddings.is_light(body):
            return embeddings.create_embeddings(body, model=model)
        # Seconds of pure Python for 2,048 inputs: beside the loop (see ``embeddings``).
        return await off_loop(embeddings.create_encoded, body, model)

    def models(self) -> list[dict]:
        ids = list(CHAT_MODELS) + list(embeddings.EMBEDDING_MODELS)
        return [{"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "behest-local"}
                for m in ids]

    # -- shared -----------------------------------------------------------------------

    async def _choices(self, request: dict) -> list[_Choice]:
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        stops = request.get("stop")
        if isinstance(stops, str):
            stops = [stops]
        # Imported here, not at the top: the composer's modules cost the gateway's start
        # tens of milliseconds; runtime imports them in a worker thread once the port is bound.
        from behest_local.providers.emulated.composer import compose, read_request

        reading = read_request(request)  # the prompt is read once, for every choice
        out = []
        for index in range(request.get("n") or 1):
            if index:
                # Up to 128 choices, each composed on the loop: other clients go in between.
                await asyncio.sleep(0)
            reply = compose(request, choice_index=index, reading=reading)
            choice = _limit(index, reply, limit, stops or [])
            if request.get("logprobs"):
                choice.logprobs = token_logprobs(split_tokens(choice.content or ""), request.get("top_logprobs"))
            out.append(choice)
        return out


def _limit(index: int, reply: Reply, limit: int | None, stops: list[str]) -> _Choice:
    """Apply ``stop`` sequences and the token limit to a composed reply."""
    if reply.content is None:
        tokens = sum(count_tokens(t.name) + count_tokens(t.arguments) for t in reply.tool_calls)
        return _Choice(index, reply, None, "tool_calls", tokens)
    content = reply.content
    finish = "stop"
    for stop in stops:
        cut = content.find(stop) if stop else -1
        if cut != -1:
            content = content[:cut]
    # Counted without cutting: the pieces themselves are needed only to cut at the limit.
    count = count_tokens(content)
    if limit is not None and count > limit:
        content = "".join(split_tokens(content)[:limit])
        count = limit
        finish = "length"
    if reply.tool_calls and finish == "stop":
        finish = "tool_calls"
    tokens = count + sum(count_tokens(t.arguments) for t in reply.tool_calls)
    return _Choice(index, reply, content, finish, tokens)


def _message_choice(choice: _Choice) -> dict:
    message: dict = {"role": "assistant", "content": choice.content, "refusal": None,
                     "annotations": []}
    if choice.reply.tool_calls:
        message["tool_calls"] = [
            {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
            for t in choice.reply.tool_calls]
    return {"index": choice.index, "message": message, "logprobs": logprobs_object(choice.logprobs),
            "finish_reason": choice.finish_reason}


def _deltas(choice: _Choice) -> list[dict]:
    """The stream of one choice: role, content tokens, tool-call fragments, finish."""
    i = choice.index
    out = [{"index": i, "delta": {"role": "assistant", "content": "", "refusal": None},
            "logprobs": None, "finish_reason": None}]
    if choice.content and choice.logprobs is not None:  # each chunk carries its token's entry
        out += [{"index": i, "delta": {"content": piece}, "logprobs": logprobs_object([entry]),
                 "finish_reason": None}
                for piece, entry in zip(split_tokens(choice.content), choice.logprobs)]
    elif choice.content:
        out += [{"index": i, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}
                for piece in split_tokens(choice.content)]
    for n, call in enumerate(choice.reply.tool_calls):
        out.append({"index": i, "delta": {"tool_calls": [{
            "index": n, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": ""}}]},
            "logprobs": None, "finish_reason": None})
        # Argument fragments are raw string pieces, not JSON on their own, as OpenAI sends.
        out += [{"index": i, "delta": {"tool_calls": [{"index": n, "function": {"arguments": p}}]},
                 "logprobs": None, "finish_reason": None}
                for p in split_tokens(call.arguments)]
    out.append({"index": i, "delta": {}, "logprobs": None, "finish_reason": choice.finish_reason})
    return out


class _Pacer:
    """Sleeps between stream events per the pacing knobs; raises the scripted failures."""

    __slots__ = ("first", "gap", "stall", "stall_at", "drop_at", "error_at", "message", "_next")

    def __init__(self, directives: dict, config: EmulatorConfig, total: int) -> None:
        self.first = directives.get("first_token_ms", config.first_token_ms) / 1000
        tps = directives.get("tokens_per_second", config.tokens_per_second)
        self.gap = 1 / tps if tps else 0.0
        self.stall = directives.get("stall_ms", 0) / 1000
        self.stall_at = directives.get("stall_after", total // 2)
        self.drop_at = directives.get("drop_after")
        self.error_at = directives.get("error_after")
        self.message = directives.get("message")
        self._next = 0.0

    async def before(self, index: int) -> None:
        if self.drop_at is not None and index >= self.drop_at:
            raise StreamDropped(f"x-behest-emulate drop_after={self.drop_at}")
        if self.error_at is not None and index >= self.error_at:
            raise UpstreamError(self.message or "The server had an error while processing your "
                                "request. Sorry about that!", status=500, type="server_error")
        loop = asyncio.get_running_loop()
        if index == 0:
            self._next = loop.time() + self.first
        elif index > 1:  # the role chunk and the first token leave together, then pace
            self._next += self.gap
        if self.stall and index == self.stall_at:
            self._next += self.stall
        # Sleep to an absolute schedule so slow iterations do not accumulate drift.
        delay = self._next - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


_ID_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ab"
"""base64's url-safe alphabet with ``-`` and ``_`` as ``a`` and ``b``: ids of letters and
digits only, as OpenAI's are."""
_ID_TABLE = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                            _ID_ALPHABET)


def _completion_id() -> str:
    """``chatcmpl-`` and 28 letters and digits. An id names a completion, it authenticates
    nothing: the random module's generator (as ``exchange.new_ids``) instead of
    ``secrets``, whose getrandom syscall per request releases the GIL and may wait to
    retake it (5 % of the emulated model's samples under g's load)."""
    raw = random.getrandbits(168).to_bytes(21, "big")
    return "chatcmpl-" + base64.urlsafe_b64encode(raw).translate(_ID_TABLE).decode("ascii")

"""From finished exchanges to usage records and budget counts; counting unreported streams.

``UsageRecorder`` is a ``TraceStore`` subscriber (trace.py). When an inference exchange
ends (``ExchangeFinished``, or ``ExchangeFailed`` after tokens were produced: a stream cut
mid-way is billed for what was sent, as the cloud "stops billing the moment Kong sees the
disconnect", reference §5.2) it prices the tokens with the live settings' price table,
queues a ``UsageRecord`` for the SQLite store and adds the tokens and dollars to the
limiter's counters (``tiers.usage_counters``). All of it is in-loop dict work and an O(1)
queue put: subscribers run on the request's task and must stay cheap.

Usage comes from the provider: the gateway always asks for it on streams
(``openai_routes.prepare_chat``). When an upstream sends none, or the client leaves
before the final usage chunk, ``StreamMeter`` counts the stream itself with the emulated
model's tokenizer (``providers/emulated/tokens.py``) for the reply and a character
estimate for the prompt, after each event has been sent so the count never delays a token. ``seed_counters`` replays the store into the counters at
startup so a spent daily quota stays spent across a restart.
"""

from __future__ import annotations

from collections.abc import Callable

from behest_local.config import Settings
from behest_local.events import ExchangeFailed, ExchangeFinished, TraceEvent
from behest_local.exchange import Exchange
from behest_local.finops.prices import PriceTable
from behest_local.finops.reports import budget_rows
from behest_local.finops.store import UsageRecord, UsageStore
from behest_local.finops.window import month_start
from behest_local.providers.emulated.tokens import count_tokens
from behest_local.ratelimit import Counters, Window
from behest_local.routing import EMULATED
from behest_local.tiers import usage_counters

INFERENCE_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/responses",
                             "/v1/embeddings"})
"""The billed routes: what per-project and per-user limits count, and what usage reports."""


class UsageRecorder:
    """Turns ended exchanges into usage records and counter increments.

    Args:
        store: where records go.
        counters: the limiter's counters (tokens and dollars are added after the fact);
            their clock also stamps the records, so one injected clock drives both.
        settings: returns the live settings (projects, budgets, ``[prices]``).
    """

    def __init__(self, store: UsageStore, counters: Counters,
                 settings: Callable[[], Settings]) -> None:
        self.store, self.counters, self.settings = store, counters, settings
        self._prices: tuple[object, PriceTable] | None = None

    def prices(self, settings: Settings) -> PriceTable:
        """The price table of ``settings`` (rebuilt only when ``[prices]`` changes)."""
        if self._prices is None or self._prices[0] is not settings.prices:
            self._prices = (settings.prices, PriceTable(settings.prices))
        return self._prices[1]

    def __call__(self, event: TraceEvent, exchange: Exchange) -> None:
        if not isinstance(event, (ExchangeFinished, ExchangeFailed)):
            return
        if exchange.path not in INFERENCE_PATHS or exchange.model is None \
                or exchange.project is None:
            return
        prompt, completion = exchange.prompt_tokens or 0, exchange.completion_tokens or 0
        if isinstance(event, ExchangeFailed) and not prompt + completion:
            return  # refused or failed before any token: nothing to bill
        settings = self.settings()
        cost = self.prices(settings).cost(exchange.model, prompt, completion)
        now = self.counters.clock()
        self.store.add(UsageRecord(
            exchange.id, now, exchange.tenant or settings.tenant_id, exchange.project,
            exchange.user, exchange.session, exchange.model, exchange.requested_model,
            exchange.provider or EMULATED, (exchange.provider or EMULATED) != EMULATED,
            exchange.stream, event.status, prompt, completion, cost, exchange.path))
        project = settings.project(exchange.project)
        if project is None:
            return
        for key, window in usage_counters(project, user=exchange.user,
                                          session=exchange.session):
            self.counters.add(("tokens", *key), window, prompt + completion, at=now)
            if cost:
                self.counters.add(("cost_usd", *key), window, cost, at=now)


def seed_rows(conn, now: float) -> list[tuple]:
    """This month's usage in aggregate (on the store's thread): ``seed_counters``' input."""
    return budget_rows(conn, month_since=month_start(now), session_since=now - 7 * 86_400)


def seed_counters(counters: Counters, rows: list[tuple]) -> None:
    """Replay ``seed_rows`` into ``counters`` (on the loop, before the gateway serves), so a
    daily quota spent before a restart stays spent."""
    for project, user, session, day, requests, tokens, cost in rows:
        at = float(day)
        keys = [(("project", project), Window.DAY), (("project", project), Window.MONTH)]
        if user is not None:
            keys += [(("user", project, user), Window.DAY),
                     (("user", project, user), Window.MONTH)]
            counters.add(("requests", "user", project, user), Window.DAY, requests, at=at)
        if session is not None:
            keys.append((("session", project, user or "", session), Window.TOTAL))
        for key, window in keys:
            counters.add(("tokens", *key), window, tokens or 0, at=at)
            if cost:
                counters.add(("cost_usd", *key), window, cost, at=at)


class StreamMeter:
    """Counts a chat stream's tokens until (unless) the provider reports usage.

    ``openai_routes.chat_frames`` calls ``reported`` when a usage chunk arrives and
    ``count`` after each chunk has been written; the exchange always holds the best count
    so far, so a client that disconnects mid-stream is billed for what it received.
    """

    __slots__ = ("exchange", "messages", "tools", "prompt", "completion", "is_reported")

    def __init__(self, exchange: Exchange, messages: list, tools: list | None = None) -> None:
        self.exchange, self.messages, self.tools = exchange, messages, tools
        self.prompt: int | None = None
        self.completion = 0
        self.is_reported = False

    def reported(self) -> None:
        self.is_reported = True

    def count(self, chunk: dict) -> None:
        if self.is_reported:
            return
        text = delta_text(chunk)
        if not text:
            return
        if self.prompt is None:  # once, after the first event is already on the wire
            self.prompt = estimate_prompt_tokens(self.messages, self.tools)
        self.completion += count_tokens(text)
        self.exchange.usage(self.prompt, self.completion)


def delta_text(chunk: dict) -> str:
    """The generated text of one chat chunk: content, refusal and tool-call arguments."""
    parts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        for name in ("content", "refusal", "reasoning_content"):
            if isinstance(delta.get(name), str):
                parts.append(delta[name])
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            for name in ("name", "arguments"):
                if isinstance(function.get(name), str):
                    parts.append(function[name])
    return "".join(parts)


def estimate_completion(exchange: Exchange, messages: list, completion: dict) -> None:
    """Usage for a non-streamed reply that came without any (counted, not invented)."""
    text = []
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        text.append(message.get("content") if isinstance(message.get("content"), str) else "")
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            text.append(str(function.get("name") or "") + str(function.get("arguments") or ""))
    exchange.usage(estimate_prompt_tokens(messages), count_tokens("".join(text)))


def estimate_prompt_tokens(messages: list, tools: list | None = None) -> int:
    """A prompt's tokens at OpenAI's rule of thumb, ~4 characters a token, plus 4 a message
    and 85 an image. Linear in the number of messages: a tokenizer pass over a long prompt
    would hold the event loop for milliseconds (90 ms for 180 kB), for a count the provider
    usually reports anyway."""
    chars, images = 0, 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    chars += len(part["text"])
                else:
                    images += 1
        for call in (message.get("tool_calls") or ()) if isinstance(message, dict) else ():
            chars += len(str((call.get("function") or {}).get("arguments") or ""))
    for tool in tools or ():
        chars += len(str(tool))
    return -(-chars // 4) + 4 * len(messages) + 85 * images + 3

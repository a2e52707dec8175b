"""Counting a stream's tokens when its provider does not report them: ``StreamMeter``.

Usage comes from the provider: the gateway always asks for it on streams
(``routes/openai.prepare_chat``) and the final usage chunk sets the exchange's counts. When
an upstream sends none, or the client leaves before that chunk, the stream is counted here
with the emulated model's tokenizer (``providers/tokens.py``) for the reply and a
character estimate for the prompt (``estimate_prompt_tokens``), so a stream cut mid-way is
billed for what was sent (``recorder.UsageRecorder``). ``estimate_completion`` (and
``reply_usage``, for routes that sum several replies) does the same for a non-streamed
reply without usage.

Every streamed route is metered here: chat's relay (``routes/openai.ChatFramer``) calls
the meter itself, once per event on its own loop; ``/v1/responses`` and ``/v1/completions``,
whose events are translated from chat chunks, pass the chunks through
``StreamMeter.metered``. A completion of several prompts is several chat streams on one
exchange, billed together (``StreamMeter.next_stream``).

The meter sits on the path of every relayed event, so it reads each chunk's delta text and
keeps it; counting waits for the end of the stream, where it is skipped when the provider
reported usage (the usual case). The exchange calls ``settle`` before it publishes its end
(``Exchange.settle``), so every reader of the final event sees the count. An exchange
without that hook gets every text counted as it passes, after the event is on the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from behest_local.exchange.exchange import Exchange
from behest_local.providers.tokens import CHARS_PER_TOKEN, count_tokens, sampled_sum

_SETTLE_CHARS = 4096
"""Kept text past which the meter counts at once: settling never holds the loop long."""
_OTHER_TEXT = ("refusal", "reasoning_content")
"""Delta fields besides ``content`` and tool calls that carry generated text."""


class StreamMeter:
    """Counts a chat stream's tokens until (unless) the provider reports usage.

    ``routes/openai.ChatFramer`` calls ``reported`` when a usage chunk arrives and
    ``count`` after each chunk has been written (``metered`` does both for a translated
    stream); ``settle`` puts the count of what was sent on the exchange. Counts are per
    delta, summed: the same whether settled once or after every chunk.
    """

    __slots__ = ("exchange", "messages", "tools", "prompt", "completion", "is_reported",
                 "pending", "pending_chars", "deferred", "before")

    def __init__(self, exchange: Exchange, messages: list, tools: list | None = None) -> None:
        self.exchange, self.messages, self.tools = exchange, messages, tools
        self.prompt: int | None = None
        self.completion = 0
        self.is_reported = False
        self.pending: list[str] = []
        self.pending_chars = 0
        # The (prompt, completion) tokens of the exchange's earlier streams (``next_stream``),
        # which this one's are added to; None for the first.
        self.before: tuple[int, int] | None = None
        try:  # the exchange settles us before its end is published: count once, then
            exchange.settle = self.settle  # type: ignore[attr-defined]
            self.deferred = True
        except AttributeError:  # no such hook: keep the exchange's count current instead
            self.deferred = False

    def reported(self, usage: dict) -> None:
        """The provider's usage chunk: its counts are the exchange's, none counted here."""
        self.is_reported = True
        self.pending.clear()
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        before = self.before
        if before is not None:
            prompt, completion = before[0] + (prompt or 0), before[1] + (completion or 0)
        self.exchange.usage(prompt, completion)

    def count(self, chunk: dict) -> None:
        if self.is_reported:
            return
        text = delta_text(chunk)
        if not text:
            return
        self.pending.append(text)
        self.pending_chars += len(text)
        if not self.deferred or self.pending_chars >= _SETTLE_CHARS:
            self.settle()

    def settle(self) -> None:
        """Add the texts kept so far to the exchange's count (none once usage came)."""
        if self.is_reported or not self.pending:
            return
        if self.prompt is None:  # once, after the first event is already on the wire
            self.prompt = estimate_prompt_tokens(self.messages, self.tools)
        self.completion += sum(map(count_tokens, self.pending))
        self.pending.clear()
        self.pending_chars = 0
        before = self.before
        if before is None:
            self.exchange.usage(self.prompt, self.completion)
        else:
            self.exchange.usage(before[0] + self.prompt, before[1] + self.completion)

    def next_stream(self, messages: list, tools: list | None = None) -> None:
        """Meter the exchange's next stream (a completion's next prompt) from here on, its
        tokens added to what the streams before it were billed."""
        self.settle()
        exchange = self.exchange
        self.before = (exchange.prompt_tokens or 0, exchange.completion_tokens or 0)
        self.messages, self.tools = messages, tools
        self.prompt, self.completion, self.is_reported = None, 0, False

    async def metered(self, chunks: AsyncIterator[dict]) -> AsyncIterator[dict]:
        """``chunks`` as they come, metered as ``ChatFramer`` meters chat's: for a stream
        whose events are made from the chunks downstream (``/v1/responses``,
        ``/v1/completions``). A chunk is counted when the next one is asked for, that is,
        once the events made of it are written; a chunk whose events never got out (the
        client left) is not."""
        count, reported = self.count, self.reported
        async for chunk in chunks:
            usage = chunk.get("usage")
            if usage:
                reported(usage)
            yield chunk
            count(chunk)


def delta_text(chunk: dict) -> str:
    """The generated text of one chat chunk: content, refusal and tool-call arguments."""
    text = ""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        if not delta:
            continue
        content = delta.get("content")
        if isinstance(content, str):  # the usual delta: one string, nothing else to read
            text += content
            if len(delta) == 1 or (len(delta) == 2 and "role" in delta):
                continue
        for name in _OTHER_TEXT:
            value = delta.get(name)
            if isinstance(value, str):
                text += value
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            for name in ("name", "arguments"):
                if isinstance(function.get(name), str):
                    text += function[name]
    return text


def estimate_completion(exchange: Exchange, messages: list, completion: dict) -> None:
    """Usage for a non-streamed reply that came without any (counted, not invented)."""
    exchange.usage(*counted_usage(messages, completion))


def reply_usage(messages: list, completion: dict) -> tuple[int, int]:
    """A non-streamed reply's (prompt, completion) tokens: the provider's, else counted."""
    usage = completion.get("usage")
    if not usage:
        return counted_usage(messages, completion)
    return usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0


def counted_usage(messages: list, completion: dict) -> tuple[int, int]:
    """The (prompt, completion) tokens of a non-streamed reply, counted here."""
    text = []
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        text.append(message.get("content") if isinstance(message.get("content"), str) else "")
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            text.append(str(function.get("name") or "") + str(function.get("arguments") or ""))
    return estimate_prompt_tokens(messages), count_tokens("".join(text))


def estimate_prompt_tokens(messages: list, tools: list | None = None) -> int:
    """A prompt's tokens at OpenAI's rule of thumb (``tokens.CHARS_PER_TOKEN``), plus 4 a
    message and 85 an image. No tokenizer pass: over a long prompt it would hold the event
    loop for milliseconds (90 ms for 180 kB), for a count the provider usually reports
    anyway; and long lists are sampled (``tokens.sampled_sum``), so its cost is bounded."""
    messages = messages if isinstance(messages, list) else []
    chars = sampled_sum(messages, _message_chars)
    images = sampled_sum(messages, _message_images)
    chars += sum(len(str(tool)) for tool in tools or ())
    return -(-chars // CHARS_PER_TOKEN) + 4 * len(messages) + 85 * images + 3


def _message_chars(message: object) -> int:
    if not isinstance(message, dict):
        return 0
    content = message.get("content")
    chars = len(content) if isinstance(content, str) else 0
    if isinstance(content, list):
        chars += sampled_sum(content, _part_chars)
    calls = message.get("tool_calls") or []
    return chars + sampled_sum(calls, _call_chars)


def _message_images(message: object) -> int:
    content = message.get("content") if isinstance(message, dict) else None
    return sampled_sum(content, _part_is_image) if isinstance(content, list) else 0


def _part_chars(part: object) -> int:
    return len(part["text"]) if isinstance(part, dict) and isinstance(part.get("text"), str) else 0


def _part_is_image(part: object) -> int:
    # Any part without text is counted as an image, the only other kind a prompt sends.
    return 0 if isinstance(part, dict) and isinstance(part.get("text"), str) else 1


def _call_chars(call: dict) -> int:
    return len(str((call.get("function") or {}).get("arguments") or ""))

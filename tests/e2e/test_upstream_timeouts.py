"""Per-provider timeouts (``[providers.NAME] timeout_s``) against a fake that stalls.

``[hold N]`` makes the fake stop after N frames (or before answering at all) until the
test releases it, which these tests never do: the gateway must give up by itself. Before
the first byte that is a 504 in OpenAI's shape; once the stream has begun it is a final
error event and a clean close. Either way the upstream connection is closed, which the
fake sees (``state.disconnected``): nothing waits on a stalled provider.
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from behest_local.exchange.events import ExchangeFailed

TIMEOUT_S = 0.3
PROVIDERS = ["openai", "anthropic", "google"]  # pass-through, named events, raw-line decoding
# A frame index after which some text has gone out (Anthropic opens with message_start,
# ping and content_block_start; Gemini's first event already carries three tokens).
TEXT_AFTER = {"openai": 3, "anthropic": 5, "google": 1}


def _failure(up) -> ExchangeFailed:
    failed = [e for e in up.recorder.events if isinstance(e, ExchangeFailed)]
    assert failed, "the exchange was not recorded as failed"
    return failed[-1]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_stalled_before_its_first_event_is_a_504(byok, provider):
    up = await byok(provider, timeout_s=TIMEOUT_S)
    with pytest.raises(openai.APIStatusError) as caught:
        await asyncio.wait_for(up.sdk.chat.completions.create(
            model=up.model, stream=True, max_tokens=50,
            messages=[{"role": "user", "content": "Hi [hold 0]"}]), timeout=10)
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"
    assert f"providers.{provider}.timeout_s" in caught.value.body["message"]
    await asyncio.wait_for(up.state.disconnected.wait(), timeout=5)
    assert _failure(up).status == 504


async def test_an_unstreamed_reply_that_never_comes_is_a_504(byok):
    up = await byok("openai", timeout_s=TIMEOUT_S)
    with pytest.raises(openai.InternalServerError) as caught:
        await asyncio.wait_for(up.sdk.chat.completions.create(
            model=up.model, messages=[{"role": "user", "content": "Hi [hold 0]"}]), timeout=10)
    assert caught.value.status_code == 504
    await asyncio.wait_for(up.state.disconnected.wait(), timeout=5)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_stalled_midway_ends_with_an_error_event(byok, provider):
    up = await byok(provider, timeout_s=TIMEOUT_S)
    stream = await up.sdk.chat.completions.create(
        model=up.model, stream=True, max_tokens=50,
        messages=[{"role": "user", "content": f"Tell me a story [hold {TEXT_AFTER[provider]}]"}])
    text = ""

    async def read() -> None:
        nonlocal text
        async for chunk in stream:
            text += "".join(c.delta.content or "" for c in chunk.choices)

    with pytest.raises(openai.APIError) as caught:
        await asyncio.wait_for(read(), timeout=10)
    assert text.startswith("Hello")
    assert "between two stream events" in caught.value.message
    await asyncio.wait_for(up.state.disconnected.wait(), timeout=5)
    failure = _failure(up)
    assert (failure.status, failure.code) == (504, "upstream_timeout")
    assert failure.details == {"mid_stream": True}

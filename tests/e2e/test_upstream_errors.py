"""Upstream failures as the openai SDK sees them through behest-local, per provider.

Before the first byte a native error keeps its status and message and becomes the openai
SDK's matching error class (``Retry-After`` kept, so the SDK's own back-off works; Gemini,
which sends no such header, has its ``RetryInfo`` delay turned into one). After streaming
began, an upstream error or a cut connection becomes one OpenAI-format error event and a
clean close, which the SDK raises as ``APIError``; never a hang, never a ``[DONE]``.
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from behest_local.exchange.events import ExchangeFailed
from tests.e2e.conftest import ALL

RATE_LIMITED = {
    "openai": "Rate limit reached for requests. Please try again later.",
    "mistral": "Rate limit reached for requests. Please try again later.",
    "openrouter": "Rate limit reached for requests. Please try again later.",
    "ollama": "Rate limit reached for requests. Please try again later.",
    "anthropic": "Number of request tokens has exceeded your rate limit.",
    "google": "Fake upstream error 429.",
    "cohere": "You are using a Trial key, which is limited to 10 API calls / minute.",
}
RETRY_AFTER = {"openai": "1", "mistral": "1", "openrouter": "1", "ollama": "1",
               "anthropic": "1", "google": "2", "cohere": None}
# A key of the right shape that the fake refuses, and what each upstream says to it.
WRONG_KEYS = {"openai": "sk-proj-" + "x" * 40, "anthropic": "sk-ant-api03-" + "x" * 40,
              "google": "AIza" + "x" * 35, "openrouter": "sk-or-v1-" + "ab" * 32,
              "mistral": "wrong-key-0123456789", "cohere": "wrong-key-0123456789"}
REFUSED = {"openai": "Incorrect API key provided.", "anthropic": "invalid x-api-key",
           "google": "API key not valid. Please pass a valid API key.",
           "openrouter": "No auth credentials found", "mistral": "Unauthorized",
           "cohere": "invalid api token"}
MID_STREAM = {
    "openai": "The server had an error while processing your request. Sorry about that!",
    "mistral": "The server had an error while processing your request. Sorry about that!",
    "ollama": "The server had an error while processing your request. Sorry about that!",
    "openrouter": "Provider disconnected unexpectedly",
    "anthropic": "Overloaded",
    "google": "The model is overloaded. Please try again later.",  # raw JSON, not SSE
    "cohere": "internal server error",
}


async def _ask(up, content: str, **extra):
    return await up.sdk.chat.completions.create(
        model=up.model, messages=[{"role": "user", "content": content}], **extra)


@pytest.mark.parametrize("provider", ALL)
async def test_rate_limit_keeps_status_message_and_retry_after(byok, provider):
    up = await byok(provider)
    with pytest.raises(openai.RateLimitError) as caught:
        await _ask(up, "[error 429]")
    assert caught.value.status_code == 429
    assert caught.value.body["message"] == RATE_LIMITED[provider]
    assert caught.value.response.headers.get("retry-after") == RETRY_AFTER[provider]
    failed = [e for e in up.recorder.events if isinstance(e, ExchangeFailed)]
    assert failed and failed[-1].status == 429


@pytest.mark.parametrize("provider", sorted(WRONG_KEYS))
async def test_a_refused_vault_key_is_a_401(byok, provider):
    up = await byok(provider, vault_key=WRONG_KEYS[provider])
    with pytest.raises(openai.AuthenticationError) as caught:
        await _ask(up, "Hi")
    assert caught.value.body["message"] == REFUSED[provider]  # Gemini: 400 API_KEY_INVALID
    assert WRONG_KEYS[provider] not in str(caught.value.body)
    assert up.state.requests[-1].auth_ok is False


@pytest.mark.parametrize(("provider", "status", "error"), [
    ("anthropic", 529, openai.InternalServerError),
    ("anthropic", 400, openai.BadRequestError),
    ("google", 400, openai.BadRequestError),
    ("google", 403, openai.PermissionDeniedError),
    ("google", 503, openai.InternalServerError),
    ("mistral", 422, openai.UnprocessableEntityError),
    ("openrouter", 402, openai.APIStatusError),
    ("cohere", 500, openai.InternalServerError),
    ("ollama", 404, openai.NotFoundError),
])
async def test_native_statuses_reach_the_sdk_as_its_classes(byok, provider, status, error):
    up = await byok(provider)
    with pytest.raises(error) as caught:
        await _ask(up, f"[error {status}]", max_tokens=50)
    assert caught.value.status_code == status
    assert caught.value.body["message"]  # the upstream's own words, never empty


async def test_anthropic_overload_says_so(byok):
    up = await byok("anthropic")
    with pytest.raises(openai.InternalServerError) as caught:
        await _ask(up, "[error 529]", max_tokens=50)
    assert (caught.value.status_code, caught.value.body["message"]) == (529, "Overloaded")
    assert caught.value.code == "overloaded_error"


async def _stream_until_error(up, content: str) -> tuple[str, openai.APIError]:
    stream = await _ask(up, content, stream=True)
    text = ""
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            text += "".join(c.delta.content or "" for c in chunk.choices)
    return text, caught.value


@pytest.mark.parametrize("provider", ALL)
async def test_an_in_stream_error_is_an_error_event_and_a_clean_close(byok, provider):
    up = await byok(provider)
    text, error = await asyncio.wait_for(
        _stream_until_error(up, "Tell me a long story please [fail 6]"), timeout=10)
    assert text.startswith("Hello from")  # streaming had begun
    assert error.message == MID_STREAM[provider]
    failed = [e for e in up.recorder.events if isinstance(e, ExchangeFailed)]
    assert failed and failed[-1].details == {"mid_stream": True}


@pytest.mark.parametrize("provider", ALL)
async def test_a_truncated_stream_is_an_error_event_never_a_hang(byok, provider):
    up = await byok(provider)
    text, error = await asyncio.wait_for(
        _stream_until_error(up, "Tell me a long story please [truncate 6]"), timeout=10)
    assert text.startswith("Hello from")
    assert "stream" in error.message and error.code in ("upstream_stream_cut",
                                                         "upstream_stream_truncated")

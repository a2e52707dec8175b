"""Chained Responses reach a real provider with their history: the gateway expands the
stored turns into the chat request, whichever provider serves the model (OpenAI
included: its Responses calls are served through chat here, so it never sees the id).

The openai SDK talks to the gateway; each provider is its native fake upstream
(``tests/e2e/conftest.byok``), whose recorded request body must hold the earlier turns.
"""

from __future__ import annotations

import asyncio
import json

import pytest

PROVIDERS = ["openai", "anthropic", "google"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_chained_turn_sends_the_earlier_turns_upstream(byok, provider):
    up = await byok(provider)
    first = await up.sdk.responses.create(model=up.model,
                                          input="My cat is called Biscuit.")
    assert first.output_text
    second = await up.sdk.responses.create(model=up.model, previous_response_id=first.id,
                                           input="What is her name?")
    assert second.previous_response_id == first.id
    sent = json.dumps(up.state.requests[-1].body)
    assert "My cat is called Biscuit." in sent
    assert json.dumps(first.output_text)[1:-1] in sent
    assert "What is her name?" in sent
    assert "resp_" not in sent  # the id is the gateway's: never sent upstream


async def test_a_conversation_turn_sends_its_items_upstream(byok):
    up = await byok("anthropic")
    conversation = await up.sdk.conversations.create(
        items=[{"type": "message", "role": "user", "content": "I live in Skye."}])
    await up.sdk.responses.create(model=up.model, conversation=conversation.id,
                                  input="Where do I live?")
    sent = json.dumps(up.state.requests[-1].body)
    assert "I live in Skye." in sent and "Where do I live?" in sent


async def test_a_background_response_is_served_by_the_provider(byok):
    up = await byok("openai")
    created = await up.sdk.responses.create(model=up.model, input="Hello there",
                                            background=True)
    for _ in range(500):  # bounded poll: the fake answers at once
        response = await up.sdk.responses.retrieve(created.id)
        if response.status not in ("queued", "in_progress"):
            break
        await asyncio.sleep(0.01)
    assert response.status == "completed"
    assert "Hello from the fake openai upstream" in response.output_text
    assert up.state.requests[-1].auth_ok

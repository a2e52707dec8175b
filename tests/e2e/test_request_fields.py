"""The request fields real clients send besides messages: logprobs, prediction, reasoning ... (issue 19).

Over HTTP with the official openai SDK against the live gateway and its emulated model.
"""

from __future__ import annotations

import math

import openai
import pytest


@pytest.fixture
def client(live):
    with openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0) as client:
        yield client


QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


def test_logprobs_cover_every_token_with_the_chosen_token_likeliest(client) -> None:
    response = client.chat.completions.create(model="gpt-4o", messages=QUESTION, logprobs=True, top_logprobs=3)
    choice = response.choices[0]
    entries = choice.logprobs.content
    assert "".join(entry.token for entry in entries) == choice.message.content
    for entry in entries:
        assert entry.logprob <= 0 and bytes(entry.bytes) == entry.token.encode()
        assert len(entry.top_logprobs) == 3 and entry.top_logprobs[0].token == entry.token
        assert [t.logprob for t in entry.top_logprobs] == sorted((t.logprob for t in entry.top_logprobs), reverse=True)
        assert sum(math.exp(t.logprob) for t in entry.top_logprobs) <= 1


def test_streamed_logprobs_arrive_with_their_tokens_and_match_the_whole_reply(client) -> None:
    whole = client.chat.completions.create(model="gpt-4o", messages=QUESTION, logprobs=True, top_logprobs=2, seed=3)
    streamed = []
    for chunk in client.chat.completions.create(model="gpt-4o", messages=QUESTION, logprobs=True, top_logprobs=2,
                                                seed=3, stream=True):
        for choice in chunk.choices:
            if choice.delta.content:
                [entry] = choice.logprobs.content
                assert entry.token == choice.delta.content
                streamed.append(entry)
    assert streamed == whole.choices[0].logprobs.content


def test_without_logprobs_there_are_none(client) -> None:
    response = client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert response.choices[0].logprobs is None


def test_the_other_fields_clients_send_are_accepted(client) -> None:
    response = client.chat.completions.create(
        model="gpt-4o", messages=QUESTION, prediction={"type": "content", "content": "Because of Rayleigh scattering."},
        reasoning_effort="low", modalities=["text"], service_tier="auto", store=False,
        metadata={"team": "agents"}, max_completion_tokens=50)
    assert response.choices[0].message.content
    assert response.usage.completion_tokens_details.accepted_prediction_tokens == 0

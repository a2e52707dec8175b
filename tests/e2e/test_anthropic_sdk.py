"""Anthropic's Messages API on behest-local, driven by the official ``anthropic`` SDK.

The SDK talks to a live gateway (the session's ``live`` server) with a project key, as a
user's code would with ``ANTHROPIC_BASE_URL`` pointed at behest-local; the emulated model
answers. Raw HTTP checks what the SDK would hide: the exact event sequence, both auth
headers, ``?beta=true`` and the error JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import anthropic
import httpx
import pytest

from behest_local import sse

MODEL = "claude-sonnet-4-5"
ASK = [{"role": "user", "content": "What is 2+2?"}]


@pytest.fixture
def client(live) -> anthropic.Anthropic:
    with anthropic.Anthropic(api_key=live.key, base_url=live.url, max_retries=0) as sdk:
        yield sdk


def post(live, path: str, body: object, headers: dict | None = None) -> httpx.Response:
    base = {"x-api-key": live.key, "anthropic-version": "2023-06-01"}
    return httpx.post(live.url + path, headers={**base, **(headers or {})},
                      content=body if isinstance(body, bytes) else json.dumps(body),
                      timeout=30)


def test_create_answers_with_a_message_from_the_emulated_model(client):
    message = client.messages.create(model=MODEL, max_tokens=256, messages=ASK)
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert "4" in message.content[0].text
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0


def test_stream_helper_accumulates_the_text_of_the_unstreamed_reply(client):
    whole = client.messages.create(model=MODEL, max_tokens=256, messages=ASK)
    with client.messages.stream(model=MODEL, max_tokens=256, messages=ASK) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text == whole.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == whole.usage.output_tokens


def test_stream_is_the_exact_named_event_sequence(live):
    response = post(live, "/v1/messages", {"model": MODEL, "max_tokens": 64, "stream": True,
                                           "messages": ASK})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse.decode_all(response.content)
    names = [e.event for e in events]
    assert all(json.loads(e.data)["type"] == e.event for e in events)
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = json.loads(events[0].data)["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] > 0
    delta = json.loads(events[-2].data)
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == len(names) - 6
    assert b"[DONE]" not in response.content


def test_count_tokens_counts_the_prompt_as_the_reply_bills_it(client):
    count = client.messages.count_tokens(model=MODEL, messages=ASK, system="Be terse.")
    message = client.messages.create(model=MODEL, max_tokens=64, messages=ASK,
                                     system="Be terse.")
    assert count.input_tokens == message.usage.input_tokens > 0


def test_models_list_in_anthropic_shape_pages_with_after_id(client):
    first = client.models.list(limit=3)
    assert len(first.data) == 3 and first.has_more
    assert all(m.type == "model" and m.created_at.year >= 2025 for m in first.data)
    every = [m.id for m in client.models.list(limit=5)]  # the SDK follows after_id
    assert every[:3] == [m.id for m in first.data] and len(set(every)) == len(every) > 5
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")


def test_models_list_without_anthropic_version_stays_openai_shaped(live):
    body = httpx.get(live.url + "/v1/models",
                     headers={"Authorization": f"Bearer {live.key}"}).json()
    assert body["object"] == "list" and "has_more" not in body


def test_beta_query_and_both_auth_headers_are_accepted(live):
    for headers in ({"x-api-key": live.key}, {"x-api-key": "", "Authorization":
                                              f"Bearer {live.key}"}):
        response = post(live, "/v1/messages?beta=true", {
            "model": MODEL, "max_tokens": 32, "messages": ASK},
            {"anthropic-beta": "claude-code-20250219,unknown-beta-2099-01-01", **headers})
        assert response.status_code == 200, response.text
        assert response.headers["request-id"] == response.headers["X-Request-Id"]


def test_x_api_key_wins_over_authorization_as_at_anthropic(live):
    response = post(live, "/v1/messages", {"model": MODEL, "max_tokens": 8, "messages": ASK},
                    {"Authorization": "Bearer behest_sk_live_" + "0" * 32})
    assert response.status_code == 200


def test_sdk_beta_namespace_works_too(client):
    message = client.beta.messages.create(model=MODEL, max_tokens=64, messages=ASK,
                                          betas=["claude-code-20250219"])
    assert "4" in message.content[0].text


# -- errors: the SDK's classes, Anthropic's JSON -------------------------------------------

@pytest.mark.parametrize(("directive", "error", "status", "kind"), [
    ("status=429; retry_after=2", anthropic.RateLimitError, 429, "rate_limit_error"),
    ("status=529", anthropic.OverloadedError, 529, "overloaded_error"),
    ("status=500", anthropic.InternalServerError, 500, "api_error"),
])
def test_emulated_failures_raise_the_sdk_error_classes(client, directive, error, status, kind):
    with pytest.raises(error) as info:
        client.messages.create(model=MODEL, max_tokens=64, messages=ASK,
                               extra_headers={"x-behest-emulate": directive})
    assert info.value.status_code == status
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == kind
    assert info.value.request_id == info.value.response.headers["X-Request-Id"]
    if status == 429:
        assert info.value.response.headers["retry-after"] == "2"


def test_wrong_key_is_an_authentication_error(live):
    with anthropic.Anthropic(api_key="behest_sk_live_" + "f" * 32, base_url=live.url,
                             max_retries=0) as sdk, pytest.raises(anthropic.AuthenticationError):
        sdk.messages.create(model=MODEL, max_tokens=8, messages=ASK)
    response = post(live, "/v1/messages", {"model": MODEL, "max_tokens": 8, "messages": ASK},
                    {"x-api-key": ""})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error" and "x-api-key" in error["message"]


@pytest.mark.parametrize(("body", "where"), [
    ({"model": MODEL, "messages": ASK}, "max_tokens: Field required"),
    ({"model": MODEL, "max_tokens": "10", "messages": ASK}, "max_tokens"),
    ({"model": MODEL, "max_tokens": 10, "messages": "hi"}, "messages"),
    ({"model": MODEL, "max_tokens": 10, "messages": [{"role": "tool", "content": "x"}]},
     "messages.0.role"),
    ({"max_tokens": 10, "messages": ASK}, "model: Field required"),
    ({"model": MODEL, "max_tokens": 10, "messages": ASK, "temperature": 1.5}, "temperature"),
    ({"model": MODEL, "max_tokens": 10, "messages": ASK, "stop_sequences": [" "]},
     "stop_sequences.0"),
    ({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/bmp",
                                     "data": "AA=="}}]}]}, "media_type"),
    ([1, 2], "JSON object"),
])
def test_bad_bodies_are_anthropic_invalid_request_errors(live, body, where):
    response = post(live, "/v1/messages", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert where in error["error"]["message"]
    assert error["request_id"] == response.headers["request-id"]


def test_malformed_json_and_huge_bodies_are_answered_in_anthropic_json(live):
    broken = post(live, "/v1/messages", b'{"model": ')
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"
    huge = post(live, "/v1/messages", {"model": MODEL, "max_tokens": 8, "messages": [
        {"role": "user", "content": "x" * (2 * 1024 * 1024)}]})
    assert huge.status_code == 413 and huge.json()["error"]["type"] == "request_too_large"
    unknown = post(live, "/v1/messages/batches", {})
    assert unknown.status_code in (404, 405)
    assert unknown.json()["type"] == "error"


def test_sdk_error_classes_for_bad_requests(client):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=8, messages=[
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f",
                                               "input": {}}]},
            {"role": "user", "content": "no result"}])
    assert "tool_result" in info.value.message


def test_sampling_parameters_follow_anthropic_version(live):
    body = {"model": MODEL, "max_tokens": 8, "messages": ASK, "temperature": 0.5}
    assert post(live, "/v1/messages", body).status_code == 200
    refused = post(live, "/v1/messages", body, {"anthropic-version": "2026-10-21"})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith(
        "temperature: Extra inputs are not permitted")


def test_max_tokens_zero_prewarms_without_generating(live):
    reply = post(live, "/v1/messages", {"model": MODEL, "max_tokens": 0, "messages": ASK}).json()
    assert reply["content"] == [] and reply["stop_reason"] == "max_tokens"


def test_sdk_readme_example_runs_unchanged(live):
    """The Getting started example of the SDK's README (2.17.0), verbatim, with only the
    environment pointing it at behest-local."""
    example = textwrap.dedent('''
        import os
        from anthropic import Anthropic

        client = Anthropic(
            api_key=os.environ.get("ANTHROPIC_API_KEY"),  # This is the default and can be omitted
        )

        message = client.messages.create(
            max_tokens=1024,
            messages=[
                {
                    "role": "user",
                    "content": "Hello, Claude",
                }
            ],
            model="claude-opus-5-5",
        )
        print(message.content)
    ''')
    result = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "ANTHROPIC_API_KEY": live.key,
                                             "ANTHROPIC_BASE_URL": live.url})
    assert result.returncode == 0, result.stderr
    assert "TextBlock(" in result.stdout and "Hello" in result.stdout

"""The gateway's admission on Anthropic's Messages API: limits, CORS, auth, request ids.

The same phases as chat's (server/middleware.py), answered in Anthropic's dialect: a
project over its RPM gets 429 ``rate_limit_error`` with ``retry-after`` (the SDK's
``RateLimitError``), every answer carries ``anthropic-ratelimit-*`` and ``request-id``, a
browser may send Anthropic's headers, and the exchange is recorded and billed like chat.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import anthropic

from behest_local.config import ProjectConfig
from behest_local.config.schema import RateLimitConfig
from behest_local.observe.export import to_har
from behest_local.observe.record import build_record
from behest_local.tui.panes import overview_text
from tests.conftest import TEST_SETTINGS, Recorder

ASK = {"model": "claude-sonnet-4-5", "max_tokens": 32,
       "messages": [{"role": "user", "content": "Say hello"}]}
VERSION = {"anthropic-version": "2023-06-01"}


def limited(rpm: int):
    local = ProjectConfig(name="local", id="local", rate_limits=RateLimitConfig(rpm=rpm))
    return replace(TEST_SETTINGS, projects=(local,),
                   emulator=replace(TEST_SETTINGS.emulator, enforce_limits=True))


def api_key(client) -> dict:
    return {"x-api-key": client.key["Authorization"].split()[1], **VERSION}


async def test_project_rpm_refusal_is_a_rate_limit_error_the_sdk_raises(make_gateway_client):
    client = await make_gateway_client(limited(rpm=2))
    for _ in range(2):
        ok = await client.post("/v1/messages", json=ASK, headers=api_key(client))
        assert ok.status == 200
    sdk = anthropic.AsyncAnthropic(api_key=client.key["Authorization"].split()[1],
                                   base_url=str(client.make_url("")), max_retries=0)
    try:
        try:
            await sdk.messages.create(**ASK)
        except anthropic.RateLimitError as error:
            refused = error
        else:
            raise AssertionError("the third request in a minute was not refused")
    finally:
        await sdk.close()
    assert refused.status_code == 429
    assert refused.body["error"]["type"] == "rate_limit_error"
    assert int(refused.response.headers["retry-after"]) >= 1
    assert refused.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


async def test_answers_carry_anthropic_ratelimit_headers_and_request_id(make_gateway_client):
    client = await make_gateway_client(limited(rpm=50))
    response = await client.post("/v1/messages", json=ASK, headers=api_key(client))
    assert response.status == 200
    headers = response.headers
    assert headers["anthropic-ratelimit-requests-limit"] == "50"
    assert headers["anthropic-ratelimit-requests-remaining"] == "49"
    datetime.strptime(headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%SZ")
    # The same binding limits OpenAI's headers report, under Anthropic's names.
    assert headers.get("anthropic-ratelimit-tokens-limit") == headers.get(
        "x-ratelimit-limit-tokens")
    assert headers["request-id"] == headers["X-Request-Id"]
    chat = await client.post("/v1/chat/completions", headers=client.key, json={
        "model": "gpt-4o", "messages": ASK["messages"]})
    assert "anthropic-ratelimit-requests-limit" not in chat.headers
    assert "request-id" not in chat.headers


async def test_a_page_may_send_anthropic_headers_after_a_preflight(make_gateway_client):
    settings = replace(TEST_SETTINGS, projects=(ProjectConfig(
        name="local", id="local", cors_origins=("http://localhost:5173",)),))
    client = await make_gateway_client(settings)
    origin = {"Origin": "http://localhost:5173"}
    preflight = await client.options("/v1/messages", headers={
        **origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, anthropic-version, anthropic-beta, "
                                          "anthropic-dangerous-direct-browser-access, "
                                          "content-type, x-stainless-os"})
    assert preflight.status == 204
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"]
    response = await client.post("/v1/messages", json=ASK, headers={**origin, **api_key(client)})
    assert response.status == 200
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert "request-id" in exposed and "anthropic-ratelimit-requests-remaining" in exposed


async def test_a_messages_exchange_is_routed_billed_and_recorded_like_chat(make_gateway_client):
    client = await make_gateway_client()
    recorder = Recorder()
    client.gateway.store.subscribe(recorder)
    response = await client.post("/v1/messages", json={**ASK, "stream": True},
                                 headers=api_key(client))
    assert response.status == 200
    await response.read()
    exchange_id = response.headers["X-Request-Id"]
    exchange = client.gateway.store.find(exchange_id)
    assert exchange.path == "/v1/messages" and exchange.model == "claude-sonnet-4-5"
    assert exchange.provider == "emulated" and exchange.stream
    assert exchange.prompt_tokens > 0 and exchange.completion_tokens > 0
    assert exchange.cost is not None  # billed: /v1/messages is an inference route
    assert exchange.dialect == "anthropic"
    record = build_record(exchange)
    assert record["dialect"] == "anthropic"
    assert record["message"]["choices"][0]["content"]  # assembled from Anthropic's events
    assert to_har([record])["log"]["entries"][0]["_behest"]["dialect"] == "anthropic"
    overview = overview_text(record, None, None).plain
    assert "anthropic (via chat)" in overview


async def test_unknown_messages_path_is_anthropic_not_found(make_gateway_client):
    client = await make_gateway_client()
    response = await client.get("/v1/messages/batches/x", headers=api_key(client))
    assert response.status == 404
    assert (await response.json())["error"]["type"] == "not_found_error"


async def test_a_minted_jwt_works_as_x_api_key_or_bearer(make_gateway_client):
    client = await make_gateway_client()
    minted = await client.post("/v1/auth/mint", json={"user_id": "alice"}, headers=client.key)
    token = (await minted.json())["jwt"]
    for headers in ({"x-api-key": token}, {"Authorization": f"Bearer {token}"}):
        response = await client.post("/v1/messages", json=ASK, headers={**headers, **VERSION})
        assert response.status == 200, await response.text()
        exchange = client.gateway.store.find(response.headers["X-Request-Id"])
        assert exchange.user == "alice"  # the identity the token carries
    forged = await client.post("/v1/messages", json=ASK,
                               headers={"x-api-key": token[:-4] + "AAAA", **VERSION})
    assert forged.status == 401
    assert (await forged.json())["error"]["type"] == "authentication_error"

"""Raw HTTP behaviour of the gateway: SSE framing and headers, error shapes and statuses."""

from __future__ import annotations

import asyncio
import io
import json

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from behest_local import sse
from behest_local.config import EmulatorConfig
from tests.conftest import with_settings

CHAT = "/v1/chat/completions"
HELLO = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}


def assert_openai_error(body: dict, *, code=None, param=None):
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param


async def test_sse_headers_and_lf_framing(gateway_client):
    resp = await gateway_client.post(CHAT, json={**HELLO, "stream": True},
                                     headers={**gateway_client.headers_auth,
                                              "Accept-Encoding": "gzip, br"})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert resp.headers["Cache-Control"] == "no-cache, no-transform"
    assert resp.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in resp.headers
    assert "Content-Length" not in resp.headers
    assert resp.headers["X-Request-Id"].startswith("req_")
    raw = await resp.read()
    assert b"\r" not in raw
    assert raw.endswith(b"data: [DONE]\n\n")
    frames = raw.split(b"\n\n")[:-1]
    assert all(f.startswith(b"data: ") and b"\n" not in f for f in frames)
    chunks = sse.parse_json_events(raw)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_a_stream_says_it_closes_when_it_will(gateway_client):
    """The Connection header of a stream is the one aiohttp acts on (RFC 9112 §9.6)."""
    body = {**HELLO, "stream": True}
    kept = await gateway_client.post(CHAT, json=body, headers=gateway_client.headers_auth)
    assert "Connection" not in kept.headers  # HTTP/1.1: persistent without saying so
    await kept.read()
    closing = await gateway_client.post(CHAT, json=body, headers={
        **gateway_client.headers_auth, "Connection": "close"})
    assert closing.headers["Connection"] == "close"
    assert (await closing.read()).endswith(b"data: [DONE]\n\n")


async def test_events_leave_one_by_one_while_the_stream_runs(aiohttp_client, tmp_path):
    """A paced stream: the first event is readable long before the last is produced."""
    from behest_local.identity.api_keys import KeyStore
    from behest_local.runtime.build import build_gateway
    from behest_local.server.app import make_app

    keys = KeyStore(tmp_path, scrypt_n=2**4)
    gateway = build_gateway(with_settings(emulator=EmulatorConfig(tokens_per_second=50)),
                            tmp_path, keys=keys)
    client = await aiohttp_client(make_app(gateway))
    key, _ = keys.create("local")
    loop = asyncio.get_running_loop()
    start = loop.time()
    resp = await client.post(CHAT, json={**HELLO, "stream": True},
                             headers={"Authorization": f"Bearer {key}"})
    arrivals = []
    async for line in resp.content:
        if line.startswith(b"data: "):
            arrivals.append(loop.time() - start)
    assert len(arrivals) > 6
    # 50 tokens/s: events arrive ~20 ms apart, not all at once at the end.
    assert arrivals[-1] - arrivals[1] > 0.06
    gaps = [b - a for a, b in zip(arrivals[2:], arrivals[3:])]
    assert sum(g > 0.005 for g in gaps) >= len(gaps) // 2


async def test_missing_key_is_401_in_openai_shape(gateway_client):
    resp = await gateway_client.post(CHAT, json=HELLO)
    assert resp.status == 401
    assert_openai_error(await resp.json(), code="invalid_api_key")
    resp = await gateway_client.post(CHAT, json=HELLO, headers={"Authorization": "Basic abc"})
    assert resp.status == 401


async def test_unknown_key_and_revoked_key(gateway_client):
    resp = await gateway_client.post(CHAT, json=HELLO, headers={
        "Authorization": "Bearer behest_sk_live_" + "a" * 32})
    assert resp.status == 401
    body = await resp.json()
    assert "a" * 32 not in json.dumps(body)
    keys = gateway_client.gateway.keys
    key, record = keys.create("local")
    ok = await gateway_client.post(CHAT, json=HELLO, headers={"Authorization": f"Bearer {key}"})
    assert ok.status == 200
    keys.revoke(record.id)
    gone = await gateway_client.post(CHAT, json=HELLO, headers={"Authorization": f"Bearer {key}"})
    assert gone.status == 401


async def test_legacy_bh_live_key_is_accepted(gateway_client):
    keys = gateway_client.gateway.keys
    key, _ = keys.create("local", legacy=True)
    assert key.startswith("bh_live_")
    resp = await gateway_client.post(CHAT, json=HELLO, headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 200


async def test_malformed_json_is_400(gateway_client):
    resp = await gateway_client.post(CHAT, data=b'{"model": "gpt-4o", "messages": [',
                                     headers={**gateway_client.headers_auth,
                                              "Content-Type": "application/json"})
    assert resp.status == 400
    assert_openai_error(await resp.json(), code="invalid_json")


async def test_missing_and_ill_typed_fields_name_the_param(gateway_client):
    cases = [
        ({"model": "gpt-4o"}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({**HELLO, "temperature": "hot"}, "temperature"),
        ({**HELLO, "temperature": 3}, "temperature"),
        ({**HELLO, "n": 0}, "n"),
        ({**HELLO, "max_tokens": 1.5}, "max_tokens"),
        ({**HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**HELLO, "tool_choice": "auto"}, "tool_choice"),
        ({**HELLO, "stream_options": {"include_usage": True}}, "stream_options"),
        ({**HELLO, "max_tokenz": 5}, "max_tokenz"),
        ({**HELLO, "response_format": {"type": "xml"}}, "response_format.type"),
    ]
    for body, param in cases:
        resp = await gateway_client.post(CHAT, json=body, headers=gateway_client.headers_auth)
        assert resp.status == 400, body
        assert_openai_error(await resp.json(), param=param)


async def test_unknown_route_404_and_wrong_method_405(gateway_client):
    resp = await gateway_client.get("/v1/nope", headers=gateway_client.headers_auth)
    assert resp.status == 404
    assert_openai_error(await resp.json(), code="unknown_url")
    resp = await gateway_client.get(CHAT, headers=gateway_client.headers_auth)
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]
    assert_openai_error(await resp.json(), code="method_not_allowed")


async def test_body_over_limit_is_413(gateway_client):
    big = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}
    resp = await gateway_client.post(CHAT, data=io.BytesIO(json.dumps(big).encode()), headers={
        **gateway_client.headers_auth, "Content-Type": "application/json"})
    assert resp.status == 413
    assert_openai_error(await resp.json(), code="request_too_large")


async def test_wrong_content_type_is_415(gateway_client):
    resp = await gateway_client.post(CHAT, data="model=gpt-4o", headers={
        **gateway_client.headers_auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415
    assert_openai_error(await resp.json(), code="unsupported_media_type")


async def test_handler_crash_is_500_json_and_the_server_keeps_serving(gateway_client, caplog):
    provider = gateway_client.gateway.providers["emulated"]

    async def explode(call):
        raise RuntimeError("boom with a secret behest_sk_live_deadbeef")

    original = provider.complete
    provider.complete = explode
    try:
        resp = await gateway_client.post(CHAT, json=HELLO, headers=gateway_client.headers_auth)
    finally:
        provider.complete = original
    assert resp.status == 500
    body = await resp.json()
    assert_openai_error(body, code="internal_error")
    request_id = resp.headers["X-Request-Id"]
    assert request_id in body["error"]["message"]
    assert "Traceback" not in body["error"]["message"] and "boom" not in body["error"]["message"]
    assert any(request_id in r.getMessage() for r in caplog.records)
    again = await gateway_client.post(CHAT, json=HELLO, headers=gateway_client.headers_auth)
    assert again.status == 200


async def test_bad_emulate_directive_is_400(gateway_client):
    resp = await gateway_client.post(CHAT, json=HELLO, headers={
        **gateway_client.headers_auth, "x-behest-emulate": "status=teapot"})
    assert resp.status == 400
    assert_openai_error(await resp.json(), param="x-behest-emulate")


async def test_emulated_429_carries_retry_after(gateway_client):
    resp = await gateway_client.post(CHAT, json=HELLO, headers={
        **gateway_client.headers_auth, "x-behest-emulate": "status=429; retry_after=2.5"})
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "2"
    assert resp.headers["retry-after-ms"] == "2500"
    assert_openai_error(await resp.json(), code="rate_limit_exceeded")


async def test_healthz_needs_no_key(gateway_client):
    resp = await gateway_client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)
FIELDS = st.sampled_from(["model", "messages", "stream", "n", "tools", "tool_choice", "stop",
                          "response_format", "max_tokens", "temperature", "input", "prompt",
                          "stream_options", "encoding_format", "dimensions", "instructions"])
BODIES = JSON | st.dictionaries(FIELDS, JSON, max_size=6) | st.fixed_dictionaries(
    {"messages": st.lists(st.dictionaries(st.sampled_from(["role", "content", "tool_calls",
                                                           "tool_call_id", "name"]),
                                          JSON | st.sampled_from(["user", "assistant", "tool"]),
                                          max_size=4), max_size=3)},
    optional={"tools": JSON, "tool_choice": JSON, "response_format": JSON, "stream": st.booleans(),
              "n": st.integers(-2, 4)})


@hsettings(max_examples=150, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=BODIES, path=st.sampled_from([CHAT, "/v1/completions", "/v1/responses", "/v1/embeddings"]))
async def test_arbitrary_json_bodies_never_500(gateway_client, body, path):
    resp = await gateway_client.post(path, json=body, headers=gateway_client.headers_auth)
    assert resp.status < 500, (path, body, await resp.text())
    raw = await resp.read()
    if resp.status >= 400:
        assert_openai_error(json.loads(raw))

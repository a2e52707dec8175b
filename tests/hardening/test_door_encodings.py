"""Issue 17, item 6: bad encodings are the client's error: 400 in the route's shape.

Before the fix each of these was a 500 ``internal_error`` with a traceback in the log: a
lone surrogate escaped in a JSON string (``"\\ud800"``, which no UTF-8 text can hold;
UTF-8-encoded surrogates too), a ``\\xff`` byte in ``X-Thread-Id`` or in the message of
``x-behest-emulate`` (aiohttp's plain-text 500: the error reply itself could not be
encoded). A NUL in a project name was accepted by the management API and stored.
Hypothesis then throws undecodable bytes at the headers and bodies: never a 500, and every
error in the route's shape.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.hardening.door_support import (CHAT, HELLO, Answer, assert_flat_error,
                                          assert_nested_error, assert_openai_error, raw_http,
                                          request_bytes)

LONE = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a\\ud800b"}]}'
ROUTES = {  # route → (a body with a lone surrogate, the field it is in)
    CHAT: (LONE, "messages[0].content"),
    "/v1/completions": ('{"model": "gpt-3.5-turbo-instruct", "prompt": ["ok", "\\udfff"]}',
                        "prompt[1]"),
    "/v1/responses": ('{"model": "gpt-4o-mini", "input": "x\\uDC00"}', "input"),
    "/v1/embeddings": ('{"model": "text-embedding-3-small", "input": "\\ud83d"}', "input"),
}


async def _raw(client, method, path, *, body=None, headers=()):
    return Answer.parse(await raw_http(client.host, client.port, request_bytes(
        method, path, body=body, headers=list(headers))))


def _key(client) -> tuple[bytes, bytes]:
    return b"Authorization", client.key["Authorization"].encode()


JSON_TYPE = (b"Content-Type", b"application/json")


@pytest.mark.parametrize("path", ROUTES)
async def test_a_lone_surrogate_escape_is_400_naming_the_field(make_gateway_client, path):
    client = await make_gateway_client()
    body, field = ROUTES[path]
    resp = await client.post(path, data=body.encode(), headers={
        **client.key, "Content-Type": "application/json"})
    assert resp.status == 400
    error = assert_openai_error(await resp.json(), code="invalid_json", param=field)
    assert "surrogate" in error["message"]


async def test_surrogates_encoded_as_utf8_bytes_are_not_utf8(make_gateway_client):
    client = await make_gateway_client()
    body = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\xed\xa0\x80"}]}'
    answer = await _raw(client, "POST", CHAT, body=body, headers=[_key(client), JSON_TYPE])
    assert answer.status == 400
    assert_openai_error(answer.json(), code="invalid_json")


async def test_a_surrogate_pair_is_an_ordinary_character(make_gateway_client):
    client = await make_gateway_client()
    body = LONE.replace("\\ud800", "\\ud83d\\ude00")  # 😀, as ensure_ascii JSON writes it
    resp = await client.post(CHAT, data=body.encode(), headers={
        **client.key, "Content-Type": "application/json"})
    assert resp.status == 200


async def test_lone_surrogates_answer_in_the_management_and_behest_shapes(make_gateway_client):
    client = await make_gateway_client()
    resp = await client.post("/v1/projects", data=b'{"name": "p\\ud800"}',
                             headers={**client.dash, "Content-Type": "application/json"})
    assert resp.status == 400
    assert_flat_error(await resp.json(), code="VALIDATION_ERROR")
    resp = await client.post("/v1/auth/mint", data=b'{"user_id": "u\\udc00"}',
                             headers={**client.key, "Content-Type": "application/json"})
    assert resp.status == 400
    assert_nested_error(await resp.json(), code="validation_error")


@pytest.mark.parametrize("header, value", [
    (b"X-Thread-Id", b"thread-\xff"), (b"x-behest-emulate", b"tps=\xff"),
    (b"x-behest-emulate", b"status=429; message=bad \xff byte"),
    (b"x-behest-emulate", b"error_after=1; message=\xc3\x28")])
async def test_undecodable_bytes_in_a_header_are_400_naming_it(make_gateway_client, header,
                                                               value):
    client = await make_gateway_client()
    answer = await _raw(client, "POST", CHAT, body=json.dumps(HELLO).encode(),
                        headers=[_key(client), JSON_TYPE, (header, value)])
    assert answer.status == 400
    assert_openai_error(answer.json(), param=header.decode())


async def test_a_utf8_emulate_message_still_works(make_gateway_client):
    client = await make_gateway_client()
    answer = await _raw(client, "POST", CHAT, body=json.dumps(HELLO).encode(), headers=[
        _key(client), JSON_TYPE, (b"x-behest-emulate", "status=503; message=Ошибка".encode())])
    assert answer.status == 503
    assert answer.json()["error"]["message"] == "Ошибка"


@pytest.mark.parametrize("name", ["a\u0000b", "line\nbreak", "esc\x1b[31m", "\u202eexe"])
async def test_a_project_name_with_a_control_character_is_refused(make_gateway_client, name):
    client = await make_gateway_client()
    resp = await client.post("/v1/projects", json={"name": name}, headers=client.dash)
    assert resp.status == 400
    assert "name" in assert_flat_error(await resp.json(), code="VALIDATION_ERROR")["error"]
    listed = await (await client.get("/v1/projects", headers=client.dash)).json()
    assert [p["name"] for p in listed["projects"]] == ["local", "prompted"]


def test_behest_toml_refuses_a_project_name_with_a_control_character(tmp_path):
    """The same rule as the API's, declared once in the schema (``shown``)."""
    from behest_local import config
    from behest_local.config import ConfigError

    path = tmp_path / "behest.toml"
    path.write_text('[[projects]]\nname = "a\\u0000b"\nid = "p"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert f"{path}:2: projects[0].name: control characters" in str(info.value)


async def test_an_ordinary_unicode_project_name_is_accepted(make_gateway_client):
    client = await make_gateway_client()
    resp = await client.post("/v1/projects", json={"name": "Café 漢字 😀"}, headers=client.dash)
    assert resp.status == 201


# -- fuzz: undecodable bytes anywhere a client can put them ------------------------------

HEADER_NAMES = st.sampled_from([b"X-Thread-Id", b"x-behest-emulate", b"X-Session-Id",
                                b"X-End-User-Id", b"X-Request-Id", b"OpenAI-Organization",
                                b"Idempotency-Key"])
# Header values: any bytes a header may carry (no CR, LF or NUL; aiohttp's parser refuses
# other controls itself), so obs-text and broken UTF-8 included.
HEADER_VALUES = st.binary(min_size=1, max_size=24).map(
    lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7f) or b"x")
STRINGS = st.text(max_size=8) | st.sampled_from(["\ud800", "\udfff", "a\udc80b", "\ud83d"])
BODY_JSON = st.fixed_dictionaries(
    {"model": st.sampled_from(["gpt-4o-mini", "gpt-3.5-turbo-instruct",
                               "text-embedding-3-small"]) | STRINGS,
     "messages": st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": STRINGS}),
                          min_size=1, max_size=2)},
    optional={"prompt": STRINGS, "input": STRINGS | st.lists(STRINGS, max_size=2),
              "user": STRINGS, "metadata": st.dictionaries(STRINGS, STRINGS, max_size=2)})
BODIES = BODY_JSON.map(lambda b: json.dumps(b).encode()) | st.binary(max_size=64)
PATHS = st.sampled_from([CHAT, "/v1/completions", "/v1/responses", "/v1/embeddings",
                         "/v1/projects", "/v1/auth/mint"])


@hsettings(max_examples=120, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=PATHS, body=BODIES, header=HEADER_NAMES, value=HEADER_VALUES,
       gzip_header=st.booleans())
async def test_fuzzed_headers_and_bodies_never_500_and_errors_keep_the_routes_shape(
        gateway_client, path, body, header, value, gzip_header):
    client = gateway_client  # one gateway for every example
    if not hasattr(client, "dash"):
        client.dash = f"Bearer {client.gateway.dashboard.create()}"
    auth = client.dash if path == "/v1/projects" else client.headers_auth["Authorization"]
    headers = [(b"Authorization", auth.encode()), JSON_TYPE, (header, value)]
    if gzip_header:
        headers.append((b"Content-Encoding", b"gzip"))
    answer = await _raw(client, "POST", path, body=body, headers=headers)
    assert answer.status < 500, (answer.status, answer.raw_body)
    if answer.status >= 400:
        shape = answer.json()
        if path == "/v1/projects":
            assert_flat_error(shape)
        elif path == "/v1/auth/mint":
            assert_nested_error(shape)
        else:
            assert_openai_error(shape)

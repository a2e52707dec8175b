"""Contract tests over every registered adapter: one surface, no leaked keys, no I/O."""

from __future__ import annotations

import pytest

from behest_local.errors import UpstreamError
from behest_local.providers.base import ChatCall
from behest_local.providers.registry import ADAPTERS, EmbedCall
from behest_local.secret import Secret

KEY = "sk-contract-test-secret-0001"
CALL = ChatCall({"model": "x", "messages": [{"role": "system", "content": "S"},
                                            {"role": "user", "content": "Hi"}]}, "some-model")


def test_registry_lists_every_provider_of_issue_5():
    assert set(ADAPTERS) == {"openai", "mistral", "openrouter", "custom", "anthropic", "gemini",
                             "cohere"}


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("stream", [False, True])
def test_chat_request_has_url_headers_body_and_hides_the_key(name, stream):
    adapter = ADAPTERS[name]
    call = ChatCall({**CALL.request, "stream": stream}, CALL.model)
    up = adapter.request("chat", call, Secret(KEY), base_url="http://127.0.0.1:1")
    assert up.method == "POST" and up.url.startswith("http://127.0.0.1:1/")
    assert any(KEY in v for v in up.headers.values())
    assert KEY not in repr(up) and KEY not in str(up)
    assert isinstance(up.json, dict) and "Hi" in str(up.json)
    assert ("text/event-stream" in up.headers["Accept"]) == stream
    assert CALL.request == {"model": "x", "messages": [{"role": "system", "content": "S"},
                                                       {"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize("name", ADAPTERS)
def test_models_and_embeddings_operations(name):
    adapter = ADAPTERS[name]
    assert adapter.request("models", None, KEY).method == "GET"
    embed = EmbedCall({"input": ["a"]}, "embedder")
    if "embed" in adapter.operations:
        assert adapter.request("embed", embed, KEY).method == "POST"
    else:
        with pytest.raises(ValueError):
            adapter.request("embed", embed, KEY)


@pytest.mark.parametrize("name", ADAPTERS)
def test_errors_keep_status_and_never_raise_on_garbage(name):
    for body in (b"", b"not json", b"[]", b"{}", b'{"error": "flat string"}', b"\xff\xfe"):
        error = ADAPTERS[name].error(418, body, {})
        assert isinstance(error, UpstreamError) and error.status == 418 and error.message


@pytest.mark.parametrize("name", ADAPTERS)
def test_an_empty_stream_is_a_truncation(name):
    translator = ADAPTERS[name].translator(CALL)
    with pytest.raises(UpstreamError) as caught:
        translator.finish()
    assert caught.value.code == "upstream_stream_truncated"


@pytest.mark.parametrize("name", ADAPTERS)
def test_translators_are_fresh_per_stream(name):
    adapter = ADAPTERS[name]
    assert adapter.translator(CALL) is not adapter.translator(CALL)


@pytest.mark.parametrize("name", ADAPTERS)
def test_an_echoed_key_is_redacted_from_error_messages(name):
    body = ('{"error": {"message": "Incorrect API key provided: %s", "code": 401}, '
            '"message": "invalid api token %s"}' % (KEY, KEY)).encode()
    error = ADAPTERS[name].error(401, body, {}, key=Secret(KEY))
    assert KEY not in error.message and KEY not in str(error) and KEY not in repr(error)

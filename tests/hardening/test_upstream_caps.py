"""Issue 17 item 2: what an upstream sends is capped, and the failure names the provider.

A non-streamed body over ``[providers.NAME] max_response_bytes`` is a 502; a stream line or
event over ``max_event_bytes`` is a 502 before the first event and an in-stream error event
(in the route's own shape) after it. Either way the message names the provider as
configured (a custom provider by its ``[providers.NAME]`` name, never "custom") and the
setting to raise, the upstream connection is closed, and the exchange is recorded as
failed. The upstreams are ``upstream_support.RawUpstream`` behaviours that stop by
themselves after 64 MiB, far past every cap here, so a gateway without caps fails these
tests by their timeout instead of exhausting memory. What an upstream has sent when the
gateway closes includes what the kernel's socket buffers hold (several MiB on loopback),
so "stopped early" is checked as under half of that.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from behest_local.config import ConfigError, loads
from behest_local.config.schema import ProviderConfig
from behest_local.exchange.events import ExchangeFailed
from behest_local.sse import decode_all
from tests.conftest import Recorder
from tests.hardening.upstream_support import (PROVIDER, RawUpstream, chat, endless_body,
                                              endless_event, endless_line, endless_line_first,
                                              gateway_settings, gzipped_body, sized_body,
                                              truncated_stream)

MiB = 1024 * 1024
LIMIT = 64 * MiB
TIMEOUT = 30  # seconds; generous for a busy 2-core machine, never reached when capped


async def _gateway(make_gateway_client, upstream: RawUpstream, **provider):
    client = await make_gateway_client(gateway_settings(upstream, **provider))
    client.recorder = Recorder()
    client.gateway.store.subscribe(client.recorder)
    return client


def _failure(client) -> ExchangeFailed:
    failed = [e for e in client.recorder.events if isinstance(e, ExchangeFailed)]
    assert failed, "the exchange was not recorded as failed"
    return failed[-1]


async def _post(client, path: str, body: dict):
    response = await asyncio.wait_for(client.post(path, json=body, headers=client.key), TIMEOUT)
    return response, await asyncio.wait_for(response.read(), TIMEOUT)


def test_the_caps_default_to_64_mib_a_body_and_1_mib_an_event():
    config = ProviderConfig()
    assert (config.max_response_bytes, config.max_event_bytes) == (64 * MiB, MiB)


def test_a_bad_cap_is_a_config_error_at_its_file_and_line():
    with pytest.raises(ConfigError) as raised:
        loads('[providers.ollama]\nbase_url = "http://127.0.0.1:11434/v1"\n'
              'max_event_bytes = 10\nmax_response_bytes = "64MiB"\n', "behest.toml")
    assert str(raised.value).splitlines() == [
        "behest.toml:3: providers.ollama.max_event_bytes: expected an integer from 1024 to "
        "268435456, got the number 10",
        "behest.toml:4: providers.ollama.max_response_bytes: expected an integer from 1024 to "
        "4294967296, got the string '64MiB'"]


@pytest.mark.parametrize("behaviour", [sized_body(2 * MiB), endless_body],
                         ids=["announced", "endless"])
async def test_a_reply_body_over_the_cap_is_a_502_naming_the_provider(make_gateway_client,
                                                                      behaviour):
    async with RawUpstream(behaviour, limit=LIMIT) as up:
        client = await _gateway(make_gateway_client, up, max_response_bytes=MiB)
        response, raw = await _post(client, "/v1/chat/completions", chat(stream=False))
        assert response.status == 502
        error = json.loads(raw)["error"]
        assert error["code"] == "upstream_response_too_large"
        assert error["type"] == "server_error"
        assert f"{PROVIDER} sent a response larger than 1 MiB" in error["message"]
        assert f"providers.{PROVIDER}.max_response_bytes" in error["message"]
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)
        assert up.sent < LIMIT // 2  # refused once over the cap, not read to the end
        assert (_failure(client).status, _failure(client).code) == (
            502, "upstream_response_too_large")


async def test_a_compressed_body_is_capped_at_its_inflated_size(make_gateway_client):
    async with RawUpstream(gzipped_body(4 * MiB)) as up:
        client = await _gateway(make_gateway_client, up, max_response_bytes=MiB)
        response, raw = await _post(client, "/v1/chat/completions", chat(stream=False))
        assert response.status == 502
        assert json.loads(raw)["error"]["code"] == "upstream_response_too_large"


async def test_a_decompression_bomb_is_a_502_not_a_memory_spike(make_gateway_client):
    # 64 MiB of text in ~64 KiB of gzip: one read would inflate 1000 to 1.
    async with RawUpstream(gzipped_body(64 * MiB)) as up:
        client = await _gateway(make_gateway_client, up, max_response_bytes=128 * MiB)
        response, raw = await _post(client, "/v1/chat/completions", chat(stream=False))
        assert response.status == 502
        error = json.loads(raw)["error"]
        assert error["code"] == "upstream_bad_response"
        assert f"The {PROVIDER} response was cut off" in error["message"]
        assert "inflates past 16777216 bytes from one read" in error["message"]


@pytest.mark.parametrize(("behaviour", "kind"), [(endless_line, "line"),
                                                  (endless_event, "event")], ids=["line", "event"])
async def test_an_endless_stream_event_ends_with_an_error_event_naming_the_provider(
        make_gateway_client, behaviour, kind):
    async with RawUpstream(behaviour, limit=LIMIT) as up:
        client = await _gateway(make_gateway_client, up)  # the default cap: 1 MiB
        response, raw = await _post(client, "/v1/chat/completions", chat(stream=True))
        assert response.status == 200
        events = [json.loads(e.data) for e in decode_all(raw)]
        assert events[0]["choices"][0]["delta"]["content"] == "hi"
        error = events[-1]["error"]
        assert error["code"] == "upstream_event_too_large"
        assert f"{PROVIDER} sent a stream {kind} larger than 1 MiB" in error["message"]
        assert f"providers.{PROVIDER}.max_event_bytes" in error["message"]
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)
        assert up.sent < LIMIT // 2
        failure = _failure(client)
        assert (failure.status, failure.code, failure.details) == (
            502, "upstream_event_too_large", {"mid_stream": True})


async def test_an_endless_first_line_is_a_502_before_the_stream_starts(make_gateway_client):
    async with RawUpstream(endless_line_first, limit=LIMIT) as up:
        client = await _gateway(make_gateway_client, up, max_event_bytes=256 * 1024)
        response, raw = await _post(client, "/v1/chat/completions", chat(stream=True))
        assert response.status == 502
        error = json.loads(raw)["error"]
        assert error["code"] == "upstream_event_too_large"
        assert f"{PROVIDER} sent a stream line larger than 256 KiB" in error["message"]
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)


async def test_an_event_over_the_cap_ends_a_responses_stream_in_its_own_shape(
        make_gateway_client):
    async with RawUpstream(endless_line, limit=LIMIT) as up:
        client = await _gateway(make_gateway_client, up)
        response, raw = await _post(client, "/v1/responses",
                                    {"model": "llama3.2", "input": "Hi", "stream": True})
        assert response.status == 200
        *_, error, failed = decode_all(raw)
        assert (error.event, failed.event) == ("error", "response.failed")
        assert json.loads(error.data)["code"] == "upstream_event_too_large"
        assert json.loads(failed.data)["response"]["error"]["message"].startswith(
            f"{PROVIDER} sent a stream line larger than 1 MiB")
        await asyncio.wait_for(up.closed.wait(), TIMEOUT)


async def test_a_custom_provider_is_named_as_configured_in_stream_errors(make_gateway_client):
    async with RawUpstream(truncated_stream) as up:
        client = await _gateway(make_gateway_client, up)
        _response, raw = await _post(client, "/v1/chat/completions", chat(stream=True))
        error = json.loads(decode_all(raw)[-1].data)["error"]
        assert error["message"] == f"{PROVIDER} closed the stream before it finished"

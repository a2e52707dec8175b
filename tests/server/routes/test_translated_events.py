"""The exchange events of ``/v1/completions`` and ``/v1/responses``, served through chat: one
request is one exchange, routed once and sent upstream once, however many chat calls
(one per prompt) serve it. Seen as a ``TraceStore`` subscriber sees them."""

from __future__ import annotations

import pytest

from behest_local.exchange import events as ev
from tests.conftest import Recorder

TWO_PROMPTS = {"model": "gpt-4o-mini", "prompt": ["Say hi", "Say bye"], "max_tokens": 5}


async def events_of(client, path: str, body: dict) -> list:
    recorder = Recorder()
    client.gateway.store.subscribe(recorder)
    resp = await client.post(path, json=body, headers=client.key)
    assert resp.status == 200, await resp.text()
    await resp.read()
    return recorder.wait_end(resp.headers["X-Request-Id"])


@pytest.mark.parametrize("stream", [False, True])
async def test_a_completion_of_several_prompts_is_routed_and_sent_upstream_once(
        make_gateway_client, stream):
    client = await make_gateway_client()
    seen = await events_of(client, "/v1/completions", {**TWO_PROMPTS, "stream": stream})
    kinds = [type(e) for e in seen if isinstance(e, (ev.Routed, ev.UpstreamStarted))]
    assert kinds == [ev.Routed, ev.UpstreamStarted]
    assert isinstance(seen[-1], ev.ExchangeFinished)
    [routed] = [e for e in seen if isinstance(e, ev.Routed)]
    assert (routed.model, routed.stream) == ("gpt-4o-mini", stream)


async def test_both_prompts_of_a_routed_completion_are_answered(make_gateway_client):
    client = await make_gateway_client()
    resp = await client.post("/v1/completions", json=TWO_PROMPTS, headers=client.key)
    body = await resp.json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert all(c["text"] for c in body["choices"]) and body["model"] == "gpt-4o-mini"

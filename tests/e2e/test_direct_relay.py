"""Stream events relayed from the upstream's read callback (``streaming.EventWriter``).

An OpenAI-compatible upstream's plain text deltas go to the client without waking the
relay's task; everything else (the first chunks, finishes, usage, errors, events split
across reads or sharing one) takes the task's way. Whichever way each event goes, the
client must get every event once, in order, framed as one HTTP chunk each, and the
exchange must account for all of them. A scripted upstream decides exactly how the
events are cut into writes.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from types import MappingProxyType

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from behest_local.config import ProviderConfig
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished
from behest_local.server import streaming
from tests.conftest import TEST_SETTINGS, Recorder

HEAD = '{"id":"chatcmpl-d","object":"chat.completion.chunk","created":5,"model":"relay-m",'


def event(content: str | None = None, *, role: bool = False, finish: str | None = None,
          usage: bool = False) -> bytes:
    if usage:
        body = HEAD + '"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}'
    else:
        delta = {"role": "assistant"} if role else {}
        if content is not None:
            delta["content"] = content
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        body = HEAD + '"choices":[' + json.dumps(choice, separators=(",", ":")) + "]}"
    return b"data: " + body.encode() + b"\n\n"


def script(contents: list[str]) -> list[bytes]:
    """A whole stream: role, the contents, a finish, usage, [DONE]."""
    return [event("", role=True), *(event(c) for c in contents), event(finish="stop"),
            event(usage=True), b"data: [DONE]\n\n"]


class Upstream:
    """Writes each group of events as one HTTP chunk, ``gap`` seconds apart."""

    def __init__(self) -> None:
        self.groups: list[bytes] = []
        self.gap = 0.002
        self.cut_off = asyncio.Event()
        """Set when the gateway closed the connection before the stream's end."""

    async def chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        ended = False
        try:
            for group in self.groups:
                await response.write(group)
                await asyncio.sleep(self.gap)
            await response.write_eof()
            ended = True
        except ConnectionError:
            pass
        finally:  # a write that failed, or aiohttp cancelling the handler
            if not ended:
                self.cut_off.set()
        return response


@pytest.fixture
async def relay_gateway(aiohttp_server, make_gateway_client):
    upstream = Upstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream.chat)
    server = await aiohttp_server(app)
    config = ProviderConfig(base_url=str(server.make_url("/v1")), prefixes=("relay-",))
    gateway = await make_gateway_client(replace(
        TEST_SETTINGS, providers=MappingProxyType({"scripted-upstream": config})))
    recorder = Recorder()
    gateway.gateway.store.subscribe(recorder)
    return gateway, upstream, recorder


@pytest.fixture
def direct_counts(monkeypatch):
    """How many chunks ``EventWriter`` took as the provider's sink (True), and how often it
    was not ready when a read arrived (False)."""
    counts = {True: 0, False: 0}
    send, ready = streaming.EventWriter.__call__, streaming.EventWriter.ready

    def counting_send(self, chunk):
        counts[True] += 1
        send(self, chunk)

    def counting_ready(self):
        answer = ready(self)
        counts[False] += not answer
        return answer

    monkeypatch.setattr(streaming.EventWriter, "__call__", counting_send)
    monkeypatch.setattr(streaming.EventWriter, "ready", counting_ready)
    return counts


async def stream(client, *, include_usage: bool = False
                 ) -> tuple[list[bytes], str, int, str]:
    """A streamed chat: its HTTP chunks (each must be one event), text, status, request id."""
    body = {"model": "relay-m", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    resp = await client.post("/v1/chat/completions", headers=client.key, json=body)
    chunks = []
    buffer = b""
    async for data, end_of_chunk in resp.content.iter_chunks():
        buffer += data
        if end_of_chunk:
            chunks.append(buffer)
            buffer = b""
    text = ""
    for chunk in chunks:
        assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n") and \
            chunk.count(b"\n\n") == 1, chunk  # one event per HTTP chunk: never merged
        data = chunk[6:-2]
        if data != b"[DONE]":
            text += "".join(c["delta"].get("content") or ""
                            for c in json.loads(data).get("choices", ()))
    return chunks, text, resp.status, resp.headers["X-Request-Id"]


async def test_plain_deltas_go_directly_and_arrive_in_order(relay_gateway, direct_counts):
    client, upstream, recorder = relay_gateway
    contents = [f"word{i} " for i in range(40)]
    upstream.groups = script(contents)
    chunks, text, status, request_id = await stream(client, include_usage=True)
    assert status == 200 and text == "".join(contents)
    assert chunks[-1] == b"data: [DONE]\n\n"
    assert b'"usage":{"prompt_tokens":3' in chunks[-2]
    # The first plain delta teaches the template; the other 39 can go directly.
    assert direct_counts[True] >= 30, direct_counts
    events = await asyncio.to_thread(recorder.wait_end, request_id)
    finished = [e for e in events if isinstance(e, ExchangeFinished)]
    assert finished and finished[0].status == 200
    assert finished[0].chunks == len(chunks)  # the direct ones are counted too
    assert finished[0].completion_tokens == 4  # the upstream's usage
    # The inspector's capture holds every event as the client got it, the direct ones too.
    capture = client.gateway.store.find(request_id).capture
    assert capture is not None and capture.raw_frames() == chunks


async def test_a_slow_client_makes_the_direct_path_decline(relay_gateway, direct_counts,
                                                           monkeypatch):
    client, upstream, _recorder = relay_gateway
    monkeypatch.setattr(streaming, "DIRECT_LIMIT", -1)  # every client counts as behind
    contents = [f"w{i}" for i in range(20)]
    upstream.groups = script(contents)
    _chunks, text, status, _id = await stream(client)
    assert status == 200 and text == "".join(contents)
    assert direct_counts[True] == 0 and direct_counts[False] >= 15


async def test_a_client_leaving_mid_stream_stops_the_upstream(relay_gateway, direct_counts):
    client, upstream, recorder = relay_gateway
    upstream.groups = script([f"x{i} " for i in range(2000)])  # ~4 s at 2 ms apart
    body = {"model": "relay-m", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    resp = await client.post("/v1/chat/completions", headers=client.key, json=body)
    seen = 0
    async for _data, end_of_chunk in resp.content.iter_chunks():
        seen += end_of_chunk
        if seen == 20:
            break
    resp.close()  # gone while the events go directly
    await asyncio.wait_for(upstream.cut_off.wait(), timeout=3)
    assert direct_counts[True] >= 10
    events = await asyncio.to_thread(recorder.wait_end, resp.headers["X-Request-Id"])
    assert any(isinstance(e, ExchangeFailed) and e.status == 499 for e in events)


@pytest.mark.parametrize("bad", [
    b'data: {"error":{"message":"the model fell over","type":"server_error"}}\n\n',
    b'data: {"id":"chatcmpl-d","choices":[{"index":0,"delta":{"content":"cut\n\n',
])
async def test_a_failure_met_in_the_read_callback_ends_the_stream_properly(
        relay_gateway, direct_counts, bad):
    """An in-band error or a malformed event arriving while events go directly: the
    relay's task is woken and ends the stream with an error event and a clean close."""
    client, upstream, recorder = relay_gateway
    contents = [f"ok{i} " for i in range(8)]
    whole = script(contents + ["never sent"])
    upstream.groups = whole[:-4] + [bad] + whole[-4:]  # the rest after it: not relayed
    chunks, text, status, request_id = await stream(client)
    assert status == 200 and text == "".join(contents)
    assert direct_counts[True] >= 5
    error = json.loads(chunks[-1][6:-2])["error"]
    assert error["message"] and error["type"]
    events = await asyncio.to_thread(recorder.wait_end, request_id)
    failed = [e for e in events if isinstance(e, ExchangeFailed)]
    assert failed and failed[0].details.get("mid_stream") is True


async def test_a_thread_turn_takes_every_event_through_the_task(relay_gateway, direct_counts):
    client, upstream, _recorder = relay_gateway
    contents = [f"t{i} " for i in range(10)]
    upstream.groups = script(contents)
    body = {"model": "relay-m", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    resp = await client.post("/v1/chat/completions", json=body,
                             headers={**client.key, "X-Thread-Id": "thread-direct-1"})
    assert resp.status == 200
    raw = await resp.read()
    assert b"[DONE]" in raw
    assert direct_counts[True] == 0 and direct_counts[False] == 0  # no sink was offered


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contents=st.lists(st.text(max_size=6), min_size=1, max_size=30),
       seed=st.integers(0, 2**32 - 1), include_usage=st.booleans())
async def test_any_cut_of_the_stream_arrives_whole_and_in_order(relay_gateway, contents, seed,
                                                                include_usage):
    """Events merged into one write, split across two, or one per write (the direct
    path's case), in any mix: the client gets each event once, in order."""
    client, upstream, _recorder = relay_gateway
    rng = random.Random(seed)
    wire = b"".join(script(contents))
    events = script(contents)
    groups, i = [], 0
    while i < len(events):
        shape = rng.random()
        if shape < 0.5:  # one whole event per write
            groups.append(events[i])
            i += 1
        elif shape < 0.75:  # two events in one write
            groups.append(b"".join(events[i:i + 2]))
            i += 2
        else:  # an event cut in two writes
            cut = rng.randrange(1, len(events[i]))
            groups += [events[i][:cut], events[i][cut:]]
            i += 1
    assert b"".join(groups) == wire
    upstream.groups = groups
    upstream.gap = 0.001
    chunks, text, status, _id = await stream(client, include_usage=include_usage)
    assert status == 200 and text == "".join(contents)
    assert chunks[-1] == b"data: [DONE]\n\n"

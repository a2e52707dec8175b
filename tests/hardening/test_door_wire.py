"""Issue 17, items 5 and 6: what aiohttp's parser refuses never quotes a key, answers
OpenAI's error JSON, and logs one line without the request.

Over a raw socket against the gateway as ``behest-local serve`` binds it. Before the fix,
a stray byte after the key in ``Authorization``, or a header line over 8190 bytes,
answered a plain-text ``HTTP/1.0 400`` quoting the line, key included, and aiohttp
logged "Error handling request" with a traceback quoting it again; a gzip body that did
not decode was a 500 with two tracebacks; a client that hung up mid-body, a logged 500
with a traceback.
"""

from __future__ import annotations

import asyncio
import gzip
import logging

import pytest

from behest_local.exchange.events import RequestReceived
from tests.conftest import poll_until
from tests.trace_support import EventWaiter
from tests.hardening.door_support import (CANARY, CHAT, Answer, assert_openai_error, raw_http,
                                          request_bytes, serve)

AUTH = b"Authorization: Bearer " + CANARY.encode()
HEADS = {
    "control byte after the key": b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH +
                                  b"\x01\r\n\r\n",
    "key in an oversized header": b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH +
                                  b"a" * 9000 + b"\r\n\r\n",
    "control byte in another header": b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH +
                                      b"\r\nX-Bad: a\x01b\r\n\r\n",
    "malformed request line": b"GARBAGE " + CANARY.encode() + b"\r\n\r\n",
    "bad chunk size": b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH +
                      b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "oversized URL": b"GET /v1/" + b"m" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH +
                     b"\r\n\r\n",
}


def no_canary_and_no_traceback(caplog) -> None:
    for record in caplog.records:
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info)
                                      if record.exc_info else "")
        assert CANARY not in text and CANARY[8:30] not in text, text
        assert record.exc_info is None, text
        assert "Traceback" not in text


@pytest.mark.parametrize("case", HEADS)
async def test_an_unparsable_request_answers_openai_json_and_never_quotes_it(
        tmp_path, caplog, case):
    caplog.set_level(logging.DEBUG)
    async with serve(tmp_path / "home") as running:
        raw = await raw_http(running.host, running.port, HEADS[case])
    assert CANARY.encode() not in raw and CANARY[8:30].encode() not in raw
    answer = Answer.parse(raw)
    assert (answer.version, answer.status) == ("HTTP/1.1", 400)
    assert answer.headers["connection"] == "close"
    error = assert_openai_error(answer.json(), code="malformed_request")
    assert error["message"].startswith("Malformed HTTP request: ")
    no_canary_and_no_traceback(caplog)
    assert any("unparsable request" in r.getMessage() for r in caplog.records)


async def test_the_gateway_keeps_serving_after_unparsable_requests(tmp_path):
    async with serve(tmp_path / "home") as running:
        for data in HEADS.values():
            await raw_http(running.host, running.port, data)
        answer = Answer.parse(await raw_http(running.host, running.port,
                                             request_bytes("GET", "/healthz")))
    assert answer.status == 200


async def test_a_body_that_does_not_decode_is_400_and_logs_no_traceback(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with serve(tmp_path / "home") as running:
        key, _ = running.gateway.keys.create("local")
        auth = (b"Authorization", b"Bearer " + key.encode())
        for body in (b"not gzip at all", gzip.compress(b'{"model": "x"}')[:-9] + b"\x00" * 9):
            raw = await raw_http(running.host, running.port, request_bytes(
                "POST", CHAT, body=body, headers=[auth, (b"Content-Type", b"application/json"),
                                                  (b"Content-Encoding", b"gzip")]))
            answer = Answer.parse(raw)
            assert answer.status == 400, raw
            assert_openai_error(answer.json(), code="invalid_body")
        # The management API answers the same fault in its own flat shape.
        dash = running.gateway.dashboard.create()
        raw = await raw_http(running.host, running.port, request_bytes(
            "POST", "/v1/projects", body=b"garbage", headers=[
                (b"Authorization", b"Bearer " + dash.encode()),
                (b"Content-Type", b"application/json"), (b"Content-Encoding", b"gzip")]))
        answer = Answer.parse(raw)
        assert answer.status == 400 and answer.json()["code"] == "VALIDATION_ERROR"
    no_canary_and_no_traceback(caplog)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _start_chat(running, key: str, framing_and_body: bytes):
    """A raw connection that has sent a chat request's head, its framing and the start of
    its body; the rest is up to the test."""
    reader, writer = await asyncio.open_connection(running.host, running.port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                 b"Bearer " + key.encode() + b"\r\nContent-Type: application/json\r\n"
                 + framing_and_body)
    await writer.drain()
    return reader, writer


async def test_chunking_that_breaks_after_the_head_arrived_answers_in_the_routes_shape(
        tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with serve(tmp_path / "home") as running:
        key, _ = running.gateway.keys.create("local")
        reader, writer = await _start_chat(running, key, b"Transfer-Encoding: chunked\r\n\r\n"
                                                         b"5\r\n{\"mod\r\n")
        # The head is parsed and the handler waits on the body: wait until it is running.
        exchange = await _first_exchange(running)
        writer.write(b"zz\r\nabc\r\n0\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    answer = Answer.parse(raw)
    assert answer.status == 400
    assert_openai_error(answer.json(), code="invalid_body")
    assert exchange.status == 400
    no_canary_and_no_traceback(caplog)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_client_that_hangs_up_mid_body_is_a_cancellation_not_a_500(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with serve(tmp_path / "home") as running:
        key, _ = running.gateway.keys.create("local")
        reader, writer = await _start_chat(running, key, b"Content-Length: 1000\r\n\r\n"
                                                         b"{\"model\":")
        exchange = await _first_exchange(running)
        writer.close()
        await _ended(exchange)
    assert exchange.status == 499 and exchange.error == "client disconnected"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]


async def _first_exchange(running, timeout: float = 5):
    """The first exchange the gateway receives (its ``RequestReceived`` event)."""
    waiter = EventWaiter()
    running.gateway.store.subscribe(waiter)
    event = await waiter.wait(lambda e, x: isinstance(e, RequestReceived), timeout)
    return running.gateway.store.find(event.exchange_id)


async def _ended(exchange, timeout: float = 5) -> None:
    await poll_until(lambda: exchange.ended is not None, timeout)

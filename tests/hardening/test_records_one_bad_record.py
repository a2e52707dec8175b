"""Issue 17 item 3: one bad record never takes others with it.

A request with a ``\\xff`` byte in ``X-End-User-Id`` once made the usage writer drop its
whole batch (40 other requests' usage): the header is now refused at the door (400 naming
it), and both writers (usage, traces) fall back to writing record by record, so a record
that cannot be written is logged once, without its values, and the rest are kept."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from behest_local.finops.store import UsageStore
from behest_local.observe.trace_db import DB_FILE, TraceDB
from tests.finops.usage_support import record
from tests.hardening.records_support import CHAT, Serve, api_key, chat, usage_rows
from tests.trace_support import fake_exchange, make_store

CANARY = "user-CANARYc4n4ry-4b1d"


def test_a_record_sqlite_refuses_costs_only_itself(tmp_path, caplog):
    """A lone surrogate (what aiohttp makes of a ``\\xff`` header byte) cannot be encoded
    for SQLite: that one record is kept with U+FFFD in its place, the batch is written."""
    store = UsageStore(tmp_path / "usage.sqlite3", linger=3600)
    try:
        for n in range(40):
            store.add(record(n))
        store.add(record(40, user_id="a\udcffb" + CANARY, session_id="s\udcff"))
        store.add(record(41))
        with caplog.at_level(logging.WARNING, logger="behest_local.finops"):
            store.flush()
        rows = store.submit(lambda conn: conn.execute(
            "SELECT exchange_id, user_id, session_id FROM usage ORDER BY at").fetchall()).result()
    finally:
        store.close()
    assert len(rows) == 42 and store.written == 42
    assert rows[40] == ("req_40", "a\ufffdb" + CANARY, "s\ufffd")
    [line] = [r.getMessage() for r in caplog.records]
    assert "req_40" in line and CANARY not in line


def test_a_record_that_cannot_be_stored_at_all_is_logged_once_and_skipped(tmp_path, caplog):
    store = UsageStore(tmp_path / "usage.sqlite3", linger=3600)
    try:
        for n in range(10):
            store.add(record(n))
        # An upstream's absurd token count: no SQLite INTEGER holds it.
        store.add(record(10, prompt_tokens=2**64, user_id=CANARY))
        for n in range(11, 20):
            store.add(record(n))
        with caplog.at_level(logging.WARNING, logger="behest_local.finops"):
            store.flush()
        count = store.submit(lambda conn: conn.execute(
            "SELECT count(*) FROM usage").fetchone()[0]).result()
    finally:
        store.close()
    assert count == 19 and store.written == 19 and store.dropped == 1
    [line] = [r.getMessage() for r in caplog.records]
    assert "req_10" in line and CANARY not in line and "Traceback" not in caplog.text


def test_a_trace_record_sqlite_refuses_costs_only_itself(tmp_path):
    store, clock = make_store()
    database = TraceDB(tmp_path / DB_FILE, interval=3600, max_age=1e12)
    database.start()
    store.subscribe(database.subscriber)
    try:
        fake_exchange(store, clock, 1)
        fake_exchange(store, clock, 2, model="gpt-\udcff")  # a column SQLite cannot encode
        fake_exchange(store, clock, 3)
        assert database.flush()
        records = list(database.records())
    finally:
        database.close()
    assert [r["id"][-1] for r in records] == ["1", "2", "3"]
    assert database.error is None


@pytest.mark.parametrize("header", ["X-End-User-Id", "X-Session-Id"])
@pytest.mark.parametrize("value", [b"a\xffb", b"a\tb"], ids=["not-utf8", "tab"])
def test_an_identifier_header_that_is_not_text_is_refused_naming_it(live, header, value):
    """(aiohttp's parser refuses most control characters itself, before any route: a tab
    is what reaches the gateway.)"""
    body = json.dumps(chat()).encode()
    host, port = live.url[7:].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: {live.url[7:]}\r\nAuthorization: Bearer "
                     f"{live.key}\r\nContent-Type: application/json\r\nContent-Length: "
                     f"{len(body)}\r\nConnection: close\r\n".encode()
                     + header.encode() + b": " + value + b"\r\n\r\n" + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), reply
    error = json.loads(payload)["error"]
    assert header in error["message"] and error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}


async def test_identifier_headers_of_printable_text_are_taken_as_they_are(gateway_client):
    headers = {**gateway_client.headers_auth, "X-End-User-Id": "josé o'brien 42",
               "X-Session-Id": "conv 7/α"}
    resp = await gateway_client.post(CHAT, json=chat(), headers=headers)
    assert resp.status == 200, await resp.text()
    exchange = gateway_client.gateway.store.find(resp.headers["X-Request-Id"])
    assert (exchange.user, exchange.session) == ("josé o'brien 42", "conv 7/α")


async def test_a_bad_identifier_on_a_behest_route_is_refused_in_behest_shape(gateway_client):
    resp = await gateway_client.get("/v1/threads", headers={
        **gateway_client.headers_auth, "X-End-User-Id": "a\tb"})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "validation_error" and "X-End-User-Id" in error["message"]


def test_forty_requests_keep_their_usage_beside_one_with_a_bad_user_id(tmp_path):
    """The reported case, end to end: 40 requests, one with ``\\xff`` in its user id, a
    clean shutdown: 40 usage rows (the bad one was refused, so it has none)."""
    home = tmp_path / "home"
    key = api_key(home)
    server = Serve(home)
    try:
        for n in range(40):
            assert server.post(CHAT, chat(f"hi {n}"), key, {"X-End-User-Id": f"user{n}"})[0] \
                == 200
        status, body = server.raw_post(CHAT, chat(), key, b"X-End-User-Id: a\xffb")
    finally:
        assert server.stop() == 0
    assert status == 400 and b"X-End-User-Id" in body
    assert usage_rows(home) == 40
    assert "Traceback" not in server.output

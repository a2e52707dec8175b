"""The trace writer (behest_local/observe/trace_writer.py): an exchange encoded at its end.

The records the writer thread builds from an encoded exchange must be the ones
``build_record`` builds from the live exchange; nothing unredacted reaches the database.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from behest_local.exchange.capture import CARRIED
from behest_local.observe.record import build_record
from behest_local.observe.trace_db import DB_FILE, TraceDB
from behest_local.observe.trace_writer import decode, encode, snapshot
from tests.trace_support import CANARY, CANARY_MARK, fake_exchange, make_store


def _roundtrip(exchange):
    """``exchange`` as the writer thread sees it: encoded at its end, decoded."""
    return decode(encode(exchange))


@pytest.mark.parametrize("stream", [False, True])
def test_a_restored_exchange_builds_the_same_record(stream):
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, stream=stream, pieces=["Hel", "lo ", CANARY],
                             body={"messages": [{"role": "user", "content": CANARY}]},
                             headers=[("Authorization", f"Bearer {CANARY}"),
                                      ("Content-Type", "application/json")])
    here = build_record(exchange, message=False)
    there = build_record(_roundtrip(exchange), message=False)
    assert there == here
    assert CANARY_MARK not in json.dumps(there)


def test_headers_already_read_in_the_gateway_cross_redacted():
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 2, headers=[("Authorization", f"Bearer {CANARY}")])
    shown = exchange.capture.request_headers  # the TUI read them: redacted in place
    restored = _roundtrip(exchange)
    assert restored.capture.request_headers == shown
    carried = dict(zip(CARRIED, snapshot(exchange)[1]))
    assert carried["_raw_request_headers"] is None
    assert CANARY_MARK not in repr(carried["_request_headers"])


@settings(max_examples=40, deadline=None)
@given(pieces=st.lists(st.text(min_size=0, max_size=12), max_size=6),
       stream=st.booleans(), status=st.sampled_from([200, 400, 502]))
def test_any_exchange_survives_encoding(pieces, stream, status):
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 3, stream=stream, pieces=pieces, status=status,
                             error=None if status == 200 else "upstream said no")
    assert build_record(_roundtrip(exchange)) == build_record(exchange)


@pytest.fixture
def database(tmp_path):
    store, clock = make_store()
    db = TraceDB(tmp_path / DB_FILE, interval=0.02, max_age=1e12)
    db.start()
    store.subscribe(db.subscriber)
    yield db, store, clock
    db.close()


def test_records_are_stored_redacted(database):
    db, store, clock = database
    fake_exchange(store, clock, 1, body={"messages": [{"role": "user", "content": CANARY}]},
                  headers=[("Authorization", f"Bearer {CANARY}")])
    assert db.flush()
    [record] = list(db.records())
    assert record["id"] == "req_" + "0" * 23 + "1"
    assert CANARY_MARK.encode() not in db.path.read_bytes()


def test_close_writes_what_is_queued_and_stops_the_writer(tmp_path):
    store, clock = make_store()
    db = TraceDB(tmp_path / DB_FILE, interval=60, max_age=1e12)  # only close ends the round
    db.start()
    store.subscribe(db.subscriber)
    fake_exchange(store, clock, 1)
    db.close()
    assert not db._thread.is_alive()
    assert [r["status"] for r in db.records()] == [200]


def test_aiohttp_header_names_survive_encoding():
    """aiohttp's header names are ``multidict.istr``, which marshal refuses as such."""
    from multidict import CIMultiDict, istr

    store, clock = make_store()
    exchange = fake_exchange(store, clock, 4)
    received = CIMultiDict({istr("Content-Type"): "application/json",
                            istr("Authorization"): f"Bearer {CANARY}"})
    exchange.capture.record_headers(received.items(), ((istr("X-Request-Id"), exchange.id),))
    record = build_record(_roundtrip(exchange))
    assert record["request"]["headers"][0] == ["Content-Type", "application/json"]
    assert CANARY_MARK not in json.dumps(record)


def test_plain_turns_subclasses_into_their_base_types():
    from enum import Enum

    from behest_local.observe.trace_writer import plain

    class Name(str):
        pass

    class Kind(Enum):
        A = 1

    value = plain(("x", Name("y"), [True, 2.5, bytearray(b"z")], {"k": Kind.A}, None))
    assert value == ("x", "y", [True, 2.5, b"z"], {"k": None}, None)
    assert type(value[1]) is str and type(value[2][0]) is bool


async def test_a_live_gateway_request_lands_in_the_trace_database(tmp_path):
    """Through the real server: aiohttp's request and response objects, not fakes."""
    import aiohttp

    from tests.conftest import TEST_SETTINGS
    from tests.trace_support import start_gateway

    running, key = await start_gateway(tmp_path / "home", TEST_SETTINGS)
    db = TraceDB(tmp_path / DB_FILE, interval=0.02, max_age=1e12)
    db.start()
    unsubscribe = running.gateway.store.subscribe(db.subscriber, events=TraceDB.EVENTS)
    try:
        async with aiohttp.ClientSession() as client:
            async with client.post(f"{running.url}/v1/chat/completions",
                                   headers={"Authorization": f"Bearer {key}"},
                                   json={"model": "gpt-4o-mini", "messages": [
                                       {"role": "user", "content": f"echo {CANARY}"}]}) as resp:
                assert resp.status == 200
                request_id = resp.headers["X-Request-Id"]
        assert db.flush()
        assert db.error is None
        record = db.get(request_id)
        assert record is not None and record["status"] == 200
        assert ["X-Request-Id", request_id] in record["response"]["headers"]
        assert key not in db.path.read_text(errors="replace")
        assert CANARY_MARK.encode() not in db.path.read_bytes()
    finally:
        unsubscribe()
        db.close()
        await running.close()


def test_an_exchange_is_encoded_at_its_end_unless_its_response_is_still_to_come(tmp_path):
    """The usual end (response recorded) is encoded on the loop, so the writer thread has
    no Python work; a refusal's response is prepared after its end, so it waits."""
    store, clock = make_store()
    db = TraceDB(tmp_path / DB_FILE, interval=60, max_age=1e12)  # not started: items stay
    store.subscribe(db.subscriber)
    fake_exchange(store, clock, 1)
    assert [item[0] for item in db._queue] == ["encoded"]
    assert build_record(decode(db._queue[0][1]))["id"] == "req_" + "0" * 23 + "1"
    refused = fake_exchange(store, clock, 2, status=None)
    refused.capture.responded = False
    refused.fail(401, code="invalid_api_key", message="refused")
    assert [item[0] for item in db._queue] == ["encoded", "exchange"]

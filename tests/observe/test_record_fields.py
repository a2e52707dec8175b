"""One declaration of an exchange's fields (``exchange.FIELDS``), carried everywhere.

Each declared field must survive the trace writer's pipe (``encode``/``decode``) with its
value and reach the record (``build_record``) under its name, and every slot of a capture
but the process-local ones must survive ``Capture.snapshot``/``restore``. The values are
set per field, from the declaration, so a field added to it is tested without being
named here.
"""

from __future__ import annotations

import json
import marshal

from behest_local.exchange.capture import CARRIED, LOCAL, Capture
from behest_local.exchange.exchange import FIELDS, Exchange, Field, Phase
from behest_local.observe.record import build_record
from behest_local.observe.trace_writer import decode, encode, snapshot
from tests.trace_support import fake_exchange, make_store

REFERENCES = {"capture", "settle", "pii", "_store", "_clock", "_last_untimed"}
"""The exchange's slots that are not fields: objects of this process, the time of its
last event past the timeline (for ``ChunkSent``'s pace only), and the PII values the
guardrails found (handed to the capture, never recorded)."""


def _other(value: object, i: int, name: str) -> object:
    """A value of ``value``'s kind that differs from it and from every other field's."""
    if isinstance(value, Phase):
        return Phase.FAILED if value is not Phase.FAILED else Phase.FINISHED
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000 + i
    if isinstance(value, float):
        return value + 0.5 + i
    if isinstance(value, list):
        return [*value, 1e6 + i]
    if isinstance(value, tuple):  # header pairs, known secrets: one more pair
        return (*value, (f"x-{name}", str(i)))
    if isinstance(value, bytes):
        return value + f"-{name}".encode()
    return f"{name}-{i}"  # a str, or a field not set yet


def _every_field_set() -> Exchange:
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, stream=True, pieces=["Hel", "lo"])
    for i, field in enumerate(FIELDS):
        if not field.derived:
            setattr(exchange, field.name, _other(getattr(exchange, field.name), i, field.name))
    return exchange


def _plain(field: Field, value: object) -> object:
    return value if field.plain is None else field.plain(value)


def test_the_exchanges_slots_are_its_declared_fields_and_its_references():
    stored = {f.name for f in FIELDS if not f.derived}
    assert set(Exchange.__slots__) == stored | REFERENCES
    for field in FIELDS:
        if field.derived:
            assert isinstance(getattr(Exchange, field.name), property), field.name


def test_every_declared_field_crosses_the_pipe_with_its_value():
    exchange = _every_field_set()
    restored = decode(encode(exchange))
    for field in FIELDS:
        assert getattr(restored, field.name) == getattr(exchange, field.name), field.name
    marshal.dumps(snapshot(exchange))  # plain values already: no fallback needed


def test_every_recorded_field_is_a_key_of_the_record_here_and_in_the_writer():
    exchange = _every_field_set()
    here = build_record(exchange, message=False)
    for field in FIELDS:
        if field.recorded:
            assert here[field.name] == _plain(field, getattr(exchange, field.name)), field.name
    assert build_record(decode(encode(exchange)), message=False) == here
    assert json.loads(json.dumps(here)) == here  # JSON as it is


def test_the_record_shows_the_unrecorded_fields_through_what_derives_from_them():
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, stream=True, pieces=["a", "b"])
    record = build_record(exchange)
    hidden = {f.name for f in FIELDS if not f.recorded}
    assert hidden == {"started", "ended", "chunk_times", "chunks_untimed"}
    assert not hidden & record.keys()
    assert record["ttft"] == exchange.ttft and record["duration"] == exchange.duration
    assert record["chunks"] == len(exchange.chunk_times) + exchange.chunks_untimed == 4


def test_every_capture_slot_but_the_local_ones_survives_snapshot_and_restore():
    assert set(CARRIED) | LOCAL == set(Capture.__slots__)
    clock = make_store()[1]
    capture = Capture(clock, request_headers=(("Content-Type", "application/json"),),
                      response_headers=(("X-Request-Id", "req_1"),), status=200,
                      request_body=b"{}", request_body_note="note", response_body=b"{}")
    capture.frame(b"data: {}\n\n")
    capture.set_known_secrets(("sk-proj-0123456789abcdef",))
    for i, name in enumerate(CARRIED):
        setattr(capture, name, _other(getattr(capture, name), i, name))
    restored = Capture.restore(marshal.loads(marshal.dumps(capture.snapshot())))
    for name in CARRIED:
        assert getattr(restored, name) == getattr(capture, name), name

"""What the trace keeps of an exchange (exchange/capture.py) and the record built from it
(observe/record.py, observe/assemble.py, exchange/timing.py)."""

from __future__ import annotations

import json

import pytest

from behest_local.exchange import timing
from behest_local.observe.assemble import assemble_body, assemble_events
from behest_local.exchange.capture import MAX_BODY, MAX_STREAM, Capture, CaptureBudget
from behest_local.exchange.exchange import Exchange
from behest_local.observe.record import build_record
from behest_local.exchange.bus import TraceStore
from tests.trace_support import CANARY, CANARY_MARK, chunk, fake_exchange, make_store


def test_a_streamed_record_has_events_message_and_both_timelines():
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, stream=True, pieces=["Hel", "lo"], gap=0.05)
    record = build_record(exchange)
    assert record["id"] == exchange.id and record["stream"] and record["chunks"] == 4
    assert [json.loads(e["data"])["choices"][0]["delta"].get("content") for e in
            record["events"]] == ["", "Hel", "lo", None]
    assert record["message"]["choices"][0]["content"] == "Hello"
    assert record["message"]["choices"][0]["finish_reason"] == "stop"
    times = record["timeline"]
    assert len(times["departures"]) == len(times["arrivals"]) == 4
    assert times["departures"][1] - times["departures"][0] == pytest.approx(0.05)


def test_a_secret_echoed_across_events_is_redacted_in_events_message_and_bodies():
    store, clock = make_store()
    exchange = fake_exchange(
        store, clock, 1, stream=True,
        pieces=[" sk", "-proj", "-CANARY7f3a9b2c", "4d5e6f708192a3b4c5d6e7f8", " done"],
        body={"messages": [{"role": "user", "content": f"repeat {CANARY}"}]},
        headers=[("Authorization", f"Bearer {CANARY}"), ("x-api-key", CANARY)])
    text = json.dumps(build_record(exchange))
    assert CANARY_MARK not in text and "4d5e6f708192" not in text
    assert "[redacted]" in text


def test_body_and_stream_caps_keep_counts_but_not_the_excess():
    capture = Capture(lambda: 0.0)
    capture.request_body(b"x" * (MAX_BODY + 10))
    assert capture.request_body_size == MAX_BODY + 10
    assert len(capture.redacted_request_body()) == MAX_BODY
    frame = chunk("y" * 1000)
    for _ in range(MAX_STREAM // len(frame) + 5):
        capture.frame(frame)
    assert capture.frames_dropped >= 5
    assert len(capture.arrivals) == MAX_STREAM // len(frame) + 5  # every timing kept


def test_the_budget_releases_the_oldest_captures_first():
    budget = CaptureBudget(limit=10_000)
    old, new = Capture(lambda: 0.0, budget), Capture(lambda: 0.0, budget)
    old.request_body(b"o" * 6000)
    new.request_body(b"n" * 6000)
    assert old.released and not new.released
    assert old.redacted_request_body() is None and new.redacted_request_body() is not None
    assert budget.used <= budget.limit


def test_records_without_a_capture_still_have_the_summary():
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1)
    exchange.capture = None
    record = build_record(exchange)
    assert record["recorded"] is False and record["status"] == 200
    assert record["request"]["body"] is None


def test_a_non_streamed_body_is_assembled_into_the_message():
    store, clock = make_store()
    record = build_record(fake_exchange(store, clock, 1, pieces=["Hi", " there"]))
    assert record["message"]["choices"][0]["content"] == "Hi there"


def test_tool_call_fragments_reassemble():
    events = [{"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": ""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '{"city":'}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '"Oslo"}'}}]}, "finish_reason": "tool_calls"}]}]
    choice = assemble_events(events)["choices"][0]
    assert choice["tool_calls"] == [{"id": "call_1", "name": "get_weather",
                                     "arguments": '{"city":"Oslo"}'}]
    assert choice["finish_reason"] == "tool_calls"


def test_responses_api_events_and_objects_assemble_too():
    events = [{"type": "response.output_text.delta", "delta": "Hel"},
              {"type": "response.output_text.delta", "delta": "lo"},
              {"type": "response.completed", "response": {"status": "completed",
                                                          "usage": {"input_tokens": 3}}}]
    message = assemble_events(events)
    assert message["choices"][0]["content"] == "Hello" and message["usage"]["input_tokens"] == 3
    body = {"output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}],
            "status": "completed"}
    assert assemble_body(body)["choices"][0]["content"] == "Hi"


def test_a_stall_is_a_gap_far_above_the_median():
    departures = [0.1, 0.12, 0.14, 0.16, 1.5, 1.52, 1.54]
    line = timing.build(departures, started=0.0)
    assert [r.index for r in line.stalls] == [4]
    assert line.ttft == 0.1
    steady = timing.build([0.5 * i for i in range(10)], started=0.0)
    assert steady.stalls == []  # slow but steady is not stalled


# -- cheap record building: same records, less work ----------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from behest_local import sse
from behest_local.observe import record as record_module
from behest_local.observe.record import with_message  # noqa: E402


def _decoder_view(frames):
    decoder, out = sse.SSEDecoder(), ([], [], [])
    for index, frame in enumerate(frames):
        for event in decoder.feed(frame):
            out[0].append(index)
            out[1].append(event.event)
            out[2].append(event.data)
    return out


_frame_pieces = st.sampled_from([b"data: ", b"data:", b"event: e\n", b"\n", b"\n\n", b"\r",
                                 b"{}", b"x", b"\xc3\xa9", b"\xc3", b": c\n", b"id: 1\n"])
_frames = st.lists(st.lists(_frame_pieces, max_size=6).map(b"".join), max_size=6)


@settings(max_examples=400)
@given(_frames)
def test_events_are_split_exactly_as_the_sse_decoder_reads_them(frames):
    assert record_module._split_events(frames) == _decoder_view(frames)


def test_one_event_per_frame_is_split_without_the_decoder():
    frames = [chunk("a"), chunk("b"), b"data: [DONE]\n\n"]
    assert record_module._split_events(frames) == _decoder_view(frames)


@given(st.text(max_size=12) | st.sampled_from(['{"a": 1}', " [1] ", "1 2", '"x"', "[DONE]"]))
def test_events_parse_as_json_loads_would(data):
    try:
        expected = json.loads(data)
    except ValueError:
        expected = None
    # repr, not ==: NaN (which json.loads accepts) is unequal to itself.
    assert repr(record_module._parse(data)) == repr(expected)


def test_bodies_are_recorded_as_sent_when_nothing_needs_redacting():
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, pieces=["Hi"])
    record = build_record(exchange)
    assert record["request"]["body"] == json.dumps(
        {"model": "gpt-4o-mini", "stream": False, "messages": [{"role": "user", "content": "Hello"}]})
    assert json.loads(record["response"]["body"])["choices"][0]["message"]["content"] == "Hi"


@pytest.mark.parametrize("kind", ["plain", "stream", "secret stream", "error"])
def test_a_stored_record_derives_the_message_the_live_record_has(kind):
    store, clock = make_store()
    if kind == "plain":
        exchange = fake_exchange(store, clock, 1, pieces=["Hi", " there"])
    elif kind == "error":
        exchange = fake_exchange(store, clock, 1, status=401)
    else:
        pieces = ["He", "llo"] if kind == "stream" else \
            [" sk", "-proj", "-CANARY7f3a9b2c", "4d5e6f708192a3b4c5d6e7f8", " done"]
        exchange = fake_exchange(store, clock, 1, stream=True, pieces=pieces)
    live = build_record(exchange)
    stored = build_record(exchange, message=False)
    assert "message" not in stored
    restored = with_message(json.loads(json.dumps(stored)))
    assert restored["message"] == live["message"]
    assert CANARY_MARK not in json.dumps(restored)


def test_headers_are_kept_raw_and_redacted_when_first_read():
    secret = "behest_sk_live_" + "cd" * 16
    capture = Capture(lambda: 0.0)
    capture.record_headers((("Authorization", f"Bearer {secret}"), ("Accept", "*/*")),
                           (("Set-Cookie", f"s={secret}"), ("Content-Type", "text/plain")))
    capture.request_body(f'{{"echo": "{secret}"}}'.encode())
    assert capture.known == (secret,)  # found in the request headers
    assert capture.request_headers[1] == ("Accept", "*/*")
    assert secret not in repr(capture.request_headers + capture.response_headers)
    assert capture.request_headers[0][1].startswith("Bearer ")
    assert secret not in capture.redacted_request_body()
    exchange = Exchange(TraceStore(), method="POST", path="/v1/chat/completions")
    exchange.capture = capture
    assert secret not in json.dumps(build_record(exchange))


def test_a_capture_recorded_in_one_call_equals_one_recorded_step_by_step():
    request = (("Authorization", "Bearer " + "k" * 40), ("Accept", "*/*"))
    response = (("Content-Type", "application/json"),)
    budget = CaptureBudget()
    whole = Capture(lambda: 0.0, budget, request_headers=request, response_headers=response,
                    status=200, request_body=b'{"a": 1}', response_body=b"x" * (MAX_BODY + 5))
    steps = Capture(lambda: 0.0)
    steps.record_headers(request, response)
    steps.request_body(b'{"a": 1}')
    steps.response_body(b"x" * (MAX_BODY + 5))
    steps.response_status, steps.responded = 200, True
    assert whole.snapshot() == steps.snapshot()
    assert budget.used == 8 + MAX_BODY  # both bodies charged, as kept
    empty = Capture(lambda: 0.0, budget, request_body_note="no body")
    assert not empty.responded and empty.request_body_note == "no body"
    assert empty.request_body_size is None and empty.held_bytes == 0

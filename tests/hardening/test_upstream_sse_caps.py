"""Issue 17 item 2, the pure part: ``sse.SSEDecoder(max_event=…)`` holds no more than its cap.

A line (the unfinished one the decoder buffers) or an event (the ``data`` lines it gathers)
longer than ``max_event`` raises ``EventTooLarge``, however the bytes are split into reads;
anything up to the cap decodes exactly as without one.
"""

from __future__ import annotations

import pytest

from behest_local.sse import EventTooLarge, SSEDecoder, decode_all

CAP = 1024


def _feed(decoder: SSEDecoder, payload: bytes, size: int) -> list:
    events = []
    for at in range(0, len(payload), size):
        events += decoder.feed(payload[at:at + size])
    return events + decoder.close()


@pytest.mark.parametrize("size", [1, 7, 100, 5000], ids=lambda n: f"reads-of-{n}")
def test_a_line_over_the_cap_raises_however_it_is_split(size):
    with pytest.raises(EventTooLarge) as raised:
        _feed(SSEDecoder(max_event=CAP), b"data: " + b"x" * 2 * CAP, size)
    assert raised.value.kind == "line"


@pytest.mark.parametrize("size", [1, 100, 100_000], ids=lambda n: f"reads-of-{n}")
def test_an_event_of_many_short_data_lines_over_the_cap_raises(size):
    with pytest.raises(EventTooLarge) as raised:
        _feed(SSEDecoder(max_event=CAP), b"data: x\n" * CAP + b"\n", size)
    assert raised.value.kind == "event"


def test_a_whole_line_over_the_cap_in_one_read_raises():
    with pytest.raises(EventTooLarge):
        SSEDecoder(max_event=CAP).feed(b"data: " + b"x" * 2 * CAP + b"\n\n")


@pytest.mark.parametrize("size", [1, 7, 100, 5000], ids=lambda n: f"reads-of-{n}")
def test_events_up_to_the_cap_decode_as_without_one(size):
    payload = (b"data: " + b"a" * (CAP - 6) + b"\n\n"       # a line of exactly CAP
               + b"event: e\r\ndata: " + b"b" * 500 + b"\r\ndata: " + b"c" * 500 + b"\r\n\r\n"
               + b": comment\ndata: {\"k\": 1}\n\n")
    assert _feed(SSEDecoder(max_event=CAP), payload, size) == decode_all(payload)


def test_a_long_line_under_the_cap_is_joined_whole_from_many_reads():
    payload = b"data: " + "é".encode() * 200_000 + b"\n\n"  # split inside characters too
    [event] = _feed(SSEDecoder(max_event=1 << 20), payload, 4093)
    assert event.data == "é" * 200_000

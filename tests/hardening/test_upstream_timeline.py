"""Issue 17 item 2: an endless stream of valid events does not grow its exchange.

Every relayed event used to append its time to the exchange (departure) and to its
capture (arrival) for ever: ~64 bytes an event, so a flooding upstream grew the gateway
by half its own throughput (+138 MB for 256 MB relayed). The times are now kept for the
first ``timing.TIMELINE_MAX`` events; the count, the size and the ``ChunkSent`` pace go on.
"""

from __future__ import annotations

from behest_local.exchange import events as ev
from behest_local.exchange.bus import TraceStore
from behest_local.exchange.capture import Capture
from behest_local.exchange.exchange import PROGRESS_S, Exchange
from behest_local.exchange.timing import TIMELINE_MAX
from behest_local.observe.record import build_record
from behest_local.observe.trace_writer import decode, encode

PAST = 3 * TIMELINE_MAX // 2
"""Events sent in these tests: half as many again as the timeline keeps."""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stream(events: int, gap: float = 0.001):
    clock = Clock()
    store = TraceStore(clock=clock)
    seen: list = []
    store.subscribe(lambda event, exchange: seen.append(event))
    exchange = Exchange(store, method="POST", path="/v1/chat/completions")
    exchange.capture = Capture(clock)
    for _ in range(events):
        clock.now += gap
        exchange.capture.frame(b"data: {}\n\n")
        exchange.chunk_sent(10)
    exchange.finish(200)
    return exchange, seen


def test_a_stream_past_the_timeline_is_counted_but_keeps_no_more_times():
    exchange, seen = _stream(PAST)
    assert len(exchange.chunk_times) == len(exchange.capture.arrivals) == TIMELINE_MAX
    assert (exchange.chunks, exchange.chunks_untimed) == (PAST, PAST - TIMELINE_MAX)
    assert exchange.bytes_sent == 10 * PAST
    [finished] = [e for e in seen if isinstance(e, ev.ExchangeFinished)]
    assert finished.chunks == PAST


def test_chunk_sent_keeps_its_pace_past_the_timeline():
    _exchange, seen = _stream(PAST)
    sent = [e.index for e in seen if isinstance(e, ev.ChunkSent)]
    per_window = round(PROGRESS_S / 0.001)
    # one event a millisecond: the first of each window, before and past the cap alike
    assert sent[0] == 0 and len(sent) >= PAST // per_window - 1
    assert all(0 < b - a <= per_window + 1 for a, b in zip(sent, sent[1:]))
    assert sent[-1] >= PAST - per_window - 1


def test_the_record_counts_every_event_and_holds_the_kept_times():
    exchange, _seen = _stream(PAST)
    record = build_record(decode(encode(exchange)), events=False)
    assert record["chunks"] == PAST
    assert len(record["timeline"]["departures"]) == TIMELINE_MAX
    assert len(record["timeline"]["arrivals"]) == TIMELINE_MAX

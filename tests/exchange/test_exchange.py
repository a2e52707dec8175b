"""Exchange phases, their events, redaction, and the trace store's fan-out."""

from __future__ import annotations

import asyncio
import io
import logging

from behest_local.exchange import events as ev
from behest_local.exchange.exchange import PROGRESS_S, Exchange, Phase
from behest_local.exchange.scrub import redact_value
from behest_local.observe.headless import LineLogger
from behest_local.exchange.bus import TraceStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(store: TraceStore) -> Exchange:
    return Exchange(store, method="POST", path="/v1/chat/completions")


def test_phases_publish_typed_events_in_order():
    clock = FakeClock()
    store = TraceStore(clock=clock, wall_clock=lambda: 1_700_000_000.0)
    seen: list = []
    store.subscribe(lambda event, exchange: seen.append(event))
    exchange = make(store)
    exchange.received(client="127.0.0.1:5555", headers=[("Authorization", "Bearer behest_sk_live_" + "ab" * 16)])
    exchange.authenticated(tenant="local", project="local", credential="behest_sk_live_ab…")
    exchange.routed(requested_model=None, model="gemini-2.5-flash", provider="emulated",
                    reason="default", stream=True)
    exchange.upstream_started()
    clock.now = 100.25
    exchange.chunk_sent(40)
    clock.now = 100.5
    exchange.chunk_sent(60)
    exchange.usage(10, 2)
    clock.now = 101.0
    exchange.finish(200)
    assert [type(e) for e in seen] == [ev.RequestReceived, ev.Authenticated, ev.Routed,
                                       ev.UpstreamStarted, ev.ChunkSent, ev.ChunkSent,
                                       ev.ExchangeFinished]
    assert [(e.index, e.size, e.at) for e in seen[4:6]] == [(0, 40, 100.25), (1, 60, 100.5)]
    finished = seen[-1]
    assert finished.duration == 1.0 and finished.ttft == 0.25 and finished.chunks == 2
    assert (finished.prompt_tokens, finished.completion_tokens) == (10, 2)
    assert exchange.bytes_sent == 100 and exchange.phase is Phase.FINISHED
    assert store.find(exchange.id) is exchange
    header = seen[0].headers[0][1]
    assert "ab" * 16 not in header and header.startswith("Bearer ")


def test_chunk_sent_publishes_the_first_event_then_a_few_a_second():
    clock = FakeClock()
    store = TraceStore(clock=clock)
    seen: list = []
    store.subscribe(lambda event, exchange: seen.append(event))
    exchange = make(store)
    for n in range(100):  # 100 events 10 ms apart: one second
        clock.now = 200.0 + n / 100
        exchange.chunk_sent(10)
    sent = [e for e in seen if isinstance(e, ev.ChunkSent)]
    assert sent[0].index == 0 and len(sent) == 1 / PROGRESS_S == 4
    assert [e.index for e in sent[1:]] == [25, 50, 75]  # the first of each quarter second
    assert len(exchange.chunk_times) == 100 and exchange.bytes_sent == 1000
    assert exchange.phase is Phase.STREAMING


def test_finish_and_fail_happen_once():
    store = TraceStore()
    seen: list = []
    store.subscribe(lambda event, exchange: seen.append(event))
    exchange = make(store)
    exchange.fail(500, code="x", message="boom")
    exchange.finish(200)
    assert [type(e) for e in seen] == [ev.ExchangeFailed]
    assert exchange.status == 500 and exchange.phase is Phase.FAILED


def test_redaction_of_credential_headers():
    assert redact_value("X-Api-Key", "sk-ant-api03-secretsecretsecret").endswith("[redacted]")
    assert "secretsecret" not in redact_value("x-goog-api-key", "AIzaSyA-secretsecretsecretsecret12")
    assert redact_value("Content-Type", "application/json") == "application/json"


def test_a_failing_subscriber_never_breaks_publishing(caplog):
    store = TraceStore()
    seen: list = []

    def broken(event, exchange):
        raise ValueError("subscriber bug")

    store.subscribe(broken)
    store.subscribe(lambda event, exchange: seen.append(event))
    with caplog.at_level(logging.ERROR):
        make(store).finish(200)
        make(store).finish(200)
    assert len(seen) == 2
    assert sum("subscriber" in r.getMessage() for r in caplog.records) == 1


def test_an_ending_exchange_is_priced_before_any_subscriber_sees_its_end():
    store = TraceStore()
    seen: list = []
    # Subscribed before any pricing could happen in a subscriber: the order must not matter.
    store.subscribe(lambda event, exchange: seen.append((type(event), exchange.cost)),
                    events=(ev.ExchangeFinished, ev.ExchangeFailed))
    store.pricer = lambda exchange: None if exchange.phase is Phase.FAILED else 0.125
    finished, failed, unpriced = make(store), make(store), make(store)
    finished.finish(200)
    failed.fail(502, code="upstream_error", message="no")
    store.pricer = None
    unpriced.finish(200)
    assert seen == [(ev.ExchangeFinished, 0.125), (ev.ExchangeFailed, None),
                    (ev.ExchangeFinished, None)]
    assert (finished.cost, failed.cost, unpriced.cost) == (0.125, None, None)


def test_a_failing_pricer_leaves_the_exchange_unpriced_and_is_logged_once(caplog):
    store = TraceStore()
    seen: list = []
    store.subscribe(lambda event, exchange: seen.append(event))

    def broken(exchange):
        raise KeyError("pricing bug")

    store.pricer = broken
    with caplog.at_level(logging.ERROR):
        first, second = make(store), make(store)
        first.finish(200)
        second.fail(500, code="x", message="boom")
    assert [type(e) for e in seen] == [ev.ExchangeFinished, ev.ExchangeFailed]
    assert first.cost is None and second.cost is None
    assert sum("pricer" in r.getMessage() for r in caplog.records) == 1


def test_unsubscribe_and_ring_capacity():
    store = TraceStore(capacity=3)
    seen: list = []
    unsubscribe = store.subscribe(lambda event, exchange: seen.append(event))
    for _ in range(5):
        make(store).received(client="c", headers=[])
    assert len(store.recent) == 3 and len(seen) == 5
    unsubscribe()
    make(store).received(client="c", headers=[])
    assert len(seen) == 5


def test_headless_logger_writes_one_line_per_finished_exchange():
    out = io.StringIO()
    store = TraceStore()
    store.subscribe(LineLogger(out))
    exchange = make(store)
    exchange.received(client="c", headers=[])
    exchange.authenticated(tenant="local", project="local", credential="k", user="u1")
    exchange.routed(requested_model="gpt-4o", model="gpt-4o", provider="emulated", reason="r",
                    stream=True)
    exchange.chunk_sent(10)
    exchange.usage(5, 7)
    exchange.finish(200)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    line = lines[0]
    for fragment in ("200", "POST", "/v1/chat/completions", "local/u1", "gpt-4o (emulated)",
                     "stream 1 events", "5+7 tok", exchange.id):
        assert fragment in line


async def test_batched_logger_writes_lines_together_and_on_close():
    out = io.StringIO()
    store = TraceStore()
    logger = LineLogger(out, batch=60.0)  # a timer that never fires within the test
    store.subscribe(logger)
    for _ in range(3):
        exchange = make(store)
        exchange.received(client="c", headers=[])
        exchange.finish(200)
    assert out.getvalue() == ""  # gathered, not written per request
    logger.close()
    assert len(out.getvalue().splitlines()) == 3
    logger.close()  # idempotent
    assert len(out.getvalue().splitlines()) == 3


async def test_batched_logger_flushes_on_its_timer():
    written = asyncio.Event()

    class Out(io.StringIO):
        def flush(self) -> None:
            super().flush()
            written.set()

    out = Out()
    store = TraceStore()
    store.subscribe(LineLogger(out, batch=0.001))
    exchange = make(store)
    exchange.received(client="c", headers=[])
    exchange.finish(200)
    await asyncio.wait_for(written.wait(), 5)
    assert len(out.getvalue().splitlines()) == 1


def test_subscribers_get_only_the_event_types_they_asked_for():
    store = TraceStore(clock=FakeClock())
    ends: list = []
    everything: list = []
    unsubscribe = store.subscribe(lambda e, x: ends.append(type(e)),
                                  events=(ev.ExchangeFinished, ev.ExchangeFailed))
    store.subscribe(lambda e, x: everything.append(type(e)))
    exchange = make(store)
    exchange.received(client="127.0.0.1:1", headers=[])
    exchange.authenticated(tenant="t", project="p", credential="c…")
    exchange.finish(200)
    assert ends == [ev.ExchangeFinished]
    assert everything == [ev.RequestReceived, ev.Authenticated, ev.ExchangeFinished]
    unsubscribe()
    other = make(store)
    other.received(client="127.0.0.1:1", headers=[])
    other.finish(200)
    assert ends == [ev.ExchangeFinished]  # unsubscribed: no longer routed to it


class CountingHeaders:
    """Header pairs that count how often they are read (redaction reads them)."""

    def __init__(self, pairs):
        self.pairs, self.reads = pairs, 0

    def __iter__(self):
        self.reads += 1
        return iter(self.pairs)


def test_events_nobody_wants_are_not_built_and_the_ring_still_fills():
    store = TraceStore(clock=FakeClock())
    seen: list = []
    store.subscribe(lambda e, x: seen.append(e), events=(ev.ExchangeFailed,))
    assert not store.wants(ev.RequestReceived) and store.wants(ev.ExchangeFailed)
    exchange = make(store)
    headers = CountingHeaders([("Authorization", "Bearer sk-secretsecretsecret")])
    exchange.received(client="?", headers=headers)
    exchange.routed(requested_model=None, model="m", provider="emulated", reason="r",
                    stream=False)
    exchange.fail(401, code="invalid_api_key", message="no")
    assert headers.reads == 0  # nobody took RequestReceived: nothing was redacted
    assert store.find(exchange.id) is exchange
    assert [type(e) for e in seen] == [ev.ExchangeFailed]


def test_an_unfiltered_subscriber_gets_request_headers_redacted():
    store = TraceStore(clock=FakeClock())
    seen: list = []
    store.subscribe(lambda e, x: seen.append(e))
    exchange = make(store)
    secret = "sk-secretsecretsecret"
    exchange.received(client="127.0.0.1:1", headers=CountingHeaders([("X-Api-Key", secret)]))
    assert secret not in repr(seen[0]) and seen[0].headers[0][1].endswith("[redacted]")


def test_headless_subscribers_take_only_the_terminal_events(tmp_path):
    from behest_local.finops.recorder import UsageRecorder
    from behest_local.observe.trace_db import TraceDB

    store = TraceStore(clock=FakeClock())
    store.subscribe(LineLogger(io.StringIO()), events=LineLogger.EVENTS)
    store.subscribe(lambda e, x: None, events=UsageRecorder.EVENTS)
    store.subscribe(TraceDB(tmp_path / "t.db").subscriber, events=TraceDB.EVENTS)
    for kind in (ev.RequestReceived, ev.Authenticated, ev.Routed, ev.UpstreamStarted,
                 ev.ResponseStarted):
        assert not store.wants(kind)
    for kind in (ev.ExchangeFinished, ev.ExchangeFailed, ev.ProbeReported):
        assert store.wants(kind)


def test_a_log_line_names_every_field_in_order():
    from behest_local.observe.headless import format_line

    store = TraceStore(clock=FakeClock())
    exchange = make(store)
    exchange.authenticated(tenant="local", project="local", credential="k", user="u1")
    exchange.routed(requested_model="fast", model="gpt-4o", provider="emulated", reason="r",
                    stream=False)
    exchange.usage(5, None)
    exchange.ended = exchange.started + 0.0123
    exchange.status = 200
    assert format_line(exchange, clock="12:00:00") == (
        f"12:00:00  200  POST  /v1/chat/completions  local/u1  fast→gpt-4o (emulated)  12ms  "
        f"5+0 tok  {exchange.id}")
    bare = make(store)
    bare.error = "boom"
    assert format_line(bare, clock="12:00:00") == (
        f"12:00:00    -  POST  /v1/chat/completions  -  error: boom  {bare.id}")


def test_a_log_line_labels_counts_in_the_unit_the_model_is_billed_in():
    from behest_local.finops import prices
    from behest_local.observe.headless import LineLogger

    store, out = TraceStore(clock=FakeClock()), io.StringIO()
    store.subscribe(LineLogger(out, counts_of=lambda model: prices.unit_of(model).counts),
                    events=LineLogger.EVENTS)
    for model, used in (("tts-1", (31, 0)), ("whisper-1", (3, 0)), ("dall-e-3", (0, 2)),
                        ("gpt-4o", (5, 7))):
        exchange = make(store)
        exchange.routed(requested_model=model, model=model, provider="emulated", reason="r",
                        stream=False)
        exchange.usage(*used)
        exchange.finish(200)
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[-2] for line in lines] == [
        "31+0 chars", "3+0 s", "0+2 img", "5+7 tok"]


def test_ids_have_their_forms_and_a_trace_id_is_never_all_zero(monkeypatch):
    import random

    from behest_local.exchange.exchange import new_ids

    request_id, trace_id = new_ids()
    assert request_id.startswith("req_") and len(request_id) == 28
    assert len(trace_id) == 32 and int(trace_id, 16) >= 0 and trace_id == trace_id.lower()
    assert new_ids() != new_ids()
    monkeypatch.setattr(random, "getrandbits", lambda bits: 7 << 128)
    assert new_ids() == ("req_" + "0" * 23 + "7", "0" * 31 + "1")


def test_wanted_is_what_wants_answers_for_every_event_type():
    store = TraceStore()
    kinds = [ev.RequestReceived, ev.Authenticated, ev.ResponseStarted, ev.ExchangeFinished,
             ev.ExchangeFailed, ev.ProbeReported]
    assert not any(kind in store.wanted for kind in kinds)
    unsubscribe = store.subscribe(lambda e, x: None, events=(ev.ExchangeFinished,))
    assert [kind in store.wanted for kind in kinds] == [store.wants(k) for k in kinds]
    assert store.wanted == {ev.ExchangeFinished}
    everything = store.subscribe(lambda e, x: None)  # every type, subclasses included
    assert all(kind in store.wanted for kind in kinds)
    everything()
    unsubscribe()
    assert not store.wanted

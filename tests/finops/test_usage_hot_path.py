"""The per-request side of FinOps kept cheap without changing what it records: the usage
store's deque and its writer's rounds, the recorder's per-settings caches, and the stream
meter's reading of chunk deltas."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.config import BudgetConfig, ProjectConfig
from behest_local.exchange.events import ExchangeFailed, ExchangeFinished
from behest_local.exchange.exchange import Exchange
from behest_local.finops.meter import StreamMeter
from behest_local.finops.meter import delta_text
from behest_local.finops.prices import PriceTable
from behest_local.finops.recorder import UsageRecorder
from behest_local.finops.store import COLUMNS, UsageRecord, UsageStore
from behest_local.policy.ratelimit import Counters, Window
from behest_local.exchange.bus import TraceStore
from tests.conftest import TEST_SETTINGS
from tests.finops.usage_support import CHAT, T0, Clock, record


def count(store: UsageStore) -> int:
    return store.submit(lambda conn: conn.execute("SELECT COUNT(*) FROM usage")
                        .fetchone()[0]).result(5)


# -- the store -----------------------------------------------------------------------------


def test_a_job_wakes_the_writer_at_once_and_sees_every_record_added_before_it(tmp_path):
    store = UsageStore.open(tmp_path, linger=600)  # records alone would wait ten minutes
    for n in range(10):
        store.add(record(n))
    assert count(store) == 10  # within result(5): the job cut the linger short
    store.close()


def test_close_writes_what_is_queued_without_waiting_out_the_linger(tmp_path):
    store = UsageStore.open(tmp_path, linger=600)
    for n in range(5):
        store.add(record(n))
    store.close(timeout=5)
    assert not store._thread.is_alive()
    reopened = UsageStore.open(tmp_path)
    assert count(reopened) == 5
    reopened.close()
    assert store.submit(lambda conn: None).exception(0) is not None  # closed: refused


def test_records_added_while_jobs_run_are_all_written_and_seen_in_order(tmp_path):
    store = UsageStore.open(tmp_path, linger=0.001)
    total, added = 2000, [0]

    def produce() -> None:
        for n in range(total):
            store.add(record(n))
            added[0] = n + 1

    producer = threading.Thread(target=produce)
    producer.start()
    while producer.is_alive():
        before = added[0]
        assert count(store) >= before  # a job runs after every record added before it
    producer.join()
    assert count(store) == total and store.written == total and store.dropped == 0
    store.close()


def test_a_record_sqlite_refuses_is_logged_and_the_writer_carries_on(tmp_path, caplog):
    store = UsageStore.open(tmp_path)
    caplog.set_level(logging.WARNING, "behest_local.finops")
    store.add(record(1, tenant=object()))  # cannot be bound: that record is skipped
    store.flush()
    assert "usage record req_1 could not be written" in caplog.text
    store.add(record(2))
    store.flush()
    assert store.written == 1 and store.dropped == 1 and count(store) == 1
    store.close()


def test_a_record_is_its_own_row_in_column_order():
    row = record(7)
    assert tuple(row) == tuple(getattr(row, name) for name in COLUMNS)
    assert COLUMNS[0] == "exchange_id" and COLUMNS[-1] == "path"


# -- the recorder --------------------------------------------------------------------------


class Records:
    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    def add(self, record: UsageRecord) -> None:
        self.records.append(record)


def ended(project: str = "local", *, user: str | None = "alice", session: str | None = "s1",
          tokens: tuple[int, int] = (10, 5), failed: bool = False):
    exchange = Exchange(TraceStore(), method="POST", path=CHAT)
    exchange.authenticated(tenant="t", project=project, credential="key", user=user,
                           session=session)
    exchange.routed(requested_model="gpt-4o", model="gpt-4o", provider="emulated",
                    reason="requested", stream=False)
    exchange.usage(*tokens)
    event = ExchangeFailed(exchange.id, 1.0, 499, "cancelled", "gone", 1.0) if failed else \
        ExchangeFinished(exchange.id, 1.0, 200, 1.0, None, 0, *tokens)
    return event, exchange


def test_the_recorder_follows_a_reload_of_projects_and_budgets():
    plain = replace(TEST_SETTINGS, projects=(ProjectConfig(name="local", id="local"),))
    budgeted = replace(TEST_SETTINGS, projects=(ProjectConfig(
        name="local", id="local", budgets=BudgetConfig(session_tokens=1000)),))
    current = [plain]
    records, counters = Records(), Counters(Clock())
    recorder = UsageRecorder(records, counters, lambda: current[0])
    session = ("tokens", "session", "local", "alice", "s1")

    recorder(*ended())
    recorder(*ended())
    assert counters.used(("tokens", "user", "local", "alice"), Window.DAY) == 30
    assert counters.used(("tokens", "project", "local"), Window.MONTH) == 30
    assert counters.used(session, Window.TOTAL) == 0  # no session budget: not counted
    assert counters.used(("cost_usd", "project", "local"), Window.DAY) > 0

    current[0] = budgeted  # reloaded: the session is counted from now on
    recorder(*ended())
    assert counters.used(session, Window.TOTAL) == 15

    current[0] = replace(TEST_SETTINGS, projects=(ProjectConfig(name="other", id="other"),))
    recorder(*ended())  # the project is gone: recorded, no longer counted
    assert counters.used(("tokens", "project", "local"), Window.DAY) == 45
    assert len(records.records) == 4
    first = records.records[0]
    assert (first.project, first.user_id, first.session_id, first.at) == \
        ("local", "alice", "s1", T0)
    assert (first.prompt_tokens, first.completion_tokens, first.byok) == (10, 5, False)


def test_failures_without_tokens_and_other_routes_are_not_billed():
    records = Records()
    recorder = UsageRecorder(records, Counters(Clock()), lambda: TEST_SETTINGS)
    recorder(*ended(tokens=(0, 0), failed=True))
    event, exchange = ended()
    exchange.path = "/v1/models"
    recorder(event, exchange)
    recorder(*ended(tokens=(3, 4), failed=True))  # cut mid-way: billed for what was sent
    assert [(r.status, r.completion_tokens) for r in records.records] == [(499, 4)]


def test_an_exchange_carries_the_cost_its_usage_record_holds_priced_once(monkeypatch):
    priced: list[tuple] = []
    real_cost = PriceTable.cost

    def counted(table, model, prompt, completion, variant=None):
        priced.append((model, prompt, completion))
        return real_cost(table, model, prompt, completion, variant)

    monkeypatch.setattr(PriceTable, "cost", counted)
    records = Records()
    recorder = UsageRecorder(records, Counters(Clock()), lambda: TEST_SETTINGS)
    store = TraceStore()
    store.subscribe(recorder, events=recorder.EVENTS)
    store.pricer = recorder.price  # as server/routes/usage.py installs it
    billed, unbilled = (Exchange(store, method="POST", path=path)
                        for path in (CHAT, "/v1/models"))
    for exchange in (billed, unbilled):
        exchange.authenticated(tenant="t", project="local", credential="key")
        exchange.routed(requested_model=None, model="gpt-4o", provider="emulated",
                        reason="requested", stream=False)
        exchange.usage(1000, 500)
        exchange.finish(200)
    [record] = records.records
    assert billed.cost == record.cost_usd  # the record took the exchange's number
    assert billed.cost == pytest.approx(1000 * 2.5e-6 + 500 * 10e-6)  # gpt-4o's list price
    assert unbilled.cost is None
    assert priced == [("gpt-4o", 1000, 500)]  # once: the record took the exchange's number


def test_an_exchange_the_store_did_not_price_is_priced_by_the_recorder():
    records = Records()
    recorder = UsageRecorder(records, Counters(Clock()), lambda: TEST_SETTINGS)
    event, exchange = ended(tokens=(1000, 500))
    recorder(event, exchange)
    assert exchange.cost == records.records[0].cost_usd > 0


# -- the stream meter's reading of deltas ---------------------------------------------------


def reference_delta_text(chunk: dict) -> str:
    """The delta text as first written: every field read, in this order, every time."""
    parts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        for name in ("content", "refusal", "reasoning_content"):
            if isinstance(delta.get(name), str):
                parts.append(delta[name])
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            for name in ("name", "arguments"):
                if isinstance(function.get(name), str):
                    parts.append(function[name])
    return "".join(parts)


_VALUE = st.none() | st.text(max_size=6) | st.integers()
_DELTA = st.fixed_dictionaries({}, optional={
    "role": st.just("assistant"), "content": _VALUE, "refusal": _VALUE,
    "reasoning_content": _VALUE,
    "tool_calls": st.lists(st.fixed_dictionaries({}, optional={
        "index": st.integers(0, 3),
        "function": st.fixed_dictionaries({}, optional={"name": _VALUE, "arguments": _VALUE}),
    }), max_size=2)})
_CHUNK = st.fixed_dictionaries({}, optional={
    "choices": st.lists(st.fixed_dictionaries({"index": st.integers(0, 2)}, optional={
        "delta": _DELTA, "finish_reason": st.none() | st.just("stop")}), max_size=3),
    "usage": st.none()})


@settings(max_examples=300, deadline=None)
@given(_CHUNK)
def test_the_fast_delta_reading_equals_the_reference(chunk: dict):
    assert delta_text(chunk) == reference_delta_text(chunk)


# -- the stream meter: counted at the end when the exchange settles it ----------------------


class EagerExchange:
    """An exchange without the ``settle`` hook: the meter keeps its count current."""

    __slots__ = ("prompt_tokens", "completion_tokens")

    def __init__(self) -> None:
        self.prompt_tokens = self.completion_tokens = None

    def usage(self, prompt: int | None, completion: int | None) -> None:
        self.prompt_tokens, self.completion_tokens = prompt, completion


class SettlingExchange:
    """An exchange with the ``settle`` hook: it calls the meter before its end is read."""

    def __init__(self) -> None:
        self.settle = None
        self.prompt_tokens = self.completion_tokens = None

    def usage(self, prompt: int | None, completion: int | None) -> None:
        self.prompt_tokens, self.completion_tokens = prompt, completion

    def end(self) -> tuple[int | None, int | None]:
        if self.settle is not None:
            self.settle()
        return self.prompt_tokens, self.completion_tokens


def chunk(text: str) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


TEXTS = ["Hello", " there", ", friend", " #12:1732650000123456789;", " internationalization"]
MESSAGES = [{"role": "user", "content": "Count me"}]


def test_a_settled_meter_counts_once_at_the_end_what_an_eager_one_counts_as_it_goes():
    eager_exchange = EagerExchange()
    eager = StreamMeter(eager_exchange, MESSAGES)
    settling = SettlingExchange()
    deferred = StreamMeter(settling, MESSAGES)
    assert not eager.deferred and deferred.deferred and settling.settle == deferred.settle
    for text in TEXTS:
        eager.count(chunk(text))
        deferred.count(chunk(text))
        assert eager_exchange.completion_tokens == eager.completion  # always current
    assert settling.completion_tokens is None  # nothing counted while streaming
    assert settling.end() == (eager_exchange.prompt_tokens, eager_exchange.completion_tokens)
    assert settling.end() == (eager_exchange.prompt_tokens, eager_exchange.completion_tokens)


def test_a_settled_meter_never_counts_a_stream_whose_provider_reported_usage():
    settling = SettlingExchange()
    meter = StreamMeter(settling, MESSAGES)
    for text in TEXTS:
        meter.count(chunk(text))
    meter.reported({"prompt_tokens": 7, "completion_tokens": 70})  # the usage chunk
    meter.count(chunk("after"))
    assert settling.end() == (7, 70) and meter.completion == 0


def test_a_settled_meter_counts_long_streams_on_the_way_to_bound_the_final_count():
    settling = SettlingExchange()
    meter = StreamMeter(settling, MESSAGES)
    for _ in range(1000):
        meter.count(chunk(" word"))
    assert meter.pending_chars < 4096 and 0 < settling.completion_tokens < 1000
    assert settling.end()[1] == 1000

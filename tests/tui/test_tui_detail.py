"""The detail view's less travelled paths: probe reports, released captures, gauges."""

from __future__ import annotations

from behest_local.exchange.events import ProbeReported
from behest_local.observe.trace_db import DB_FILE, TraceDB
from behest_local.tui.app import BehestApp
from behest_local.tui.feed import ConfigStatus
from behest_local.tui.header import HeaderState, header_text
from tests.trace_support import fake_exchange, make_store, rendered, settle

URL = "http://127.0.0.1:7717"


async def test_a_probe_report_shows_next_to_the_exchange_it_measured():
    store, clock = make_store()
    exchange = fake_exchange(store, clock, 1, stream=True, pieces=["a", "b", "c"])
    app = BehestApp(store, url=URL, tick=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        store.publish(ProbeReported(exchange.id, clock(), "events left the gateway 20 ms apart "
                                    "but arrived together 1.2 s later: something between is "
                                    "buffering", "buffered", (1.4, 1.4, 1.4, 1.4, 1.4),
                                    ("compressed SSE (Content-Encoding: gzip)",)), exchange)
        app.refresh_feed()
        await settle(pilot)
        assert "probe  buffered: events left the gateway 20 ms apart" in rendered(app)
        app.detail.show_tab("timeline")
        await settle(pilot)
        screen = rendered(app)
        assert "probe: BUFFERED events left the gateway" in screen
        table = app.query_one("#timeline-table").lines
        assert "client" in table[2] and "probe finding: compressed SSE" in table[0]
        assert "1400" in table[3]  # the first event's arrival at the probe, in ms


async def test_a_released_capture_is_read_back_from_the_trace_database(tmp_path):
    store, clock = make_store()
    db = TraceDB(tmp_path / DB_FILE, interval=0.02, max_age=1e12)
    db.start()
    store.subscribe(db.subscriber)
    exchange = fake_exchange(store, clock, 1, stream=True, pieces=["kept ", "on disk"])
    assert db.flush()
    exchange.capture.release()  # the memory budget gave its bytes back
    app = BehestApp(store, url=URL, tick=3600, db=db)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert app.detail.record["message"]["choices"][0]["content"] == "kept on disk"
            assert "traces: saved" in rendered(app)
    finally:
        db.close()


def test_the_header_shows_rate_limit_gauges_and_pause():
    text = header_text(HeaderState(url=URL, config=ConfigStatus(), vault="vault: no keys",
                                   rate=2.5, in_flight=1, gauges=(("local rpm", 45, 60),),
                                   paused=True)).plain
    assert "2.5 req/s · 1 in flight" in text
    assert "local rpm ████░░ 45/60" in text and "PAUSED" in text


def test_the_header_says_which_project_a_kill_switch_stopped_and_its_revival():
    from behest_local.exchange.events import KillSwitchChanged
    from behest_local.tui.feed import Feed

    feed = Feed()
    feed.config_event(KillSwitchChanged(0.0, "kill_switches.json", "project", "local", True,
                                        "abuse"))
    killed = header_text(HeaderState(url=URL, config=feed.config, vault="", rate=0,
                                     in_flight=0))
    assert "kill switch  project local killed (abuse)" in killed.plain
    assert "config ok" not in killed.plain and feed.config.detail is None  # no error toast
    assert any("red" in str(span.style) for span in killed.spans)
    feed.config_event(KillSwitchChanged(0.0, "kill_switches.json", "provider", "openai",
                                        False))
    revived = header_text(HeaderState(url=URL, config=feed.config, vault="", rate=0,
                                      in_flight=0)).plain
    assert "kill switch  provider openai revived" in revived


def test_bodies_are_recorded_as_sent_and_indented_for_display():
    from behest_local.observe.record import build_record
    from behest_local.tui import panes

    store, clock = make_store()
    record = build_record(fake_exchange(store, clock, 1, pieces=["Hi"]))
    assert "\n" not in record["request"]["body"]  # as the client sent it
    lines = panes.request_lines(record, 120)
    assert '  "model": "gpt-4o-mini",' in lines and "(first 64 KiB)" not in "".join(lines)
    assert '        "content": "Hi"' in panes.response_lines(record, 120)
    assert panes.body_lines('{"cut at the cap": ') == ('{"cut at the cap": ',)
    assert panes.body_lines("plain\ntext") == ("plain", "text")

"""Smoke test of the benchmark harness (``bench/``), so it cannot rot between hand runs.

The real measurements are run by hand (``python -m bench``); this starts the same three
processes a run starts (the fake upstream, the bare proxy, behest-local through its CLI
with a generated ``behest.toml`` and API key), pushes a handful of requests and short
streams through each with the harness's own clients, and renders the table. Tiny sizes:
it checks that the pieces fit, not how fast they are.
"""

from __future__ import annotations

import asyncio

import pytest

from bench import emulated, report, scenarios, targets

pytestmark = pytest.mark.timeout(60)

TINY = scenarios.Plan(rounds=1, seconds=1, latency_requests=5, streams_per_round=1,
                      chunks=8, fanout=(4,))


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bench")
    logs = workdir / "logs"
    started: list[targets.Target] = []
    try:
        upstream = targets.start_upstream(logs, pace_ms=5)
        started.append(upstream)
        started.append(targets.start_bare(logs, upstream))
        started.append(targets.start_behest(logs, targets.BehestSetup.create(workdir, upstream)))
        yield started
    finally:
        for target in reversed(started):
            target.stop()


def test_every_target_answers_correctly(running):
    for target in running:
        assert asyncio.run(scenarios.preflight(target)) is None, target.name


def test_latency_and_relay_scenarios_measure_every_target(running):
    latency = asyncio.run(scenarios.latency(running, TINY))
    relay = asyncio.run(scenarios.relay(running, TINY))
    for target in running:
        assert latency[target.name]["n"] == TINY.latency_requests
        assert latency[target.name]["p50_ms"] > 0
        row = relay[target.name]
        assert row["events"] == TINY.chunks and row["missing"] == 0
        assert row["merged_chunks"] == 0  # every event its own write, gateway included
        assert row["chunks"] >= TINY.chunks
    assert "added_p99_ms" in relay["behest"] and "added_p50_ms" in latency["behest"]


def test_fanout_counts_streams_and_the_table_renders(running):
    fanout = asyncio.run(scenarios.fanout(running, TINY))
    for target in running:
        level = fanout[target.name][4]
        assert level["n"] == 4 and level["failed"] == 0
    behest = running[-1]
    e = {"behest": {"rss_mb": behest.proc.rss_mb(), "ready_s": behest.proc.ready_s}}
    lines = report.table({"d": fanout, "e": e}, {"litellm": "not run", "portkey": "not run"})
    text = "\n".join(lines)
    assert "| d | 4 streams" in text and "behest-local" in text
    assert e["behest"]["rss_mb"] > 10 and e["behest"]["ready_s"] > 0


def test_stamped_events_survive_the_gateway(running):
    reply = asyncio.run(scenarios.load.one_stream(running[-1], chunks=3))
    assert [seq for seq, _, _ in reply.events] == [0, 1, 2]
    assert all(arrived >= sent for _, sent, arrived in reply.events)


def test_servers_left_running_are_named_in_the_machine_lines(running):
    """The harness's own servers here stand in for ones an earlier run left behind."""
    strays = report.stray_servers()
    pids = {str(t.proc.pid) for t in running if t.proc is not None}
    assert pids <= {entry.split(" ", 1)[0] for entry in strays}
    assert "Caveat" in report.strays_warning(strays)
    assert report.strays_warning([]) is None


def test_emulated_scenarios_measure_the_offline_model_against_the_relay(running):
    behest = running[-1]
    g = emulated.emulated_vs_relay(behest, TINY)
    assert g["emulated"]["rps"] > 0 and g["behest"]["rps"] > 0 and g["ratio"] > 0
    h = asyncio.run(emulated.emulated_streams(behest, TINY, streams=4))
    # The echo prompt makes one long stream: role, ~2,000 tokens, finish, [DONE].
    assert h["events"] > 2 * emulated.FAST_WORDS and h["events_per_s"] > 0
    paced = h["paced"][4]
    assert paced["n"] == 4 and paced["failed"] == 0 and paced["stalled"] == 0
    # Paced by the model at 50 tokens a second: 8 events take at least 6 gaps of ~20 ms.
    assert paced["max_gap_ms"] >= 10
    text = "\n".join(report.table({"g": g, "h": h}, {}))
    assert "| g | req/s, 16 connections: emulated model vs relay" in text
    assert "| h | 4 emulated streams" in text


def test_ratio_rows_judge_b_and_c_against_the_bare_proxy():
    b = {"bare": {"p50_ms": 1, "p99_ms": 2, "added_p50_ms": 0.40, "added_p99_ms": 1.0},
         "behest": {"p50_ms": 1, "p99_ms": 2, "added_p50_ms": 0.52, "added_p99_ms": 1.0}}
    c = {name: {"p50_ms": 1, "p99_ms": 1, "added_p50_ms": 0.2, "added_p99_ms": added,
                "merged_chunks": 0, "chunks": 64, "missing": 0, "events": 64, "merged_reads": 0,
                "reads": 64} for name, added in (("bare", 0.30), ("behest", 0.38))}
    text = "\n".join(report.table({"b": b, "c": c}, {}))
    assert "| 1.30× | ≤ 1.2× | **no** |" in text  # 0.52 / 0.40
    assert "| +0.08 ms | ≤ +0.10 ms | yes |" in text  # 0.38 − 0.30


def test_fanout_target_is_2000_streams_or_the_bare_proxys_limit():
    ok, stalled = {"stalled": 0, "failed": 0}, {"stalled": 3, "failed": 0}
    levels = [128, 1000, 2000]
    assert report.required_fanout({"bare": {128: ok, 1000: ok, 2000: ok}}, levels) == 2000
    assert report.required_fanout({"bare": {128: ok, 1000: ok, 2000: stalled}}, levels) == 1000
    assert report.required_fanout({}, levels) == 2000

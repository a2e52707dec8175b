"""Scenarios g and h of issue 25: the emulated model, what most users hit offline.

Both run against the behest-local the run already started, with a model no provider key
serves (``gpt-4o-mini``: no OpenAI key in the vault, so routing answers it offline), as
a user without keys calls it:

* g ``emulated_vs_relay``: non-streamed chat at 16 connections, rounds interleaved with
  behest-local's own relay to the fake upstream (scenario a's load and its CPU time per
  request); the ratio emulated / relay. Answering locally must be no slower than
  relaying: the emulated model composes its answer where the relay only passes bytes on,
  but it skips the upstream hop and its parsing.
* h ``emulated_streams``: events/s of one stream as fast as possible (``tps=0``, about
  2,000 content events: ``Respond with "…"`` makes the model echo a long text), median
  of rounds, with the gateway's CPU time per event; then ``STREAMS`` (1,000) concurrent streams
  paced by the model itself (``x-behest-emulate: tps=50``, an event every 20 ms as d's
  upstream sends them; 64 events each, cut by ``max_tokens``), with d's stall
  definition: two events of a stream more than 200 ms apart.
"""

from __future__ import annotations

import statistics
from dataclasses import replace

from bench import load, scenarios
from bench.targets import Target

MODEL = "gpt-4o-mini"
PACE_MS = 20.0
STREAMS = 1000
"""h's concurrent paced streams (issue 25)."""
FAST_WORDS = 1000
"""Words the fast stream echoes: ~2,000 tokens, each its own event."""


def echo_prompt(words: int) -> str:
    """A prompt the emulated model answers with ``words`` words (2 tokens each) verbatim."""
    return 'Respond with "' + " ".join(f"fox{i}" for i in range(words)) + '".'


def emulated(behest: Target, *, words: int | None = None, tps: float | None = None) -> Target:
    """``behest`` (same process, key and port) asked for the emulated model: with a's
    prompt, or one it answers with ``words`` words."""
    headers = dict(behest.headers)
    if tps is not None:
        headers["x-behest-emulate"] = f"tps={tps:g}"
    return replace(behest, name="emulated", model=MODEL, prompt=None if words is None else echo_prompt(words),
                   headers=headers)


def emulated_vs_relay(behest: Target, plan: scenarios.Plan) -> dict:
    """Scenario g: the same gateway answering offline vs relaying, interleaved rounds."""
    out = scenarios.throughput([behest, emulated(behest)], plan)
    relay, local = out.get("behest") or {}, out.get("emulated") or {}
    if relay.get("rps") and local.get("rps"):
        out["ratio"] = local["rps"] / relay["rps"]
    return out


async def emulated_streams(behest: Target, plan: scenarios.Plan,
                           streams: int = STREAMS) -> dict:
    """Scenario h: one stream's events/s as fast as possible; many paced streams' stalls."""
    fast = emulated(behest, words=FAST_WORDS, tps=0)
    rates: list[float] = []
    cpu: list[float] = []
    events = 0
    await load.one_stream(fast, chunks=4 * FAST_WORDS, timeout=60)  # warm-up
    for _ in range(plan.rounds):
        before = fast.proc.cpu_s() if fast.proc else 0.0
        reply = await load.one_stream(fast, chunks=4 * FAST_WORDS, timeout=60)
        events = len(reply.arrivals)
        span_ns = reply.arrivals[-1] - reply.head_ns if events else 0
        if span_ns > 0:
            rates.append(events / (span_ns / 1e9))
        if fast.proc and events:
            cpu.append((fast.proc.cpu_s() - before) / events * 1e6)
    paced = emulated(behest, words=plan.chunks, tps=1000 / PACE_MS)
    results = await load.streams(paced, count=streams, chunks=plan.chunks,
                                 timeout=plan.chunks * PACE_MS / 1000 + 60)
    return {"events_per_s": statistics.median(rates) if rates else None,
            "events": events, "rates": [round(r) for r in rates],
            "cpu_us": statistics.median(cpu) if cpu else None,
            "paced": {streams: scenarios.summarize_streams(results, plan.chunks,
                                                           stamped=False)}}

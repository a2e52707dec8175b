"""Scenarios a–f of issues 9 and 25. Each takes the started targets and returns plain dicts.

Results are keyed by target name; a target that failed a scenario gets ``{"error": …}``
there and the run goes on. Where targets are compared against ``direct``, the rounds are
interleaved (direct, bare, behest, … then again), as cuihuan's harness does, so a burst
of load from elsewhere on the machine hits every target alike rather than one.

* a ``throughput``: non-streamed requests at 16 connections, median of the rounds, and
  the target process's CPU time per request (``/proc``): steadier than req/s when other
  work shares the machine, since it counts only the target's own cycles;
* b ``latency``: sequential requests; p50/p99 per target, added = target − direct;
* c ``relay``: single streams paced at 20 ms; per event, arrival − the upstream's stamp;
  added p50/p99 against direct; merged events counted per HTTP chunk (one chunk is one
  ``write`` of the server) and per TCP read (the client's view);
* d ``fanout``: N concurrent streams of 64 events at 20 ms; a stream stalls if two of its
  events arrive more than 200 ms apart; a failed or short stream counts as failed; the
  target's CPU time per relayed event at each level;
* e (in ``run``) and f (``tui``, ``run``) reuse these, as do g and h (the emulated
  model, ``bench.emulated``).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from bench import load
from bench.rawhttp import Reply
from bench.targets import Target

STALL_MS = 200.0
FANOUT = (128, 256, 512, 1000, 2000)
"""d's stream counts: issue 25's target is 2,000 (or the bare proxy's limit if lower)."""


@dataclass(frozen=True)
class Plan:
    """How much to measure: ``quick`` is for building and checking the harness."""

    rounds: int
    seconds: float
    """Per target and round of scenario a."""
    latency_requests: int
    streams_per_round: int
    chunks: int
    fanout: tuple[int, ...]

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(rounds=2, seconds=3, latency_requests=150, streams_per_round=1,
                       chunks=64, fanout=FANOUT)
        return cls(rounds=5, seconds=10, latency_requests=400, streams_per_round=2,
                   chunks=64, fanout=FANOUT)


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0–1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def throughput(targets: list[Target], plan: Plan, connections: int = 16) -> dict:
    rounds: dict[str, list[load.Throughput]] = {t.name: [] for t in targets}
    cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    errors: dict[str, str] = {}
    for target in targets:  # warm-up: connections, caches, pools
        try:
            load.throughput(target, connections=connections, seconds=1)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            errors[target.name] = str(exc)[:200]
    for _ in range(plan.rounds):
        for target in targets:
            if target.name in errors:
                continue
            try:
                before = target.proc.cpu_s() if target.proc else 0.0
                result = load.throughput(target, connections=connections, seconds=plan.seconds)
                if target.proc and result.requests:
                    cpu[target.name].append((target.proc.cpu_s() - before) / result.requests)
                rounds[target.name].append(result)
            except Exception as exc:  # noqa: BLE001
                errors[target.name] = str(exc)[:200]
    out: dict = {}
    for name, runs in rounds.items():
        if name in errors or not runs:
            out[name] = {"error": errors.get(name, "no run")}
            continue
        out[name] = {"rps": statistics.median(r.rps for r in runs),
                     "rounds": [round(r.rps) for r in runs],
                     "errors": sum(r.errors for r in runs), "tool": runs[0].tool,
                     "cpu_us": statistics.median(cpu[name]) * 1e6 if cpu[name] else None,
                     "p50_ms": statistics.median(r.p50_ms for r in runs if r.p50_ms) if
                     any(r.p50_ms for r in runs) else None}
    return out


async def latency(targets: list[Target], plan: Plan) -> dict:
    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    timing: dict[str, list[float]] = {t.name: [] for t in targets}
    errors: dict[str, str] = {}
    per_round = max(1, plan.latency_requests // plan.rounds)
    for target in targets:
        try:
            await load.latency(target, count=20, seconds=10)  # warm-up
        except Exception as exc:  # noqa: BLE001
            errors[target.name] = str(exc)[:200]
    for _ in range(plan.rounds):
        for target in targets:
            if target.name in errors:
                continue
            try:
                replies = await load.latency(target, count=per_round, seconds=60)
            except Exception as exc:  # noqa: BLE001
                errors[target.name] = str(exc)[:200]
                continue
            samples[target.name] += [(r.end_ns - r.sent_ns) / 1e6 for r in replies]
            timing[target.name] += [gateway_ms(r) for r in replies if gateway_ms(r) is not None]
    direct = samples.get("direct") or []
    out: dict = {}
    for name, values in samples.items():
        if name in errors:
            out[name] = {"error": errors[name]}
            continue
        row = {"n": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99)}
        if direct and name != "direct":
            row["added_p50_ms"] = row["p50_ms"] - pct(direct, 0.5)
            row["added_p99_ms"] = row["p99_ms"] - pct(direct, 0.99)
        if timing[name]:
            row["server_timing_p50_ms"] = pct(timing[name], 0.5)
            row["server_timing_p99_ms"] = pct(timing[name], 0.99)
        out[name] = row
    return out


def gateway_ms(reply: Reply) -> float | None:
    """The ``gateway`` metric of a ``Server-Timing`` header, if the reply has one."""
    value = reply.headers.get("server-timing")
    if not value:
        return None
    from behest_local.server.timing_header import parse_server_timing

    return parse_server_timing(value).get("gateway")


async def relay(targets: list[Target], plan: Plan) -> dict:
    delays: dict[str, list[float]] = {t.name: [] for t in targets}
    counts: dict[str, dict] = {t.name: dict(events=0, reads=0, merged_reads=0, max_per_read=0,
                                            chunks=0, merged_chunks=0, max_per_chunk=0,
                                            missing=0) for t in targets}
    errors: dict[str, str] = {}
    for _ in range(plan.rounds):
        for target in targets:
            if target.name in errors:
                continue
            for _ in range(plan.streams_per_round):
                try:
                    reply = await load.one_stream(target, chunks=plan.chunks, timeout=60)
                except Exception as exc:  # noqa: BLE001
                    errors[target.name] = str(exc)[:200]
                    break
                delays[target.name] += [(arrived - sent) / 1e6
                                        for _, sent, arrived in reply.events]
                c = counts[target.name]
                c["events"] += len(reply.events)
                c["missing"] += plan.chunks - len({seq for seq, _, _ in reply.events})
                c["reads"] += reply.reads
                c["merged_reads"] += reply.merged_reads
                c["max_per_read"] = max(c["max_per_read"], reply.max_events_per_read)
                c["chunks"] += reply.chunks
                c["merged_chunks"] += reply.merged_chunks
                c["max_per_chunk"] = max(c["max_per_chunk"], reply.max_events_per_chunk)
    direct = delays.get("direct") or []
    out: dict = {}
    for name, values in delays.items():
        if name in errors:
            out[name] = {"error": errors[name]}
            continue
        row = {"p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99), **counts[name]}
        if direct and name != "direct":
            row["added_p50_ms"] = row["p50_ms"] - pct(direct, 0.5)
            row["added_p99_ms"] = row["p99_ms"] - pct(direct, 0.99)
        out[name] = row
    return out


async def fanout(targets: list[Target], plan: Plan) -> dict:
    """Stall-free concurrent streams per level; a target that fails every stream of a level
    is not asked for the higher ones (bounded time)."""
    out: dict = {}
    for target in targets:
        levels: dict[int, dict] = {}
        for count in plan.fanout:
            timeout = plan.chunks * 0.02 + 60
            before = target.proc.cpu_s() if target.proc else 0.0
            results = await load.streams(target, count=count, chunks=plan.chunks,
                                         timeout=timeout)
            levels[count] = summarize_streams(results, plan.chunks)
            events = sum(len(r.events) for r in results if not isinstance(r, BaseException))
            if target.proc and events:
                levels[count]["cpu_us"] = (target.proc.cpu_s() - before) / events * 1e6
            if levels[count]["stalled"] + levels[count]["failed"] == count:
                break
        out[target.name] = levels
    return out


def summarize_streams(results: list, chunks: int, *, stamped: bool = True) -> dict:
    """Stalled and failed streams of one level; ``stamped=False`` times every SSE event
    (the emulated model's carry no upstream stamp) and needs at least ``chunks`` of them."""
    stalled = failed = 0
    worst = 0.0
    gaps: list[float] = []
    spans: list[tuple[int, int]] = []
    first_error = ""
    for result in results:
        if isinstance(result, BaseException):
            failed += 1
            first_error = first_error or f"{type(result).__name__}: {result}"[:160]
            continue
        if stamped:
            arrivals = [arrived for _, _, arrived in result.events]
            seen = len({seq for seq, _, _ in result.events})
        else:
            arrivals = result.arrivals
            seen = len(arrivals)
        if seen < chunks:
            failed += 1
            continue
        stream_gaps = [(b - a) / 1e6 for a, b in zip(arrivals, arrivals[1:])]
        gaps += stream_gaps
        biggest = max(stream_gaps, default=0.0)
        worst = max(worst, biggest)
        stalled += biggest > STALL_MS
        spans.append((result.sent_ns, result.end_ns))
    return {"n": len(results), "stalled": stalled, "failed": failed, "max_gap_ms": worst,
            "p99_gap_ms": pct(gaps, 0.99), "peak": peak_overlap(spans), "first_error": first_error}


def peak_overlap(spans: list[tuple[int, int]]) -> int:
    """The most streams that were open at the same moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak

async def preflight(target: Target, chunks: int = 4) -> str | None:
    """Why ``target`` cannot be measured (a wrong answer is no benchmark), or None."""
    try:
        replies = await load.latency(target, count=1, seconds=30)
        if b'"choices"' not in bytes(replies[0].body):
            return f"non-streamed answer without choices: {bytes(replies[0].body)[:200]!r}"
        reply = await load.one_stream(target, chunks=chunks, timeout=30)
    except Exception as exc:  # noqa: BLE001 - the reason is the result
        return f"{type(exc).__name__}: {exc}"[:300]
    seen = sorted({seq for seq, _, _ in reply.events})
    if seen != list(range(chunks)):
        return f"stream relayed events {seen} of {chunks}"
    return None

"""The probe's verdict: is the stream buffered between the gateway and the app, and why.

Input: what the probe measured (probe.ProbeResult) and, when the response named a
gateway exchange, that exchange's departure times (the gateway timeline). Output: a
``Verdict`` with a level, a one-line headline, findings, the usual causes with their
fixes, and per-event rows for the timeline. The level decides the exit code (``LEVELS``,
which ``probe --help`` and the README state): ``ok`` and ``warning`` 0 (not buffered;
a warning names something to fix anyway), ``buffered`` 1, ``undecided`` (too few events)
and ``error`` (no stream to judge: the request failed, or the answer is not a stream) 2.

The rules, with a gateway timeline (the reliable case):

* events that left the gateway spread out (over ``SPREAD`` seconds) but arrived within a
  quarter of that spread were held and released together: **buffered**;
* most gaps shrinking to nothing on arrival while events were held ``HELD`` or more:
  released in bursts, a buffer flushing when full: **buffered**;
* every event arriving within ``HELD`` of its departure: **ok**;
* events uniformly late: a slow hop (latency), not buffering: **warning**.

Without one, only the arrival pattern is left: everything arriving at once after a
silence *looks* buffered. That is **buffered** too (exit 1: a CI check must not pass a
stream that arrives in one piece), with a finding saying how to make the verdict certain
(``--gateway URL``, or the gateway's ``X-Request-Id`` passed through), since an upstream
can also produce a reply at once. Headers are judged either way: ``Content-Encoding`` on
SSE, a ``Content-Length`` (the whole body existed before the first byte was sent), missing
``X-Accel-Buffering: no`` and ``Cache-Control: no-transform``. Their fixes follow the cases
in peers.md §3 (LiteLLM, Vercel AI, cloudflared, Starlette GZip, nginx).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from statistics import median

from behest_local.probe.measure import ProbeResult

LEVELS = {"ok": (0, "no buffering found"),
          "warning": (0, "not buffered, but something on the way deserves a look"),
          "buffered": (1, "buffered, or looks buffered when the gateway's timing is unknown"),
          "undecided": (2, "too few events to judge"),
          "error": (2, "no stream to judge: the request failed or the answer is not a stream")}
"""Each verdict level's exit code and meaning: the one table ``probe --help`` prints."""

SPREAD = 0.1
HELD = 0.25  # below this, per-event delay is latency or scheduling noise, not buffering
TOGETHER = 0.02

CAUSES = [
    "compression: a gzip/brotli step (proxy `gzip on`, Express compression(), Starlette "
    "GZipMiddleware, Next.js compress) holds events until its window fills. Exclude "
    "text/event-stream from it, or send `Content-Encoding: none` on the stream.",
    "nginx: proxied responses are buffered unless told otherwise. Set `proxy_buffering off;` "
    "(and `gzip off;`) for the location, or let the upstream's `X-Accel-Buffering: no` "
    "through (do not add it to `proxy_ignore_headers` or `proxy_hide_header`).",
    "the app's own code: awaiting the whole upstream body (`await resp.text()`, "
    "`response.json()`) or returning a non-streaming response. Pipe the upstream body "
    "through (a ReadableStream, StreamingResponse, `stream_with_context`) and flush per "
    "event (Express: `res.flushHeaders()`, then `res.write` per chunk).",
    "a CDN or tunnel (Cloudflare, cloudflared, a corporate proxy): send `Cache-Control: "
    "no-cache, no-transform`; some tunnels buffer SSE regardless, so probe the origin "
    "directly to confirm.",
]


@dataclass(slots=True)
class Row:
    index: int
    arrival: float
    gap: float | None
    departure: float | None = None
    """Seconds after the request was sent, on the probe's clock (None: no timeline)."""
    size: int = 0
    burst: bool = False

    @property
    def delay(self) -> float | None:
        return None if self.departure is None else self.arrival - self.departure


@dataclass(slots=True)
class Verdict:
    level: str
    headline: str
    findings: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    gateway_events: int | None = None

    @property
    def exit_code(self) -> int:
        return LEVELS[self.level][0]

    @property
    def decided(self) -> bool:
        """Whether the stream was judged (what is worth reporting to the gateway's TUI)."""
        return self.level in ("ok", "warning", "buffered")


def judge(result: ProbeResult, timeline: dict | None) -> Verdict:
    if result.error is not None and not result.events and result.status is None:
        return Verdict("error", f"the request failed: {result.error}")
    said = _said(result.body)
    if result.status is not None and result.status >= 400:
        return Verdict("error", f"the server answered HTTP {result.status}, not a stream"
                                + (f": {said}" if said else ""))
    content_type = (result.header("content-type") or "").lower()
    if "text/event-stream" not in content_type:
        return Verdict("error", f"the server answered HTTP {result.status} but not an event "
                                f"stream (Content-Type: {content_type or 'none'}); ask for a "
                                "streaming response (e.g. \"stream\": true)")
    rows = _rows(result, timeline)
    verdict = _timing(rows, timeline) if timeline else _arrivals_only(rows, result)
    verdict.rows = rows
    verdict.findings += _header_findings(result)
    if timeline is not None:
        verdict.gateway_events = len(timeline.get("departures_unix", []))
        if verdict.gateway_events != len(rows):
            verdict.findings.append(
                f"the gateway sent {verdict.gateway_events} events and the probe received "
                f"{len(rows)}: something between rewrote the stream")
    if result.error is not None:
        verdict.findings.append(f"the stream ended with an error: {result.error}")
    if verdict.level == "ok" and any(f.startswith("compressed") for f in verdict.findings):
        verdict.level = "warning"
    if verdict.level in ("buffered", "warning") and not verdict.causes:
        compressed = any(f.startswith("compressed") for f in verdict.findings)
        # The likeliest cause first: compression when the stream arrived compressed.
        verdict.causes = CAUSES if compressed else CAUSES[1:] + CAUSES[:1]
    return verdict


def _said(body: bytes, limit: int = 300) -> str:
    """What an error body says: its ``error.message`` (OpenAI's and Behest's nested shape),
    its ``error`` string (Behest's flat one) or ``message``, else its first line of text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        message = message if isinstance(message, str) else data.get("message")
        if isinstance(message, str):
            text = message
    line = text.splitlines()[0].strip() if text else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _rows(result: ProbeResult, timeline: dict | None) -> list[Row]:
    departures = []
    if timeline:
        departures = [t - result.sent_unix for t in timeline.get("departures_unix", [])]
    rows, previous = [], None
    for event in result.events:
        dep = departures[event.index] if event.index < len(departures) else None
        gap = None if previous is None else event.arrival - previous.arrival
        row = Row(event.index, event.arrival, gap, dep, event.size)
        if previous is not None and gap is not None and gap < 0.002 and dep is not None \
                and previous.departure is not None:
            # Only with departures: events that left together may arrive together.
            row.burst = dep - previous.departure >= TOGETHER
        rows.append(row)
        previous = row
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _timing(rows: list[Row], timeline: dict) -> Verdict:
    paired = [r for r in rows if r.departure is not None]
    if len(paired) < 3:
        return Verdict("undecided", f"too few events to judge ({len(paired)} matched the "
                                  "gateway's timeline)")
    dep_span = paired[-1].departure - paired[0].departure
    arr_span = paired[-1].arrival - paired[0].arrival
    delays = [r.delay for r in paired]
    dep_gaps = [b.departure - a.departure for a, b in zip(paired, paired[1:])]
    typical_gap = median(dep_gaps)
    worst = max(delays)
    if dep_span >= SPREAD and arr_span <= max(TOGETHER, dep_span / 4):
        return Verdict("buffered", (
            f"events left the gateway {_ms(typical_gap)} apart but arrived together "
            f"{_ms(paired[0].delay)} later: something between is buffering"))
    shrunk = sum(1 for a, b in zip(paired, paired[1:])
                 if b.departure - a.departure >= TOGETHER and b.arrival - a.arrival < 0.002)
    if worst >= HELD and shrunk >= max(2, len(dep_gaps) // 3):
        bursts = 1 + sum(1 for a, b in zip(paired, paired[1:]) if b.arrival - a.arrival >= 0.002)
        return Verdict("buffered", (
            f"events left the gateway {_ms(typical_gap)} apart but arrived in {bursts} bursts, "
            f"held up to {_ms(worst)}: a buffer between flushes when it fills"))
    if worst < HELD:
        if dep_span < SPREAD and len(paired) >= 5:
            return Verdict("ok", f"no buffering after the gateway: all {len(paired)} events "
                                 f"arrived within {_ms(worst)} of leaving it (the gateway "
                                 f"itself sent them within {_ms(dep_span)}: the upstream "
                                 "produced them together)")
        return Verdict("ok", f"no buffering: every event arrived within {_ms(worst)} of leaving "
                             f"the gateway (median {_ms(median(delays))}), "
                             f"{_ms(typical_gap)} apart as sent")
    return Verdict("warning", f"events arrive {_ms(median(delays))} after leaving the gateway, "
                              "evenly spaced as sent: a slow hop (latency), not buffering")


def _arrivals_only(rows: list[Row], result: ProbeResult) -> Verdict:
    if not result.request_id:
        note = ("the response has no X-Request-Id, so the probe cannot compare with the "
                "gateway: pass the gateway's X-Request-Id response header back through "
                "your app (copy it onto your response)")
        certain = ("pass the gateway's X-Request-Id response header back through your app "
                   "(the response has none)")
    else:
        note = (f"X-Request-Id {result.request_id} is not an exchange of a gateway the probe "
                "could reach (use --gateway URL)")
        certain = (f"point --gateway URL at the behest-local your app uses (X-Request-Id "
                   f"{result.request_id} is not an exchange of a gateway the probe reached)")
    if len(rows) < 3:
        return Verdict("undecided", f"too few events to judge ({len(rows)})", [note])
    span = rows[-1].arrival - rows[0].arrival
    if span <= TOGETHER and rows[0].arrival >= 0.3:
        return Verdict("buffered", (
            f"all {len(rows)} events arrived within {_ms(span)} after {_ms(rows[0].arrival)} "
            "of silence: the stream looks buffered"), [
            f"to make this verdict certain, {certain}: the probe then compares each event's "
            "arrival with when it left the gateway (an upstream that produced the whole "
            "reply at once looks the same from here)"])
    gaps = [r.gap for r in rows if r.gap is not None]
    return Verdict("ok", f"{len(rows)} events arrived over {_ms(span)} in {result.reads} reads "
                         f"(median gap {_ms(median(gaps))}): no sign of buffering", [note])


def _header_findings(result: ProbeResult) -> list[str]:
    out = []
    encoding = (result.header("content-encoding") or "").strip().lower()
    if encoding and encoding not in ("identity", "none"):
        out.append(f"compressed SSE (Content-Encoding: {encoding}): compressors hold events "
                   "until their window fills; exclude text/event-stream from compression")
    if result.header("content-length") is not None:
        out.append("the stream has a Content-Length: the whole body existed before its first "
                   "byte was sent, so something collected it first")
    if (result.header("x-accel-buffering") or "").strip().lower() != "no":
        out.append("no `X-Accel-Buffering: no` header: an nginx in front buffers the stream "
                   "unless its location sets `proxy_buffering off`")
    cache = (result.header("cache-control") or "").lower()
    if "no-transform" not in cache:
        out.append("no `Cache-Control: no-transform`: CDNs and proxies may compress or rewrite "
                   "the stream (send `Cache-Control: no-cache, no-transform`)")
    return out

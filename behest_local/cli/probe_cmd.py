"""``behest-local probe URL [-H 'Name: value'] [-d JSON]``: arguments and printed report.

``add_probe_parser`` registers the command on the CLI's subparsers; ``run_probe`` runs it
and returns the exit code of the verdict's level (``verdict.LEVELS``, which ``probe --help``
prints: 0 not buffered, 1 buffered or looks buffered, 2 undecided or no stream to judge).
Measuring is probe/measure.py's, judging probe/verdict.py's; this module prints, and reports
the verdict to the gateway so its TUI shows it next to the exchange.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from behest_local.cli.lazy_help import KeepLines, lazy_epilog
from behest_local.probe import measure as probe

if TYPE_CHECKING:
    from behest_local.probe.verdict import Row, Verdict

SHOWN_HEADERS = ("content-type", "content-encoding", "content-length", "transfer-encoding",
                 "cache-control", "x-accel-buffering", "x-request-id")
MAX_ROWS = 60


def add_probe_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "probe", help="measure a stream where your app receives it and find buffering",
        description="Request a stream (typically your app's route that proxies to "
                    "behest-local), time every event's arrival and say whether, where and "
                    "why it is buffered. Pass the gateway's X-Request-Id back through your app "
                    "so the probe can compare with the gateway's departure times.",
        add_help=False, formatter_class=KeepLines)
    lazy_epilog(parser, _exit_codes)
    parser.add_argument("url", metavar="URL", help="the streaming route to request")
    parser.add_argument("-H", "--header", action="append", default=[], metavar="'Name: value'",
                        help="request header (repeatable), as curl takes it")
    parser.add_argument("-d", "--data", metavar="JSON",
                        help="request body (implies POST); @FILE reads it from a file. Default "
                             "for a …/chat/completions URL: a short streaming chat request")
    parser.add_argument("-X", "--request", dest="method", metavar="METHOD",
                        help="HTTP method (default: POST with a body, else GET)")
    parser.add_argument("--gateway", metavar="URL",
                        help=f"behest-local's address for the timeline (default: the probed "
                             f"origin, the gateway running on --home's state dir, then "
                             f"{probe.DEFAULT_GATEWAY})")
    parser.add_argument("--home", help="state directory whose running gateway to ask "
                                       "(default: $BEHEST_LOCAL_HOME or the platform's user "
                                       "data dir)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--all", action="store_true", help="print every event's row")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    return parser


def _exit_codes() -> str:
    """The exit-code table, from the verdict levels that decide it."""
    from behest_local.probe.verdict import LEVELS

    return "exit codes (the verdict's level):\n" + "".join(
        f"  {code}  {level + ':':<10} {meaning}\n" for level, (code, meaning) in LEVELS.items())


def _body(args: argparse.Namespace) -> bytes | None:
    if args.data is None:
        return probe.default_body(args.url)
    if args.data.startswith("@"):
        return Path(args.data[1:]).read_bytes()
    return args.data.encode()


def run_probe(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        headers = [probe.parse_header(h) for h in args.header]
        body = _body(args)
    except (ValueError, OSError) as exc:
        print(f"behest-local: error: {exc}", file=sys.stderr)
        return 2
    import asyncio  # here, not at the top: the CLI imports this module to build its parser

    return asyncio.run(probe_and_print(args, headers, body, out))


async def probe_and_print(args: argparse.Namespace, headers: list[tuple[str, str]],
                          body: bytes | None, out: TextIO) -> int:
    from behest_local.probe.verdict import judge  # here: the CLI builds this parser on every run

    result = await probe.measure(args.url, headers=headers, body=body, method=args.method,
                                 timeout=args.timeout)
    base = timeline = None
    notes: list[str] = []
    if result.request_id:
        base, timeline, notes = await probe.fetch_timeline(
            probe.gateway_candidates(args.url, args.gateway, _running(args)),
            result.request_id)
    verdict = judge(result, timeline)
    if base and result.request_id and verdict.decided:
        await probe.report(base, result.request_id, {
            "verdict": verdict.headline, "level": verdict.level,
            "client_unix": result.arrivals_unix(), "findings": verdict.findings})
    if args.json:
        out.write(json.dumps(as_json(result, verdict, base), indent=1) + "\n")
    else:
        print_report(result, verdict, base, notes, out, show_all=args.all)
    return verdict.exit_code


def _running(args: argparse.Namespace) -> str | None:
    """The address of the gateway announced on the state dir (``runtime/address.py``),
    unless ``--gateway`` was given; the state dir is only read, never created."""
    if args.gateway:
        return None
    from behest_local.home import locate_home
    from behest_local.runtime import address

    found = address.running(locate_home(getattr(args, "home", None)))
    return found.url if found is not None else None


def as_json(result: probe.ProbeResult, verdict: Verdict, base: str | None) -> dict:
    return {"url": result.url, "status": result.status, "level": verdict.level,
            "verdict": verdict.headline, "findings": verdict.findings,
            "causes": verdict.causes, "request_id": result.request_id, "gateway": base,
            "headers": {k: v for k, v in result.headers if k.lower() in SHOWN_HEADERS},
            "events": [{"index": r.index, "arrival": r.arrival, "departure": r.departure,
                        "delay": r.delay, "size": r.size, "burst": r.burst}
                       for r in verdict.rows]}


def print_report(result: probe.ProbeResult, verdict: Verdict, base: str | None,
                 notes: list[str], out: TextIO, *, show_all: bool = False) -> None:
    w = out.write
    took = f" in {result.ended:.2f} s" if result.ended is not None else ""
    w(f"probe: {result.url} -> HTTP {result.status or '-'}, {len(result.events)} events, "
      f"{result.reads} reads{took}\n")
    for name, value in result.headers:
        if name.lower() in SHOWN_HEADERS:
            w(f"  {name}: {value}\n")
    if base:
        sent = verdict.gateway_events  # None when there was no stream to compare
        w(f"gateway: exchange {result.request_id} at {base}"
          + (f" ({sent} events sent)\n" if sent is not None else "\n"))
    elif result.request_id and notes:
        w(f"gateway: no timeline for {result.request_id} ({'; '.join(notes)})\n")
    w(f"\n{verdict.level.upper()}: {verdict.headline}\n")
    if verdict.findings:
        w("\nfindings:\n" + "".join(f"  - {f}\n" for f in verdict.findings))
    if verdict.causes:
        w("\nusual causes and fixes:\n" + "".join(f"  - {c}\n" for c in verdict.causes))
    if verdict.rows:
        w("\n" + _table(verdict.rows, show_all))


def _table(rows: list[Row], show_all: bool) -> str:
    timed = any(r.departure is not None for r in rows)
    head = f"{'#':>5} {'arrived ms':>11} {'gap ms':>8}"
    if timed:
        head += f" {'left gateway ms':>16} {'delay ms':>9}"
    lines = [head + f" {'bytes':>7}"]
    shown = rows if show_all or len(rows) <= MAX_ROWS else rows[:40] + rows[-10:]
    for n, r in enumerate(shown):
        if not show_all and len(rows) > MAX_ROWS and n == 40:
            lines.append(f"{'…':>5} {len(rows) - 50} more (--all prints every row)")
        line = f"{r.index:>5} {r.arrival * 1000:>11.1f} " + \
               (f"{r.gap * 1000:>8.1f}" if r.gap is not None else f"{'-':>8}")
        if timed:
            dep = f"{r.departure * 1000:>16.1f}" if r.departure is not None else f"{'-':>16}"
            delay = f"{r.delay * 1000:>+9.1f}" if r.delay is not None else f"{'-':>9}"
            line += f" {dep} {delay}"
        line += f" {r.size:>7}" + ("  <- arrived together" if r.burst else "")
        lines.append(line)
    return "\n".join(lines) + "\n"

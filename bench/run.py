"""``python -m bench``: start everything, run scenarios a–h, print and save the table.

    python -m bench                  # the full run (about 15 minutes on 2 cores)
    python -m bench --quick          # a short run, to check the harness (about 7 minutes)
    python -m bench --install-peers  # install LiteLLM and Portkey for the comparison
    python -m bench --only a,b --no-peers

Every server runs in its own process on loopback; they are all stopped at the end, also
on Ctrl-C or an error. The table goes to stdout and to ``bench/results/latest.md`` (or
``--out``); each child's log stays in ``bench/results/logs/``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import emulated, load, loops, peers, report, scenarios, targets, tui
from bench.targets import Target, Unavailable

HERE = Path(__file__).parent
RESULTS = HERE / "results"
ALL = "abcdefgh"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (harness check)")
    parser.add_argument("--only", default=ALL, help="scenarios to run, e.g. a,b,c")
    parser.add_argument("--no-peers", action="store_true", help="skip LiteLLM and Portkey")
    parser.add_argument("--install-peers", action="store_true",
                        help="install LiteLLM (bench/.venvs) and Portkey (bench/node_modules)")
    parser.add_argument("--fanout", help="stream counts for d, e.g. 128,256 (default "
                                         + ",".join(map(str, scenarios.FANOUT)) + ")")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.install_peers:
        for name, result in peers.install().items():
            print(f"{name}: {result}")
        return 0
    only = set(args.only.replace(",", ""))
    plan = scenarios.Plan.make(args.quick)
    if args.fanout:
        plan = scenarios.Plan(**{**plan.__dict__,
                                 "fanout": tuple(int(n) for n in args.fanout.split(","))})
    targets.raise_fd_limit()
    logs = RESULTS / "logs"
    workdir = Path(tempfile.mkdtemp(prefix="behest-bench-"))
    started_at = datetime.now(timezone.utc)
    load_before = report.load_average()
    strays = report.stray_servers()  # before this run starts any
    running: list[Target] = []
    unavailable: dict[str, str] = {}
    results: dict = {}
    try:
        upstream = targets.start_upstream(logs, pace_ms=20)
        running.append(upstream)
        running.append(targets.start_bare(logs, upstream))
        setup = targets.BehestSetup.create(workdir, upstream)
        behest = targets.start_behest(logs, setup)
        running.append(behest)
        if args.no_peers:
            unavailable.update(litellm="not run (--no-peers)", portkey="not run (--no-peers)")
        else:
            for peer in (peers.start_litellm(logs, upstream, workdir),
                         peers.start_portkey(logs, upstream)):
                if isinstance(peer, Unavailable):
                    unavailable[peer.name] = peer.reason
                else:
                    running.append(peer)
        for target in list(running):
            why = loops.run(scenarios.preflight(target))
            if why is not None:
                unavailable[target.name] = f"started, but answers wrongly: {why}"
                running.remove(target)
                target.stop()
        if "behest" in unavailable:
            raise SystemExit(f"behest-local cannot be measured: {unavailable['behest']}")
        _log(f"targets: {', '.join(t.name for t in running)}; "
             f"unavailable: {unavailable or 'none'}")
        if "e" in only:
            results["e"] = idle_and_ready(running, setup, logs, starts=1 if args.quick else 3)
        if "a" in only:
            _log("a: throughput at 16 connections")
            results["a"] = scenarios.throughput(running, plan)
        if "b" in only:
            _log("b: latency at concurrency 1")
            results["b"] = loops.run(scenarios.latency(running, plan))
        if "c" in only:
            _log("c: per-event relay delay of paced streams")
            results["c"] = loops.run(scenarios.relay(running, plan))
        if "g" in only:
            _log("g: the emulated model vs the relay, 16 connections")
            results["g"] = emulated.emulated_vs_relay(behest, plan)
        if "h" in only:
            _log(f"h: emulated streams: one as fast as possible, {emulated.STREAMS} paced")
            results["h"] = loops.run(emulated.emulated_streams(behest, plan))
        if "f" in only:
            _log("f: throughput with the TUI on a pty vs headless")
            results["f"] = with_tui(behest, setup, logs, plan)
        if "d" in only:
            _log(f"d: concurrent streams {plan.fanout}")
            results["d"] = loops.run(scenarios.fanout(running, plan))
    finally:
        for target in reversed(running):
            target.stop()
    text = render(results, unavailable, plan, args, started_at, load_before, strays)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    _log(f"written to {args.out}")
    return 0


def idle_and_ready(running: list[Target], setup: targets.BehestSetup, logs: Path, *,
                   starts: int) -> dict:
    """Scenario e: RSS after 2 s idle; behest's start-to-ready as the median of fresh starts."""
    time.sleep(2.0)
    out = {t.name: {"rss_mb": t.proc.rss_mb(), "ready_s": t.proc.ready_s}
           for t in running if t.proc is not None}
    # The first start of the run wrote the bytecode cache (procs.spawn), as a user's first
    # start after installing would: the measured starts are fresh processes after it.
    times = []
    for _ in range(starts):
        fresh = targets.start_behest(logs, setup)
        times.append(fresh.proc.ready_s)
        fresh.stop()
    out["behest"]["ready_s"] = statistics.median(times)
    out["behest"]["ready_runs"] = [round(t, 3) for t in times]
    return out


def with_tui(headless: Target, setup: targets.BehestSetup, logs: Path,
             plan: scenarios.Plan) -> dict:
    """Scenario f: alternate rounds of scenario a's load on headless and TUI gateways."""
    started = tui.start_behest_tui(logs, setup)
    if isinstance(started, Unavailable):
        return {"unavailable": started.reason}
    target, terminal, how = started
    try:
        load.throughput(target, connections=16, seconds=1)  # warm-up
        rounds: dict[str, list[float]] = {"headless": [], "tui": []}
        drawn = 0
        for _ in range(plan.rounds):
            rounds["headless"].append(load.throughput(headless, connections=16,
                                                      seconds=plan.seconds).rps)
            before = terminal.received
            rounds["tui"].append(load.throughput(target, connections=16,
                                                 seconds=plan.seconds).rps)
            drawn += terminal.received - before
        return {"headless_rps": statistics.median(rounds["headless"]),
                "tui_rps": statistics.median(rounds["tui"]), "how": how,
                "tui_bytes_drawn": drawn, "rounds": rounds}
    finally:
        target.stop()
        terminal.close()


def render(results: dict, unavailable: dict[str, str], plan: scenarios.Plan,
           args: argparse.Namespace, started_at: datetime, load_before: str,
           strays: list[str] = ()) -> str:
    versions = {"behest-local": f"{_behest_version()} ({targets.git_describe() or 'no git'})",
                "LiteLLM": peers.litellm_version() or "not installed",
                "Portkey gateway": peers.portkey_version() or "not installed",
                "load generator": _generator()}
    lines = [f"# behest-local benchmark — {started_at:%Y-%m-%d %H:%M} UTC"
             f"{' (quick run)' if args.quick else ''}", ""]
    lines += report.machine(versions)
    lines += [f"- load average before / after: {load_before} / {report.load_average()}",
              "- other gateway or harness processes at the start: "
              + (", ".join(strays) if strays else "none"),
              f"- plan: {plan}", ""]
    for caveat in (report.strays_warning(list(strays)), report.busy_warning(load_before)):
        if caveat:
            lines += [caveat, ""]
    lines += report.table(results, unavailable)
    f = results.get("f") or {}
    if f.get("how"):
        lines += ["", f"f: TUI started through {f['how']}; it drew "
                      f"{f['tui_bytes_drawn']:,} bytes to the terminal while loaded."]
    a = results.get("a") or {}
    if a:
        lines += ["", "a, per round (req/s): " + "; ".join(
            f"{k} {v.get('rounds')}" for k, v in a.items() if isinstance(v, dict))]
    lines.append("")
    return "\n".join(lines)


def _behest_version() -> str:
    from behest_local import __version__

    return __version__


def _generator() -> str:
    import shutil

    import aiohttp

    via = "wrk (a, f)" if shutil.which("wrk") else f"aiohttp {aiohttp.__version__} (a, f)"
    return f"{via}; raw asyncio sockets (b, c, d)"


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""Profile behest-local's hot path: ``python -m bench.profile a|c|g [--seconds N]``.

Starts the fake upstream and behest-local (headless, through its CLI, as scenario a–d
do) under pyinstrument (``pip install pyinstrument``), drives one scenario's load at it,
stops it with SIGTERM (its clean shutdown lets pyinstrument write the report) and saves
``bench/results/profile-<scenario>.txt`` (call tree), ``…-flat.txt`` (functions by self
time) and the ``.pyisession`` they were rendered from:

* ``a``: non-streamed requests at 16 connections (wrk, else aiohttp) for ``--seconds``;
* ``g``: the same load answered by the emulated model (``bench.emulated``);
* ``c``: 64 concurrent streams of 64 events paced at 20 ms, repeated for ``--seconds``
  (more streams than scenario c's single one, so the per-event path dominates).

The profile is of wall-clock time on the gateway's one thread: idle time in the event
loop's ``select`` shows how much headroom was left.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import emulated, load, loops, procs, targets
from bench.run import RESULTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=("a", "c", "g"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.0005, help="sampling interval, s")
    args = parser.parse_args(argv)
    if shutil.which("pyinstrument", path=str(Path(sys.executable).parent)) is None:
        raise SystemExit("pyinstrument is not installed: pip install pyinstrument")
    targets.raise_fd_limit()
    logs = RESULTS / "logs"
    workdir = Path(tempfile.mkdtemp(prefix="behest-profile-"))
    out = RESULTS / f"profile-{args.scenario}"
    upstream = targets.start_upstream(logs, pace_ms=20)
    setup = targets.BehestSetup.create(workdir, upstream)
    port = procs.free_port()
    serve = setup.argv(port)
    session = f"{out}.pyisession"
    pyinstrument = [sys.executable, "-m", "pyinstrument", "-i", str(args.interval),
                    "-r", "session", "-o", session]
    proc = procs.spawn("behest-profiled", [*pyinstrument, "-m", "behest_local", *serve[1:]],
                       logs / "behest-profiled.log")
    try:
        procs.wait_ready(proc, port, "/healthz", timeout=60, ok=lambda s: s == 200)
        target = setup.target(port, proc)
        if args.scenario in ("a", "g"):
            if args.scenario == "g":
                target = emulated.emulated(target)
            result = load.throughput(target, connections=16, seconds=args.seconds)
            print(f"{args.scenario} under the profiler: {result.rps:.0f} req/s ({result.tool})")
        else:
            loops.run(_streams(target, args.seconds))
    finally:
        proc.stop(timeout=60)
        upstream.stop()
    render = [sys.executable, "-m", "pyinstrument", "--load", session, "-r", "text"]
    subprocess.run([*render, "-o", f"{out}.txt"], check=True)
    subprocess.run([*render, "-p", "flat=true", "-p", "flat_time=self", "-o",
                    f"{out}-flat.txt"], check=True)
    print(f"profile written to {out}.txt (call tree) and {out}-flat.txt (self time)")
    return 0


async def _streams(target: targets.Target, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    events = 0
    while time.perf_counter() < deadline:
        results = await load.streams(target, count=64, chunks=64, timeout=60)
        events += sum(len(r.events) for r in results if not isinstance(r, BaseException))
    print(f"c under the profiler: {events} events relayed")


if __name__ == "__main__":
    raise SystemExit(main())

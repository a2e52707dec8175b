"""The machine, the versions, and the markdown table of a run, with issue 9's and 25's targets.

Absolute figures per target in columns, behest-local's ratios and the target it is held
to on the right, and whether the target holds. Cells a target could not produce say
why (``not installed: …``, ``error: …``). Nothing here measures; it only formats.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp

from bench import loops

COLUMNS = ("direct", "bare", "behest", "litellm", "portkey")
TITLES = {"direct": "direct", "bare": "bare aiohttp proxy", "behest": "behest-local",
          "litellm": "LiteLLM", "portkey": "Portkey"}


def machine(versions: dict[str, str]) -> list[str]:
    """Markdown lines describing where the run happened."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"- machine: {os.cpu_count()} cores ({usable} usable), {model}, "
             f"{platform.system()} {platform.release()}",
             f"- Python {platform.python_version()} ({sys.implementation.name}), "
             f"aiohttp {aiohttp.__version__}",
             f"- event loop of every Python process of the harness (upstream, bare proxy, "
             f"load generator) and of behest-local: {loops.version()}"]
    node = shutil.which("node")
    if node:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        lines.append(f"- node {out.stdout.strip()}")
    lines += [f"- {name}: {version}" for name, version in versions.items()]
    return lines


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


SERVER_MARKERS = ("behest-local serve", "behest_local.cli.main", "behest_local.observe.trace_writer",
                  "bench.upstream", "bench.proxy", "litellm", "start-server.js")
"""What the command line of a gateway or a harness server holds."""


def stray_servers() -> list[str]:
    """Gateways and harness servers already running when the run starts (left by an
    earlier run or test, or a gateway of the user's own): an idle gateway still wakes a
    core a hundred times a second (its file watcher), and its trace writer and sockets
    share the caches, so every figure of the run moves. Linux only (``/proc``)."""
    found = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except OSError:
            continue
        if any(marker in command for marker in SERVER_MARKERS):
            found.append(f"{entry.name} ({command[:70]})")
    return found


def strays_warning(strays: list[str]) -> str | None:
    if not strays:
        return None
    return (f"**Caveat: {len(strays)} other gateway or harness process(es) were running** "
            "when the run started (PIDs in the machine lines): they take CPU and wake the "
            "cores, so every figure is skewed. Stop them and repeat.")


def busy_warning(load_before: str) -> str | None:
    """A caveat for the table when other work was running: the 1-minute load average
    above a quarter of the cores means the targets competed for CPU with it."""
    try:
        load1 = float(load_before.split()[0])
    except (ValueError, IndexError):
        return None
    cores = os.cpu_count() or 1
    if load1 <= cores / 4:
        return None
    return (f"**Caveat: the machine was busy** (load average {load1:.1f} on {cores} cores before "
            "the run): absolute figures are noisy and low; CPU time per request/event and the "
            "ratios of interleaved rounds are the steadier readings. Repeat on a quiet machine.")


def _num(value, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and abs(value) >= 1000:
        return f"{value:,.0f}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def _signed(value) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _cell(results: dict, name: str, unavailable: dict[str, str], render,
          notes: list[str], where: str) -> str:
    if name in unavailable:
        return "n/a"
    row = results.get(name)
    if row is None:
        return "–"
    if isinstance(row, dict) and row.get("error"):
        notes.append(f"{where}, {TITLES[name]}: " + str(row["error"]).replace("|", "/")[:300])
        return f"error ({len(notes)})"
    return render(row)


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def table(r: dict, unavailable: dict[str, str]) -> list[str]:
    """The results table, then its notes; ``r`` maps scenario letters to their results."""
    notes: list[str] = []
    head = ("| | measure | " + " | ".join(TITLES[c] for c in COLUMNS)
            + " | behest-local ratio | target | holds |")
    lines = [head, "|" + "---|" * (len(COLUMNS) + 5)]

    def row(scenario, label, data, render, ratio="", target="", ok=None):
        cells = [_cell(data, c, unavailable, render, notes, f"{scenario} {label}")
                 for c in COLUMNS]
        lines.append(f"| {scenario} | {label} | " + " | ".join(cells)
                     + f" | {ratio} | {target} | {_verdict(ok)} |")

    a = r.get("a") or {}
    rps = {k: v.get("rps") for k, v in a.items() if isinstance(v, dict)}
    ratio_bare = _ratio(rps.get("behest"), rps.get("bare"))
    ratio_portkey = _ratio(rps.get("behest"), rps.get("portkey"))
    ok_a = None if ratio_bare is None else (ratio_bare >= 0.6 and (ratio_portkey is None
                                                                  or ratio_portkey >= 2.5))
    if a:
        row("a", "req/s, 16 connections (median of rounds)", a, lambda v: _num(v["rps"], 0),
            f"{_x(ratio_bare)} bare, {_x(ratio_portkey)} Portkey",
            "≥ 0.6× bare, ≥ 2.5× Portkey", ok_a)
        cpu = {k: v.get("cpu_us") for k, v in a.items() if isinstance(v, dict)}
        row("a", "CPU time of the target process per request, µs", a,
            lambda v: _num(v.get("cpu_us"), 0),
            f"{_x(_ratio(cpu.get('behest'), cpu.get('bare')))} bare's")

    b = r.get("b") or {}
    beh_b = b.get("behest") or {}
    if b:
        row("b", "latency p50, concurrency 1, ms (added vs direct)", b,
            lambda v: f"{_num(v['p50_ms'])} ({_signed(v.get('added_p50_ms'))})",
            f"added {_signed(beh_b.get('added_p50_ms'))} ms")
        ratio_b = _ratio(beh_b.get("added_p50_ms"), (b.get("bare") or {}).get("added_p50_ms"))
        row("b", "added p50 vs the bare proxy's added p50", {}, str, _x(ratio_b), "≤ 1.2×",
            _le(ratio_b, 1.2))
        row("b", "latency p99, concurrency 1, ms (added vs direct)", b,
            lambda v: f"{_num(v['p99_ms'])} ({_signed(v.get('added_p99_ms'))})",
            f"added {_signed(beh_b.get('added_p99_ms'))} ms", "added p99 ≤ 2 ms",
            _le(beh_b.get("added_p99_ms"), 2.0))
    if beh_b.get("server_timing_p50_ms") is not None:
        row("b", "Server-Timing `gateway` p50 / p99, ms", {"behest": beh_b},
            lambda v: f"{_num(v['server_timing_p50_ms'], 3)} / "
                      f"{_num(v['server_timing_p99_ms'], 3)}", "the gateway's own account")

    c = r.get("c") or {}
    beh_c = c.get("behest") or {}
    if c:
        row("c", "per-event relay delay p50, ms (added vs direct)", c,
            lambda v: f"{_num(v['p50_ms'])} ({_signed(v.get('added_p50_ms'))})",
            f"added {_signed(beh_c.get('added_p50_ms'))} ms")
        row("c", "per-event relay delay p99, ms (added vs direct)", c,
            lambda v: f"{_num(v['p99_ms'])} ({_signed(v.get('added_p99_ms'))})",
            f"added {_signed(beh_c.get('added_p99_ms'))} ms")
        bare_c = (c.get("bare") or {}).get("added_p99_ms")
        over = (None if beh_c.get("added_p99_ms") is None or bare_c is None
                else beh_c["added_p99_ms"] - bare_c)
        row("c", "added p99 − the bare proxy's added p99, ms", {}, str,
            f"{_signed(over)} ms", "≤ +0.10 ms", _le(over, 0.1))
        merged_ok = None if "merged_chunks" not in beh_c else (
            beh_c["merged_chunks"] == 0 and beh_c["missing"] == 0)
        row("c", "merged: HTTP chunks (server writes) with > 1 event, of all", c,
            lambda v: f"{v['merged_chunks']}/{v['chunks']}"
                      + (f", {v['missing']} lost" if v["missing"] else ""),
            f"{beh_c.get('events', 0)} events checked", "none merged", merged_ok)
        row("c", "TCP reads with > 1 event, of all (client side)", c,
            lambda v: f"{v['merged_reads']}/{v['reads']}")

    d = r.get("d") or {}
    levels = sorted({n for v in d.values() if isinstance(v, dict) for n in v
                     if isinstance(n, int)})
    if levels:
        first = {k: (v.get(levels[0]) or {}) if isinstance(v, dict) else v
                 for k, v in d.items()}
        cpu = {k: v.get("cpu_us") for k, v in first.items() if isinstance(v, dict)}
        row("d", f"CPU time of the target process per event at {levels[0]:,} streams, µs",
            first, lambda v: _num(v.get("cpu_us"), 0),
            f"{_x(_ratio(cpu.get('behest'), cpu.get('bare')))} bare's")
    required = required_fanout(d, levels)
    for level in levels:
        cells = {k: (v.get(level) or {"skipped": True}) for k, v in d.items()}
        beh = cells.get("behest") or {}
        ok = None if "stalled" not in beh else beh["stalled"] + beh["failed"] == 0
        held = level == required
        row("d", f"{level:,} streams × 64 at 20 ms: stalled / failed (max gap ms; most "
                 "open at once)", cells, _streams_cell, "",
            f"none stalled (2,000, or bare's limit: {required:,})" if held else "",
            ok if held else None)

    lines += emulated_rows(r.get("g") or {}, r.get("h") or {})

    e = r.get("e") or {}
    beh_e = e.get("behest") or {}
    if e:
        row("e", "idle RSS, MiB (headless)", e, lambda v: _num(v.get("rss_mb"), 1), "",
            "≤ 60 MiB", _le(beh_e.get("rss_mb"), 60))
        row("e", "start-to-ready, s (spawn → first answer)", e,
            lambda v: _num(v.get("ready_s")), "", "≤ 0.3 s", _le(beh_e.get("ready_s"), 0.3))

    f = r.get("f") or {}
    if f.get("unavailable"):
        notes.append(f"f, behest-local with the TUI: {f['unavailable']}")
        lines.append(f"| f | req/s with the TUI on a pty vs headless | | | TUI not runnable "
                     f"({len(notes)}) | | | | ≥ 0.7× headless | – |")
    elif f:
        ratio = _ratio(f.get("tui_rps"), f.get("headless_rps"))
        lines.append(f"| f | req/s with the TUI on a pty vs headless | | | "
                     f"{_num(f.get('tui_rps'), 0)} vs {_num(f.get('headless_rps'), 0)} | | | "
                     f"{_x(ratio)} headless | ≥ 0.7× headless | {_verdict(_ge(ratio, 0.7))} |")
    if unavailable:
        lines += ["", "Not measured (n/a):"]
        lines += [f"- {TITLES.get(k, k)}: {why}" for k, why in unavailable.items()]
    if notes:
        lines += ["", "Errors:"] + [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    return lines


def _streams_cell(v: dict) -> str:
    if v.get("skipped"):
        return "not run: all stalled at a lower level"
    return f"{v['stalled']} / {v['failed']} ({_num(v['max_gap_ms'], 0)}; {v['peak']:,})"


D_TARGET = 2000
"""d's target (issue 25): this many streams, or the bare proxy's own limit if lower."""


def required_fanout(d: dict, levels: list[int]) -> int | None:
    """The level d's target is judged at: 2,000 streams, or the highest level the bare
    proxy held without a stall in the same run if that is lower (the machine's limit for
    any Python gateway). None when no level reaches it and bare held them all."""
    bare = d.get("bare") if isinstance(d.get("bare"), dict) else None
    candidates = [n for n in levels if n <= D_TARGET]
    if bare is not None:
        held = [n for n in candidates
                if (bare.get(n) or {}).get("stalled", 1) + (bare.get(n) or {}).get("failed", 1)
                == 0]
        return max(held, default=None)
    return D_TARGET if D_TARGET in levels else None


def emulated_rows(g: dict, h: dict) -> list[str]:
    """g and h: behest-local alone (the emulated model vs its own relay), so only the
    behest-local column is filled."""
    lines = []

    def line(scenario: str, label: str, cell: str, ratio: str = "", target: str = "",
             ok: bool | None = None) -> None:
        lines.append(f"| {scenario} | {label} | | | {cell} | | | {ratio} | {target} | "
                     f"{_verdict(ok)} |")

    local, relay = g.get("emulated") or {}, g.get("behest") or {}
    if g:
        if local.get("error") or relay.get("error"):
            line("g", "emulated model req/s vs relaying, 16 connections",
                 "error: " + str(local.get("error") or relay.get("error"))[:200])
        else:
            line("g", "req/s, 16 connections: emulated model vs relay to the upstream",
                 f"{_num(local.get('rps'), 0)} vs {_num(relay.get('rps'), 0)}",
                 f"{_x(g.get('ratio'))} relay", "≥ 1.0× relay", _ge(g.get("ratio"), 1.0))
            line("g", "CPU time per request, µs: emulated vs relay",
                 f"{_num(local.get('cpu_us'), 0)} vs {_num(relay.get('cpu_us'), 0)}",
                 f"{_x(_ratio(local.get('cpu_us'), relay.get('cpu_us')))} relay's")
    if h:
        line("h", "one emulated stream as fast as possible: events/s (CPU µs per event)",
             f"{_num(h.get('events_per_s'), 0)} ({_num(h.get('cpu_us'), 1)})",
             f"{h.get('events', 0):,} events a stream", "measured",
             None if h.get("events_per_s") is None else True)
        for count, v in (h.get("paced") or {}).items():
            line("h", f"{count:,} emulated streams × 64 at 20 ms (tps=50): stalled / failed "
                      "(max gap ms; most open at once)", _streams_cell(v), "",
                 "none stalled", v["stalled"] + v["failed"] == 0)
    return lines


def _ratio(a, b) -> float | None:
    return None if not a or not b else a / b


def _x(value) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _le(value, limit) -> bool | None:
    return None if value is None else value <= limit


def _ge(value, limit) -> bool | None:
    return None if value is None else value >= limit

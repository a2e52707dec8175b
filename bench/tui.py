"""Scenario f: behest-local with its TUI on a pseudo-terminal, against headless.

The gateway is started on a pty (120×40, ``TERM=xterm-256color``) and a thread keeps
reading the terminal, as a terminal emulator would, so the TUI is never blocked on a full
pty buffer; the bytes it drew are counted. The TUI is taken to be running once it has
switched to the alternate screen (``ESC [ ? 1049 h``).

Two ways in, tried in order:

1. the CLI, exactly as a user starts it: ``behest-local serve`` (no ``--headless``) with
   stdout a terminal;
2. if the CLI does not start the TUI (it was still being wired when this harness was
   written), ``python -m bench.tui``: ``runtime.start`` then ``tui.run.run_tui``, which is
   what ``runtime.serve`` is documented to call for a terminal.

If neither shows the TUI, scenario f reports why instead of a number.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import struct
import sys
import termios
import threading
from pathlib import Path

from bench import procs
from bench.targets import BehestSetup, Target, Unavailable, behest_cli

ALT_SCREEN = b"\x1b[?1049h"
COLUMNS, ROWS = 120, 40


class Terminal:
    """The master side of a pty, drained by a daemon thread."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.received = 0
        self.alt_screen = threading.Event()
        self._tail = b""
        self._thread = threading.Thread(target=self._drain, daemon=True, name="pty drain")
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)
            if not self.alt_screen.is_set() and ALT_SCREEN in self._tail + data:
                self.alt_screen.set()
            self._tail = data[-8:]

    def close(self) -> None:
        for fd in (self.slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass


def start_behest_tui(logs: Path, setup: BehestSetup) -> tuple[Target, Terminal, str] | Unavailable:
    """behest-local with the TUI on a pty: (target, terminal, how it was started)."""
    attempts = [("the CLI (behest-local serve on a terminal)", behest_cli() + ["serve"]),
                ("tui.run.run_tui via python -m bench.tui (the CLI does not start the TUI yet)",
                 [sys.executable, "-m", "bench.tui"])]
    reasons = []
    for how, head in attempts:
        port = procs.free_port()
        argv = head + ["--port", str(port), "--home", str(setup.home), "--config",
                       str(setup.config)]
        terminal = Terminal()
        proc = procs.spawn("behest-tui", argv, logs / "behest-tui.log", stdin=terminal.slave,
                           stdout=terminal.slave, stderr=terminal.slave,
                           env={"TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
                                "LINES": str(ROWS)})
        try:
            procs.wait_ready(proc, port, "/healthz", timeout=60, ok=lambda s: s == 200)
            if terminal.alt_screen.wait(timeout=15):
                return setup.target(port, proc, name="behest+tui"), terminal, how
            reasons.append(f"{how}: no TUI on the terminal")
        except RuntimeError as exc:
            reasons.append(f"{how}: {str(exc).splitlines()[0][:120]}")
        proc.stop()
        terminal.close()
    return Unavailable("behest+tui", "; ".join(reasons))


async def _serve_with_tui(args: argparse.Namespace) -> int:
    from behest_local.runtime.build import ServeOptions
    from behest_local.runtime.running import start
    from behest_local.runtime.tui import run_tui

    options = ServeOptions(home=Path(args.home), config_path=Path(args.config), port=args.port)
    running = await start(options)
    try:
        return await run_tui(running)
    finally:
        await running.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tui",
                                     description="behest-local with its TUI (scenario f)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    return asyncio.run(_serve_with_tui(args))


if __name__ == "__main__":
    raise SystemExit(main())

"""``behest-local`` on a pseudo-terminal, as a new user first starts it.

The default command, on an 80×24 pty with a fresh state dir: the screen is read through a
terminal emulator (pyte), so what is asserted is what a user sees. The API key created
at start is on the TUI's screen (not only in the banner it covers), it authenticates a
request whose row then shows in the list, and ``q`` quits with exit code 0.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from pathlib import Path

import pytest

pyte = pytest.importorskip("pyte", reason="pip install -e '.[test]'")

KEY = re.compile(r"behest_sk_live_[0-9a-f]{32}")
BASE_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/v1")
COLUMNS, ROWS = 80, 24


class Terminal:
    """A process on a pty of ``COLUMNS``×``ROWS``, its screen kept by pyte."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=env, start_new_session=True)
        os.close(slave)
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.closed = False

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def read_until(self, predicate, timeout: float = 60.0) -> str:
        """Feed the emulator what the process draws until ``predicate(screen text)``."""
        deadline = time.monotonic() + timeout
        while not predicate(self.text()):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and not self.closed, f"never seen; the screen:\n{self.text()}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self._read()
        return self.text()

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed the terminal
            data = b""
        self.closed = not data
        self.stream.feed(data)

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait(self, timeout: float = 30.0) -> int:
        """The exit code, draining the terminal meanwhile (a full pty would block it)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"still running; the screen:\n{self.text()}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready and not self.closed:
                self._read()
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        os.close(self.master)


def behest_local() -> list[str]:
    script = Path(sys.executable).with_name("behest-local")  # the console script, as typed
    return [str(script)] if script.exists() else [sys.executable, "-m", "behest_local"]


def test_a_first_start_shows_the_key_in_the_tui_and_q_quits(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEHEST_", "TEXTUAL"))}
    env.update(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(ROWS), TZ="UTC")
    home = tmp_path / "state"
    terminal = Terminal([*behest_local(), "--port", "0", "--home", str(home)], tmp_path, env)
    try:
        screen = terminal.read_until(lambda s: KEY.search(s) and "your API key" in s)
        key = KEY.search(screen).group(0)
        port = BASE_URL.search(screen).group(1)
        assert "q quits" in screen
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/chat/completions", method="POST",
            data=json.dumps({"model": "gpt-4o", "messages": [
                {"role": "user", "content": "Hello"}]}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        terminal.send(b"\x1b")  # close the notice: the list, the new row selected
        screen = terminal.read_until(lambda s: "gpt-4o@emulated" in s and KEY.search(s) is None)
        row = next(line for line in screen.splitlines() if "gpt-4o@emulated" in line)
        assert " 200 " in row and "$0.0" in row  # its status and its cost, at 80 columns
        assert "q quit" in screen.splitlines()[-1]  # the footer names the way out
        terminal.send(b"q")
        assert terminal.wait() == 0
    finally:
        terminal.close()

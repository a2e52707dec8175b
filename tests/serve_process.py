"""``behest-local serve`` as a real subprocess, for the tests that need what a user's
terminal sees: the banner, the request log, warnings, exit codes and signals.

``ServeProcess(home, *args, config=..., env=...)`` starts ``python -m behest_local serve
--port 0`` (headless unless told otherwise) on a state dir, reads its stdout and stderr
line by line on two pump threads and returns once the banner says where it listens
(``url``, ``port``). A test waits for a line with ``wait_for`` (a condition variable the
pumps notify, never a sleep), talks to it with ``request`` or any HTTP client, and ends it
with ``stop`` (a signal, then the exit code) or ``wait`` (after signalling it itself).
``pid`` is there for ``/proc`` readers. The hardening and e2e support modules build their
specific helpers (raw sockets, RSS, usage rows, hostile upstreams) on this one class.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

PY = [sys.executable, "-m", "behest_local"]
BANNER = r"listening on http://127\.0\.0\.1:(\d+)"


class ServeProcess:
    """One ``behest-local serve`` on ``home``; ``args`` go on its command line after it.

    ``config``: the text of a ``behest.toml`` written next to ``home`` and passed with
    ``--config`` (also to ``cli``). ``env``: variables added to (or, as ``None``, removed
    from) the test's environment. The server runs in ``home``'s parent folder, without
    ``BEHEST_CONFIG``, so no stray config of the machine's reaches it.
    """

    def __init__(self, home: Path, *args: str, config: str | None = None,
                 env: dict[str, str | None] | None = None, headless: bool = True,
                 timeout: float = 30) -> None:
        self.home = Path(home)
        self.config: Path | None = None
        if config is not None:
            self.config = self.home.parent / "behest.toml"
            self.config.write_text(config)
        merged = {**os.environ, "PYTHONUNBUFFERED": "1"}
        merged.pop("BEHEST_CONFIG", None)
        for name, value in (env or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        self.home.parent.mkdir(parents=True, exist_ok=True)
        command = [*PY, "serve", *(["--headless"] if headless else []), "--port", "0",
                   *self._home_args(), *args]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace", env=merged,
                                     cwd=self.home.parent)
        self._out: list[str] = []
        self._err: list[str] = []
        self._both: list[str] = []  # the two streams in the order their lines arrived
        self._open = 2  # pumps still reading
        self._cond = threading.Condition()
        self._pumps = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._out),
                                        daemon=True),
                       threading.Thread(target=self._pump, args=(self.proc.stderr, self._err),
                                        daemon=True)]
        for pump in self._pumps:
            pump.start()
        try:
            line = self.wait_for(BANNER, timeout)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        self.port = int(re.search(BANNER, line).group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def _home_args(self) -> list[str]:
        return ["--home", str(self.home),
                *(["--config", str(self.config)] if self.config is not None else [])]

    def _pump(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._cond:
                into.append(line)
                self._both.append(line)
                self._cond.notify_all()
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> str:
        with self._cond:
            return "".join(self._out)

    @property
    def stderr(self) -> str:
        with self._cond:
            return "".join(self._err)

    @property
    def output(self) -> str:
        """stdout and stderr merged, line by line in the order they arrived."""
        with self._cond:
            return "".join(self._both)

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        """The first line of the output matching ``pattern`` (``re.search``), waiting up to
        ``timeout`` seconds; fails at once if the server's output ends without one."""
        regex = re.compile(pattern)

        def found() -> str | bool | None:
            line = next((line for line in self._both if regex.search(line)), None)
            return line or (self._open == 0)  # both streams closed: nothing more can come

        with self._cond:
            line = self._cond.wait_for(found, timeout)
        if not isinstance(line, str):
            ended = "the server's output ended" if line else f"{timeout} s passed"
            raise AssertionError(f"{ended} without a line matching {pattern!r} "
                                 f"(exit code {self.proc.poll()}):\n{self.output}")
        return line

    def request(self, method: str, path: str, body: dict | bytes | None = None,
                headers: dict[str, str] | None = None,
                timeout: float = 30) -> tuple[int, bytes, dict[str, str]]:
        """One HTTP exchange: status, body and headers, an error status included. A dict
        ``body`` is sent as JSON."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read(), dict(error.headers)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """One ``behest-local`` command on the same state dir (and config), as a process."""
        return subprocess.run([*PY, *args, *self._home_args()], input=stdin,
                              capture_output=True, text=True, timeout=60)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` (SIGKILL: ``kill -9``) unless it has exited, then ``wait``."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        """The exit code, once it has exited (killed after ``timeout`` seconds, so no test
        leaves a server behind) and its output has been read to the end."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for pump in self._pumps:
            pump.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code

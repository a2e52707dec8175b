"""What the harness measures, each started in its own process on the same fake upstream.

A ``Target`` is where a client sends its requests: a base URL, the headers it needs
(auth, Portkey's routing headers) and the model name that reaches the fake upstream.

* ``direct``: the fake upstream itself (``bench.upstream``), the baseline;
* ``bare``: ``bench.proxy``, the bare aiohttp pass-through, the ceiling;
* ``behest``: behest-local started by its own CLI (``behest-local serve --headless``) with a
  ``behest.toml`` whose custom provider ``bench`` points at the upstream, a project API
  key made by ``behest-local keys create --json``, rate limits configured and the trace
  store on, as a user runs it;
* ``litellm`` and ``portkey`` (``bench.peers``), when installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import loops, procs
from bench.upstream import MODEL

BENCH_TOML = """\
# Written by the benchmark (bench/targets.py): behest-local in front of the fake upstream.
[tenant]
id = "bench"
plan = "pro"

[server]
host = "127.0.0.1"

[providers.bench]
base_url = "{upstream}/v1"
prefixes = ["bench-"]
requires_key = false

[[projects]]
name = "bench"

[projects.rate_limits]      # high enough never to refuse the benchmark's load
rpm = 100000000
user_rpm = 100000000
ip_rpm = 100000000

[projects.budgets]          # no token budget: a long run must not exhaust one
user_tokens_per_day = 0
"""


@dataclass
class Target:
    name: str
    base_url: str
    """``http://127.0.0.1:PORT/v1``."""
    headers: dict[str, str] = field(default_factory=dict)
    model: str = MODEL
    proc: procs.Proc | None = None
    prompt: str | None = None
    """The user message of every request (``load.PROMPT`` when None)."""
    version: str = ""

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1].split("/", 1)[0])

    @property
    def chat_url(self) -> str:
        return self.base_url + "/chat/completions"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@dataclass
class Unavailable:
    """A peer that could not be measured, and why (shown in the table)."""

    name: str
    reason: str


def python_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def start_upstream(logs: Path, *, pace_ms: float) -> Target:
    proc = procs.spawn("upstream", python_argv("bench.upstream", "--port", "0", "--pace-ms",
                                               str(pace_ms)), logs / "upstream.log")
    url = procs.wait_banner(proc, timeout=30)
    procs.wait_ready(proc, int(url.rsplit(":", 1)[1]), "/healthz", timeout=30)
    return Target("direct", url + "/v1", proc=proc, version="bench.upstream")


def start_bare(logs: Path, upstream: Target) -> Target:
    origin = upstream.base_url.removesuffix("/v1")
    proc = procs.spawn("bare", python_argv("bench.proxy", "--upstream", origin, "--port", "0"),
                       logs / "bare.log")
    url = procs.wait_banner(proc, timeout=30)
    procs.wait_ready(proc, int(url.rsplit(":", 1)[1]), "/healthz", timeout=30)
    return Target("bare", url + "/v1", proc=proc, version="bench.proxy")


def behest_cli() -> list[str]:
    """The ``behest-local`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("behest-local")
    return [str(script)] if script.exists() else python_argv("behest_local")


@dataclass
class BehestSetup:
    """A state directory and ``behest.toml`` for behest-local, with one project API key."""

    home: Path
    config: Path
    key: str

    @classmethod
    def create(cls, workdir: Path, upstream: Target) -> BehestSetup:
        home, config = workdir / "behest-home", workdir / "behest.toml"
        home.mkdir(parents=True, exist_ok=True)
        config.write_text(BENCH_TOML.format(upstream=upstream.base_url.removesuffix("/v1")))
        out = subprocess.run([*behest_cli(), "keys", "create", "--project", "bench", "--json",
                              "--home", str(home), "--config", str(config)],
                             capture_output=True, text=True, timeout=60, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"behest-local keys create failed: {out.stderr.strip()}")
        return cls(home, config, json.loads(out.stdout)["key"])

    def argv(self, port: int, *, headless: bool = True) -> list[str]:
        argv = [*behest_cli(), "serve", "--port", str(port), "--home", str(self.home),
                "--config", str(self.config), "--loop", loops.name()]
        return argv + ["--headless"] if headless else argv

    def target(self, port: int, proc: procs.Proc | None, name: str = "behest") -> Target:
        from behest_local import __version__

        return Target(name, f"http://127.0.0.1:{port}/v1", proc=proc, version=__version__,
                      headers={"Authorization": f"Bearer {self.key}"})


def start_behest(logs: Path, setup: BehestSetup) -> Target:
    """behest-local headless, through its CLI; ``proc.ready_s`` is spawn → ``/healthz`` 200."""
    port = procs.free_port()
    proc = procs.spawn("behest", setup.argv(port), logs / "behest.log",
                       env={"PYTHONUNBUFFERED": "1"})
    procs.wait_ready(proc, port, "/healthz", timeout=60, ok=lambda status: status == 200)
    return setup.target(port, proc)


def git_describe() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10, cwd=Path(__file__).parent, check=False)
    except OSError:
        return ""
    return out.stdout.strip()


def raise_fd_limit() -> int:
    """Lift this process's open-file limit to its hard limit (children inherit it): 1,000
    streams through a proxy hold 2,000 sockets there."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

"""The peers, on the same fake upstream: LiteLLM's proxy and Portkey's gateway.

Both are optional. ``python -m bench --install-peers`` installs them where the harness
looks (never into behest-local's own environment):

* LiteLLM: ``pip install 'litellm[proxy]'`` into ``bench/.venvs/litellm``; started as
  ``litellm --config … --num_workers 1`` with one model (``openai/bench-model`` at the fake
  upstream's ``api_base``) and no database, which is how a user first runs
  it locally, with a master key (without one, LiteLLM ≥ 1.108 refuses to start) that every
  request presents. ``LITELLM_LOCAL_MODEL_COST_MAP`` keeps it off the network at start.
* Portkey: ``npm install`` of ``bench/package.json`` into ``bench/node_modules``: the
  gateway, with ``@hono/node-server`` pinned to 1.14.1 (later versions, 1.14.2 included,
  make its streamed responses fail with ``TypeError: immutable``: they hand the upstream's
  immutable fetch headers to ``updateHeaders``; Portkey-AI/gateway#1389); started as
  ``node …/build/start-server.js --port=P --headless``; each request names the provider
  and the upstream in Portkey's headers (``x-portkey-provider: openai``,
  ``x-portkey-custom-host``), as its docs show for OpenAI-compatible servers.

When one is missing or does not start, ``start_*`` returns ``Unavailable`` with the
reason, and the table says so.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

from bench import procs
from bench.targets import Target, Unavailable
from bench.upstream import MODEL

HERE = Path(__file__).parent
LITELLM_VENV = HERE / ".venvs" / "litellm"
PORTKEY_DIR = HERE / "node_modules" / "@portkey-ai" / "gateway"
LITELLM_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {upstream}/v1
      api_key: sk-bench
"""


def litellm_version() -> str | None:
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        return None
    out = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                          "print(m.version('litellm'))"], capture_output=True, text=True,
                         timeout=60, check=False)
    return out.stdout.strip() or None


def portkey_version() -> str | None:
    try:
        return json.loads((PORTKEY_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def start_litellm(logs: Path, upstream: Target, workdir: Path) -> Target | Unavailable:
    version = litellm_version()
    script = LITELLM_VENV / "bin" / "litellm"
    if version is None or not script.exists():
        return Unavailable("litellm", "not installed (python -m bench --install-peers)")
    config = workdir / "litellm.yaml"
    config.write_text(LITELLM_CONFIG.format(model=MODEL,
                                            upstream=upstream.base_url.removesuffix("/v1")))
    port = procs.free_port()
    master_key = "sk-bench-" + secrets.token_hex(16)
    proc = procs.spawn("litellm", [str(script), "--config", str(config), "--host", "127.0.0.1",
                                   "--port", str(port), "--num_workers", "1"],
                       logs / "litellm.log",
                       env={"LITELLM_MASTER_KEY": master_key,
                            "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                            "LITELLM_TELEMETRY": "False", "DISABLE_ADMIN_UI": "True",
                            "NO_DOCS": "True"})
    try:
        procs.wait_ready(proc, port, "/health/liveliness", timeout=180,
                         ok=lambda status: status == 200)
    except RuntimeError as exc:
        return Unavailable("litellm", f"installed ({version}) but did not start: "
                                      f"{_first_line(exc)}")
    return Target("litellm", f"http://127.0.0.1:{port}/v1", proc=proc, version=version,
                  headers={"Authorization": f"Bearer {master_key}"})


def start_portkey(logs: Path, upstream: Target) -> Target | Unavailable:
    version = portkey_version()
    server = PORTKEY_DIR / "build" / "start-server.js"
    if version is None or not server.exists():
        return Unavailable("portkey", "not installed (python -m bench --install-peers)")
    port = procs.free_port()
    proc = procs.spawn("portkey", ["node", str(server), f"--port={port}", "--headless"],
                       logs / "portkey.log", env={"NODE_ENV": "production"})
    try:
        procs.wait_ready(proc, port, "/", timeout=120)
    except (RuntimeError, OSError) as exc:
        return Unavailable("portkey", f"installed ({version}) but did not start: "
                                      f"{_first_line(exc)}")
    return Target("portkey", f"http://127.0.0.1:{port}/v1", proc=proc, version=version,
                  headers={"Authorization": "Bearer sk-bench", "x-portkey-provider": "openai",
                           "x-portkey-custom-host": upstream.base_url})


def install(which: tuple[str, ...] = ("litellm", "portkey")) -> dict[str, str]:
    """Install the peers; returns ``{name: "ok" | reason}``."""
    results: dict[str, str] = {}
    if "litellm" in which:
        try:
            if not (LITELLM_VENV / "bin" / "python").exists():
                subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
            subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q",
                            "litellm[proxy]"], check=True, timeout=1800)
            results["litellm"] = "ok"
        except (OSError, subprocess.SubprocessError) as exc:
            results["litellm"] = f"failed: {exc}"
    if "portkey" in which:
        try:
            # bench/package.json: the gateway, with @hono/node-server pinned (see there)
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(HERE)],
                           check=True, timeout=1800)
            results["portkey"] = "ok"
        except (OSError, subprocess.SubprocessError) as exc:
            results["portkey"] = f"failed: {exc}"
    return results


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:160]

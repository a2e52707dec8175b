"""Load generators. Each loop is bounded both in requests and in seconds, and stops itself.

* ``throughput``: non-streamed requests over ``connections`` keep-alive connections for
  ``seconds``. With ``wrk`` on PATH (Debian: ``apt-get install wrk``) it drives the load,
  since a C client leaves the two cores to the servers; otherwise an aiohttp client does,
  and the table says which.
* ``latency``: sequential requests on one keep-alive connection (``rawhttp``), each timed
  from the request's first byte written to the reply's last byte read.
* ``streams``: ``count`` concurrent streams, one connection each (``rawhttp``), opened at
  most ``CONNECT_AT_ONCE`` at a time so a listen backlog is never what is measured.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import loops
from bench.rawhttp import RawConnection, Reply, StreamRecorder
from bench.targets import Target

CONNECT_AT_ONCE = 64
PROMPT = [{"role": "user", "content": "Say something about foxes."}]


def chat_body(target: Target, *, stream: bool = False, chunks: int = 64) -> bytes:
    messages = PROMPT if target.prompt is None else [{"role": "user", "content": target.prompt}]
    body: dict = {"model": target.model, "messages": messages}
    if stream:
        body.update(stream=True, max_tokens=chunks)
    return json.dumps(body).encode()


@dataclass
class Throughput:
    rps: float
    requests: int
    errors: int
    seconds: float
    tool: str
    p50_ms: float | None = None
    p99_ms: float | None = None


def throughput(target: Target, *, connections: int, seconds: float,
               max_requests: int = 2_000_000, prefer_wrk: bool = True) -> Throughput:
    if prefer_wrk and shutil.which("wrk"):
        return _wrk(target, connections, seconds)
    return loops.run(_aiohttp_throughput(target, connections, seconds, max_requests))


def _wrk(target: Target, connections: int, seconds: float) -> Throughput:
    lua = ['wrk.method = "POST"', f"wrk.body = {json.dumps(chat_body(target).decode())}",
           'wrk.headers["Content-Type"] = "application/json"']
    lua += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in target.headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lua) + "\n")
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                              "--latency", "-s", script.name, target.chat_url],
                             capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        Path(script.name).unlink(missing_ok=True)
    text = out.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if rps is None or total is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or text}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(non2xx.group(1)) if non2xx else 0
    return Throughput(float(rps.group(1)), int(total.group(1)), errors, seconds,
                      "wrk " + _wrk_version(), _wrk_ms(text, "50%"), _wrk_ms(text, "99%"))


def _wrk_ms(text: str, label: str) -> float | None:
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "?"


async def _aiohttp_throughput(target: Target, connections: int, seconds: float,
                              max_requests: int) -> Throughput:
    body = chat_body(target)
    headers = {"Content-Type": "application/json", **target.headers}
    done = errors = 0
    started = time.perf_counter()
    deadline = started + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline and done + errors < max_requests:
                try:
                    async with session.post(target.chat_url, data=body, headers=headers) as r:
                        await r.read()
                        if r.status == 200:
                            done += 1
                        else:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(connections))),
                               timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    return Throughput(done / elapsed, done, errors, elapsed, f"aiohttp {aiohttp.__version__}")


async def latency(target: Target, *, count: int, seconds: float) -> list[Reply]:
    """Up to ``count`` sequential non-streamed requests, stopping after ``seconds``."""
    connection = await RawConnection.open("127.0.0.1", target.port)
    headers = {"Content-Type": "application/json", **target.headers}
    body = chat_body(target)
    path = target.chat_url.split(str(target.port), 1)[1]
    replies: list[Reply] = []
    deadline = time.perf_counter() + seconds
    try:
        while len(replies) < count and time.perf_counter() < deadline:
            reply = await asyncio.wait_for(connection.request(
                "POST", path, host=f"127.0.0.1:{target.port}", headers=headers, body=body), 30)
            if reply.status != 200:
                raise RuntimeError(f"{target.name}: HTTP {reply.status}: "
                                   f"{bytes(reply.body)[:300]!r}")
            replies.append(reply)
    finally:
        connection.close()
    return replies


async def one_stream(target: Target, *, chunks: int, gate: asyncio.Semaphore | None = None,
                     timeout: float = 60.0) -> Reply:
    """One streamed request on its own connection; raises on failure or ``timeout``."""
    loop = asyncio.get_running_loop()
    if gate is not None:
        async with gate:
            transport, recorder = await loop.create_connection(StreamRecorder, "127.0.0.1",
                                                               target.port)
    else:
        transport, recorder = await loop.create_connection(StreamRecorder, "127.0.0.1",
                                                           target.port)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
               **target.headers}
    path = target.chat_url.split(str(target.port), 1)[1]
    try:
        recorder.send("POST", path, host=f"127.0.0.1:{target.port}", headers=headers,
                      body=chat_body(target, stream=True, chunks=chunks))
        await asyncio.wait_for(asyncio.shield(recorder.closed), timeout)
    finally:
        transport.close()
    reply = recorder.reply()
    if reply.status != 200:
        raise RuntimeError(f"{target.name}: HTTP {reply.status}: {bytes(reply.body)[:300]!r}")
    return reply


async def streams(target: Target, *, count: int, chunks: int, timeout: float
                  ) -> list[Reply | BaseException]:
    """``count`` concurrent streams; each result is a ``Reply`` or the exception it raised."""
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    tasks = [asyncio.create_task(one_stream(target, chunks=chunks, gate=gate, timeout=timeout))
             for _ in range(count)]
    return await asyncio.gather(*tasks, return_exceptions=True)

"""``behest-local probe``: measure a stream where the user's app receives it.

The probe sends one streaming request (typically to the user's own route that proxies
to behest-local), timestamps every server-sent event as it arrives, and, when the
response names the gateway exchange it came from (``X-Request-Id``), fetches that
exchange's departure times from the gateway (``GET /_behest/exchanges/{id}/timeline``,
server/routes/inspect.py). probe/verdict.py turns both into a verdict; this module only
measures and talks to the gateway, which includes reporting the verdict back so the
TUI shows it next to the exchange.

Times: arrivals are measured on this process's monotonic clock from the moment the
request was sent, and also kept as Unix time. The gateway reports departures as Unix
time (its exchange's wall-clock start plus monotonic offsets). The inspection endpoints
answer loopback only, so both clocks are the same machine's: comparing them is sound.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from behest_local import sse

if TYPE_CHECKING:
    import aiohttp

DEFAULT_GATEWAY = "http://127.0.0.1:7717"
BODY_KEPT = 64 * 1024
DEFAULT_CHAT_BODY = {"model": "gpt-4o-mini", "stream": True,
                     "messages": [{"role": "user", "content": "Count from one to twenty."}]}


@dataclass(slots=True)
class ProbeEvent:
    index: int
    arrival: float
    """Seconds after the request was sent."""
    size: int
    """Bytes of the event's data."""
    read: int
    """Which network read completed it (events of one read arrived together)."""


@dataclass(slots=True)
class ProbeResult:
    url: str
    sent_unix: float
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    events: list[ProbeEvent] = field(default_factory=list)
    first_byte: float | None = None
    ended: float | None = None
    reads: int = 0
    error: str | None = None
    body: bytes = b""
    """The first ``BODY_KEPT`` bytes of a response that is not an event stream (an error's
    JSON, say), for the verdict to quote."""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def request_id(self) -> str | None:
        return self.header("x-request-id")

    def arrivals_unix(self) -> list[float]:
        return [self.sent_unix + e.arrival for e in self.events]


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` as curl's ``-H`` takes it."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise ValueError(f"header {text!r} must look like 'Name: value'")
    return name.strip(), value.strip()


def default_body(url: str) -> bytes | None:
    """The body to send when ``-d`` is absent: a small chat stream for chat URLs."""
    if urlsplit(url).path.rstrip("/").endswith("/chat/completions"):
        return json.dumps(DEFAULT_CHAT_BODY).encode()
    return None


async def measure(url: str, *, headers: list[tuple[str, str]], body: bytes | None,
                  method: str | None = None, timeout: float = 60.0) -> ProbeResult:
    """Send the request and record when each SSE event arrives. Never raises for HTTP or
    network failures: they end up in ``result.error`` for the verdict to explain."""
    import aiohttp  # here, not at the top: the CLI imports this module to build its parser

    names = {k.lower() for k, _ in headers}
    sent_headers = list(headers)
    if "accept" not in names:
        sent_headers.append(("Accept", "text/event-stream"))
    if body is not None and "content-type" not in names:
        sent_headers.append(("Content-Type", "application/json"))
    method = method or ("POST" if body is not None else "GET")
    loop = asyncio.get_running_loop()
    result = ProbeResult(url=url, sent_unix=time.time())
    t0 = loop.time()
    try:
        # aiohttp advertises gzip/deflate like a browser does, so a proxy that compresses
        # SSE shows it here; bodies are decompressed on the fly, per read.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.request(method, url, headers=sent_headers, data=body) as response:
                result.status = response.status
                result.headers = list(response.headers.items())
                decoder = sse.SSEDecoder()
                stream = "text/event-stream" in response.headers.get("Content-Type", "")
                kept = bytearray()
                async for chunk in response.content.iter_any():
                    now = loop.time() - t0
                    if result.first_byte is None:
                        result.first_byte = now
                    result.reads += 1
                    if not stream and len(kept) < BODY_KEPT:
                        kept += chunk[:BODY_KEPT - len(kept)]
                        result.body = bytes(kept)
                    for event in decoder.feed(chunk):
                        result.events.append(ProbeEvent(len(result.events), now,
                                                        len(event.data.encode()), result.reads))
    except asyncio.TimeoutError:
        result.error = f"no complete response within {timeout:g} s (--timeout)"
    except aiohttp.ClientError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.ended = loop.time() - t0
    return result


def gateway_candidates(url: str, explicit: str | None, running: str | None = None
                       ) -> list[str]:
    """Where to ask for the exchange's timeline: ``--gateway``, else the probed origin
    (the probe may be aimed at behest-local itself), the gateway ``running`` on the state
    dir (``runtime/address.py``) and the default address."""
    if explicit:
        return [explicit.rstrip("/")]
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return list(dict.fromkeys([origin, *([running] if running else []), DEFAULT_GATEWAY]))


async def fetch_timeline(candidates: list[str], request_id: str, *, timeout: float = 5.0
                         ) -> tuple[str | None, dict | None, list[str]]:
    """The gateway's timeline for ``request_id``: ``(base, timeline, notes)``; notes say
    why each candidate did not answer."""
    import aiohttp

    notes = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        for base in candidates:
            try:
                data = await _timeline(http, f"{base}/_behest/exchanges/{request_id}/timeline")
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                notes.append(f"{base}: {type(exc).__name__}")
                continue
            if isinstance(data, dict):
                return base, data, notes
            notes.append(f"{base}: HTTP {data}")
    return None, None, notes


async def _timeline(http: aiohttp.ClientSession, url: str) -> dict | int:
    """The timeline JSON, or the HTTP status that refused it. The probe saw the stream end
    a moment before the gateway recorded its end: ask again briefly until it is complete."""
    for _attempt in range(10):
        async with http.get(url) as resp:
            if resp.status != 200:
                return resp.status
            data = await resp.json()
        if data.get("complete", True):
            break
        await asyncio.sleep(0.05)
    return data


async def report(base: str, request_id: str, payload: dict, *, timeout: float = 5.0) -> bool:
    """Send the verdict to the gateway for its TUI; False (never an error) if it cannot."""
    import aiohttp

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.post(f"{base}/_behest/exchanges/{request_id}/probe",
                                 json=payload) as resp:
                return resp.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False

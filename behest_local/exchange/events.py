"""Typed trace events: one slots dataclass per phase an exchange goes through.

An ``Exchange`` (``exchange/exchange.py``) records these as it moves through the gateway; the
``TraceStore`` (``exchange/bus.py``) fans them out to subscribers (the headless line logger, the
TUI, tests). Their fields are the public event API, so each is documented. Events carry
only redacted data: no credential ever reaches one.

Every event has ``exchange_id`` and ``at``, a monotonic timestamp in seconds from the
store's clock, so timelines can be computed without wall-clock jumps.

Trace events are built on the request's path, so they are plain (not frozen) slots
dataclasses: a frozen one pays an ``object.__setattr__`` per field, four times the cost.
Every subscriber receives the same object: treat it as read-only. An ``Exchange`` builds
an event only when some subscriber wants its type (``TraceStore.wants``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TraceEvent:
    exchange_id: str
    """The exchange's request id (``req_…``), also sent as ``X-Request-Id``."""
    at: float
    """Monotonic time in seconds when the event happened."""


@dataclass(slots=True)
class RequestReceived(TraceEvent):
    method: str
    path: str
    client: str
    """Peer address, ``host:port``."""
    wall_time: float
    """Unix time, for display and export."""
    headers: tuple[tuple[str, str], ...] = ()
    """Request headers with credentials redacted."""


@dataclass(slots=True)
class Authenticated(TraceEvent):
    tenant: str
    project: str
    credential: str
    """How the caller authenticated, e.g. the API key's prefix; never the key."""
    user: str | None = None
    session: str | None = None


@dataclass(slots=True)
class Routed(TraceEvent):
    requested_model: str | None
    model: str
    provider: str
    reason: str
    """Why this model and provider were chosen (shown in the TUI and logs)."""
    stream: bool = False


@dataclass(slots=True)
class UpstreamStarted(TraceEvent):
    provider: str
    model: str


@dataclass(slots=True)
class ChunkSent(TraceEvent):
    """A stream event was written to the client: progress for live views.

    Published for a stream's first event (its time to first token) and then for the
    first event of each ``exchange.PROGRESS_S`` seconds, not for every event: a
    subscriber runs synchronously on the request's task, and thousands of events a second
    would each pay for every subscriber. Every event's departure is in
    ``Exchange.chunk_times`` all the same (the first ``timing.TIMELINE_MAX`` events'; later
    ones are counted in ``chunks_untimed``), and its size in ``bytes_sent``."""

    index: int
    """0-based position of this event in the stream sent to the client."""
    size: int
    """Bytes written for this event, SSE framing included."""


@dataclass(slots=True)
class ExchangeFinished(TraceEvent):
    status: int
    duration: float
    """Seconds from receipt to the last byte."""
    ttft: float | None = None
    """Seconds from receipt to the first stream event, for streams."""
    chunks: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(slots=True)
class ExchangeFailed(TraceEvent):
    status: int
    code: str | None
    message: str
    duration: float
    cancelled: bool = False
    """True when the client went away before the exchange completed."""
    details: dict = field(default_factory=dict)


@dataclass(slots=True)
class GuardrailTriggered(TraceEvent):
    """A project's guardrail found something in the request's prompt
    (``server/guard.py``): what, how often and what was done, never the values."""

    guard: str
    """``pii``, ``content`` or ``injection``."""
    mode: str
    """``shadow`` (recorded, nothing changed) or ``enforce``."""
    counts: tuple[tuple[str, int], ...]
    """Entity (PII), rule (injection) or ``match`` (content), and how many."""
    action: str
    """``BLOCK`` (451), ``MASK``, ``REDACT``, ``MASK+REDACT``, or ``none`` (shadow)."""


# -- configuration events: not tied to an exchange ---------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigEvent:
    """Something happened to the live configuration (``reload.LiveConfig.subscribe``)."""

    at: float
    """Monotonic time in seconds."""
    source: str
    """What changed: the ``behest.toml`` path, or the deployed layer's file."""


@dataclass(frozen=True, slots=True)
class ConfigReloaded(ConfigEvent):
    changed: tuple[str, ...] = ()
    """Dotted keys whose effective value changed (``projects.local.provider_model``)."""
    restart_required: tuple[str, ...] = ()
    """Changed keys that apply only at the next start (``server.port`` …)."""


@dataclass(frozen=True, slots=True)
class ConfigRejected(ConfigEvent):
    error: str = ""
    """Every problem, one ``file:line: message`` (and ``hint:``) block each. The last good
    configuration stays in force."""


@dataclass(frozen=True, slots=True)
class KillSwitchChanged(ConfigEvent):
    """An admin killed or revived a project or a tenant's provider
    (``policy/kill_switches.py``): from then on its requests answer 403 ``forbidden``, or are
    served again. ``source`` is the kill-switch state file."""

    kind: str = "project"
    """``project`` or ``provider``."""
    target: str = ""
    """The project id or the provider's name."""
    killed: bool = True
    """True for a kill, False for a revival."""
    reason: str | None = None


@dataclass(slots=True)
class ResponseStarted(TraceEvent):
    """The response's status line and headers were sent (for a stream: before its first
    event). Published by ``server/routes/inspect.record_response``: from the response hook
    for a stream, after the write for a whole response; always before the exchange's end."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    """Response headers with credentials redacted."""
    streamed: bool = False


@dataclass(slots=True)
class ProbeReported(TraceEvent):
    """``behest-local probe`` measured this exchange's stream at the far end of the
    user's proxy and reported back (``POST /_behest/exchanges/{id}/probe``)."""

    verdict: str
    """One-line verdict, e.g. "events left the gateway 40 ms apart but arrived together…"."""
    level: str
    """``ok``, ``warning`` or ``buffered``."""
    client: tuple[float, ...] = ()
    """Each event's arrival at the probe, seconds after the exchange started."""
    findings: tuple[str, ...] = ()
    """Further problems found (compression on SSE, missing anti-buffering headers…)."""


@dataclass(slots=True)
class CorsRefused(TraceEvent):
    """A browser origin was refused by the CORS policy (``server/admission/cors.py``): the browser
    blocks the page from this response, so this event says what to add and where."""

    origin: str
    """The request's ``Origin`` header."""
    project: str | None
    """The project whose policy refused it; None when no project could be told apart (a
    preflight without a slug host is checked against every project's list)."""
    allowed: tuple[str, ...]
    """The origins that policy allows (the dashboard origin included)."""
    reason: str
    """What failed and how to fix it, e.g. "origin … is not in cors_origins of project …"."""
    preflight: bool = False
    """True for a refused ``OPTIONS`` preflight, False for an actual request."""

"""The core object: one ``Exchange`` per request, moving through named phases.

Middlewares and handlers fill the exchange in as the request proceeds (received →
authenticated → routed → upstream → streaming → finished/failed) and every change is
recorded as a typed event from ``exchange/events.py``, published through the ``TraceStore``. The
exchange also keeps the summary subscribers need later (status, usage, chunk times) so
the store's ring of recent exchanges can be shown without replaying events.

Each phase sets the exchange's fields first and builds its event only when a subscriber
wants that type (``TraceStore.wanted``): headless mode takes only the terminal events, so
a request there builds one event, and its headers are never redacted for nobody.

The exchange's fields are declared once, in ``FIELDS``; its slots, what the trace
writer copies at its end and the summary of its record are derived from that tuple. An
exchange that ends is priced (``cost``) by its store's pricer before its end is published
(``Bus.pricer``, installed by the usage recorder: finops sits above this layer), so
every subscriber of the end event sees the cost its usage record holds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from enum import Enum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from behest_local.exchange import events as ev
from behest_local.exchange.scrub import redact_value
from behest_local.exchange.timing import TIMELINE_MAX

if TYPE_CHECKING:
    from behest_local.exchange.capture import Capture


class Bus(Protocol):
    """What an exchange publishes its events to: ``bus.TraceStore`` (declared here, where it
    is used, so the exchange never imports the bus that holds exchanges)."""

    wanted: frozenset[type]
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    pricer: Callable[[Exchange], float | None] | None

    def opened(self, exchange: Exchange) -> None: ...

    def publish(self, event: ev.TraceEvent, exchange: Exchange) -> None: ...

    def price(self, exchange: Exchange) -> float | None: ...


class Phase(str, Enum):
    RECEIVED = "received"
    AUTHENTICATED = "authenticated"
    ROUTED = "routed"
    UPSTREAM = "upstream"
    STREAMING = "streaming"
    FINISHED = "finished"
    FAILED = "failed"


WARNING_HEADER = "x-behest-warning"
"""The response header that carries ``Exchange.warning`` to the client."""

PROGRESS_S = 0.25
"""A stream publishes at most one ``ChunkSent`` per this many seconds after its first: live
views refresh at this pace (the TUI's detail every 0.25 s); every event's time is kept."""

CURRENT: ContextVar[Exchange | None] = ContextVar("behest_local_exchange", default=None)
"""The exchange of the request being served on this task (set by ``gateway_middleware``).

Only for code below the provider interface that has no exchange in hand, such as the
upstream transport timing its waits (``provider_waited``); everything else is passed
the exchange explicitly."""


# Request and trace ids identify, they do not authenticate: the random module's generator
# (seeded from os.urandom, reseeded after fork) makes them as unique as ``secrets`` would,
# without a getrandom syscall per request that releases the GIL and may wait to retake it.

_ZERO_TRACE = "0" * 32


def new_ids() -> tuple[str, str]:
    """A request id (``req_`` and 24 hex digits) and a trace id, from one random draw.

    The trace id has the W3C trace-context trace-id form (32 lowercase hex, not all zero),
    so it can be correlated with traceparent headers in the user's own tracing later."""
    both = "req_%056x" % random.getrandbits(224)
    trace_id = both[28:]
    if trace_id == _ZERO_TRACE:  # all zero is invalid (W3C trace-context §3.2.2.3)
        trace_id = _ZERO_TRACE[:-1] + "1"
    return both[:28], trace_id


class Field(NamedTuple):
    """One field of an exchange, as ``FIELDS`` declares it."""

    name: str
    recorded: bool = True
    """A key of the exchange's record (observe/record.py) under this name. False for a value
    the record shows only through others derived from it (``started`` → ``ttft``)."""
    derived: bool = False
    """A property of the other fields (``ttft``, ``duration``): not stored, not carried to
    the trace writer; the rebuilt exchange there computes it with the same property."""
    plain: Callable[[Any], Any] | None = None
    """To a plain value (for marshal and JSON), for a field that does not hold one."""
    typed: Callable[[Any], Any] | None = None
    """Back from ``plain``'s value."""


_phase_value = attrgetter("value")

FIELDS: tuple[Field, ...] = (
    Field("id"), Field("trace_id"), Field("wall_time"), Field("method"), Field("path"),
    Field("dialect"),
    Field("phase", plain=_phase_value, typed=Phase), Field("tenant"), Field("project"),
    Field("user"), Field("session"), Field("credential"), Field("requested_model"),
    Field("model"), Field("provider"), Field("stream"), Field("status"), Field("error"),
    Field("warning"), Field("guardrails"),
    Field("ttft", derived=True), Field("duration", derived=True), Field("provider_time"),
    Field("prompt_tokens"), Field("completion_tokens"), Field("variant"), Field("cost"),
    Field("bytes_sent"),
    Field("started", recorded=False), Field("ended", recorded=False),
    Field("chunk_times", recorded=False), Field("chunks_untimed", recorded=False),
    Field("chunks", derived=True),
)
"""The fields of an exchange, declared once: ``Exchange``'s slots, what the trace
writer copies (observe/trace_writer.py ``snapshot``/``restore``) and the summary keys of
its record (observe/record.py ``build_record``) are all derived from this tuple. The
exchange's other slots are references that are not copied: its ``capture`` (copied on its
own, ``Capture.snapshot``), the ``settle`` hook, the store and its clock."""


class Exchange:
    """One request/response pair and everything the gateway learnt about it."""

    __slots__ = (*(f.name for f in FIELDS if not f.derived),
                 "capture", "settle", "pii", "_store", "_clock", "_last_untimed")
    # The fields ``__init__`` sets to None in one chained assignment, and what they hold.
    tenant: str | None
    project: str | None
    credential: str | None
    user: str | None
    session: str | None
    requested_model: str | None
    model: str | None
    provider: str | None
    status: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    variant: str | None
    cost: float | None
    ended: float | None
    error: str | None
    warning: str | None
    guardrails: str | None
    capture: Capture | None
    provider_time: float | None
    settle: Callable[[], None] | None

    def __init__(self, store: Bus, *, method: str, path: str) -> None:
        self._store = store
        self._clock: Callable[[], float] = store.clock
        self.id, self.trace_id = new_ids()
        self.method = method
        self.path = path
        self.started = store.clock()
        self.wall_time = store.wall_clock()
        self.phase = Phase.RECEIVED
        # One chained assignment for the fields set later: a single constant load.
        self.tenant = self.project = self.credential = self.user = self.session = None
        self.requested_model = self.model = self.provider = None
        self.status = self.prompt_tokens = self.completion_tokens = self.variant = None
        # ``variant``: what of the request besides its model sets its price, for a model
        # priced per variant (a DALL·E image's ``"hd 1792x1024"``, finops/prices.PER_IMAGE).
        # ``cost`` (USD) is set as the exchange ends, by its store's pricer (the usage
        # recorder's ``price``): None until then, and when it is not billed.
        # ``warning``: what the client should know about its own request although it was
        # answered (an unknown model's likely intended name): the response's
        # ``x-behest-warning`` header, the request log line and the TUI show it.
        self.ended = self.error = self.cost = self.warning = self.guardrails = None
        # ``guardrails``: what each guardrail that found something found and did, "; "
        # between them ("pii enforce: PERSON×2 → MASK"), for the record and the TUI (a
        # plain string, as the record and the trace writer's pipe want); ``pii``: the
        # values it found with their entity, which every captured copy replaces
        # (``Capture.pii``). Never recorded.
        self.pii: tuple[tuple[str, str], ...] = ()
        self.stream = False
        self.dialect = "openai"
        """The API dialect the client spoke: ``openai``, or ``anthropic`` on the Messages API
        (set by authentication, server/admission/auth.py)."""
        self.chunk_times: list[float] = []
        """When each stream event was written, for the first ``TIMELINE_MAX`` of them."""
        self.chunks_untimed = 0
        """Events written past ``TIMELINE_MAX``: counted, their times not kept."""
        self._last_untimed = 0.0
        self.bytes_sent = 0
        # ``capture``: headers, bodies and raw stream events (exchange/capture.py), attached by
        # server/routes/inspect.record_response as the response goes out (a whole one once
        # written); None until then, or when not recorded.
        # ``provider_time``: seconds spent waiting on the provider before the response
        # headers (the upstream's answer, or a stream's first event); None when no provider
        # was asked. Server-Timing (server/timing_header.py) subtracts it to show the
        # gateway's own time.
        # ``settle``: a StreamMeter's count of what was sent, run before the end is
        # published so every subscriber of the end event sees the final tokens
        # (finops/meter.py).
        self.capture = self.provider_time = self.settle = None

    # -- phases ---------------------------------------------------------------------

    def received(self, *, client: str, headers: Iterable[tuple[str, str]]) -> None:
        """Enter the store's ring; ``RequestReceived`` (with ``headers`` redacted) only if
        wanted. ``client`` and ``headers`` are read only then (middleware.py skips
        working the peer out when nobody wants ``RequestReceived``)."""
        store = self._store
        store.opened(self)
        if ev.RequestReceived in store.wanted:
            redacted = tuple([(k, redact_value(k, v)) for k, v in headers])
            store.publish(ev.RequestReceived(self.id, self.started, self.method, self.path,
                                             client, self.wall_time, redacted), self)

    def authenticated(self, *, tenant: str, project: str, credential: str,
                      user: str | None = None, session: str | None = None) -> None:
        self.tenant, self.project, self.credential = tenant, project, credential
        self.user, self.session = user, session
        self.phase = Phase.AUTHENTICATED
        if ev.Authenticated in self._store.wanted:
            self._publish(ev.Authenticated(self.id, self._clock(), tenant, project, credential,
                                           user, session))

    def routed(self, *, requested_model: str | None, model: str, provider: str, reason: str,
               stream: bool) -> None:
        self.requested_model, self.model, self.provider = requested_model, model, provider
        self.stream = stream
        self.phase = Phase.ROUTED
        if ev.Routed in self._store.wanted:
            self._publish(ev.Routed(self.id, self._clock(), requested_model, model, provider,
                                    reason, stream))

    def guarded(self, *, guard: str, mode: str, counts: tuple[tuple[str, int], ...],
                action: str, summary: str) -> None:
        """A guardrail's finding on this request (``GuardrailTriggered``); ``summary`` is
        its one line for the record."""
        self.guardrails = summary if self.guardrails is None else \
            f"{self.guardrails}; {summary}"
        if ev.GuardrailTriggered in self._store.wanted:
            self._publish(ev.GuardrailTriggered(self.id, self._clock(), guard, mode, counts,
                                                action))

    def upstream_started(self) -> None:
        self.phase = Phase.UPSTREAM
        if ev.UpstreamStarted in self._store.wanted:
            self._publish(ev.UpstreamStarted(self.id, self._clock(), self.provider or "?",
                                             self.model or "?"))

    def chunk_sent(self, size: int) -> None:
        """Record one stream event written to the client. Hot path (once per relayed
        event): an append and a sum. ``ChunkSent`` is published for the first event and
        then for the first in each ``PROGRESS_S`` window (exchange/events.py says why).
        Past ``TIMELINE_MAX`` events, only counted (``_untimed``)."""
        now = self._clock()
        times = self.chunk_times
        index = len(times)
        if index >= TIMELINE_MAX:
            self._untimed(now, size)
            return
        times.append(now)
        self.bytes_sent += size
        if not index:
            self.phase = Phase.STREAMING
            self._publish(ev.ChunkSent(self.id, now, 0, size))
        elif now // PROGRESS_S != times[-2] // PROGRESS_S:
            self._publish(ev.ChunkSent(self.id, now, index, size))

    def _untimed(self, now: float, size: int) -> None:
        """``chunk_sent`` for an event past the timeline: counted, sized and published as
        the others, its time not kept."""
        before = self._last_untimed if self.chunks_untimed else self.chunk_times[-1]
        self.chunks_untimed += 1
        self._last_untimed = now
        self.bytes_sent += size
        if now // PROGRESS_S != before // PROGRESS_S:
            self._publish(ev.ChunkSent(self.id, now, self.chunks - 1, size))

    def provider_waited(self, seconds: float) -> None:
        """Add ``seconds`` of waiting on the provider (before the response headers)."""
        self.provider_time = (self.provider_time or 0.0) + seconds

    def usage(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens

    def _end(self, status: int, phase: Phase) -> bool:
        """Settle, stamp and price the exchange as it ends; False when it had ended already
        (the first end wins)."""
        if self.ended is not None:
            return False
        if self.settle is not None:
            self.settle()
        self.ended = self._clock()
        self.status = status
        self.phase = phase
        store = self._store
        if store.pricer is not None:
            self.cost = store.price(self)
        return True

    def finish(self, status: int) -> None:
        if not self._end(status, Phase.FINISHED):
            return
        if ev.ExchangeFinished in self._store.wanted:
            self._publish(ev.ExchangeFinished(
                self.id, self.ended, status, self.ended - self.started, self.ttft,
                self.chunks, self.prompt_tokens, self.completion_tokens))

    def fail(self, status: int, *, code: str | None, message: str,
             cancelled: bool = False, details: dict | None = None) -> None:
        if not self._end(status, Phase.FAILED):
            return
        self.error = message
        if ev.ExchangeFailed in self._store.wanted:
            self._publish(ev.ExchangeFailed(self.id, self.ended, status, code, message,
                                            self.ended - self.started, cancelled,
                                            details or {}))

    # -- derived --------------------------------------------------------------------

    @property
    def ttft(self) -> float | None:
        return self.chunk_times[0] - self.started if self.chunk_times else None

    @property
    def chunks(self) -> int:
        """Stream events written to the client (``chunk_times`` holds the first ones')."""
        return len(self.chunk_times) + self.chunks_untimed

    def elapsed(self) -> float:
        """Seconds since the exchange started, on the trace store's clock."""
        return self._clock() - self.started

    def now(self) -> float:
        """The trace store's clock (monotonic seconds), for timing spans of this exchange."""
        return self._clock()

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def _publish(self, event: ev.TraceEvent) -> None:
        self._store.publish(event, self)

    def __repr__(self) -> str:
        return (f"Exchange({self.id} {self.method} {self.path} phase={self.phase.value} "
                f"status={self.status})")

"""OpenTelemetry spans out: one span per ended exchange, exported over OTLP/HTTP.

A ``TraceStore`` subscriber to the terminal events only (``SpanExporter.EVENTS``): the span
is built once, from the ended exchange's summary (its start, end, model, provider, tokens,
time to first token), so a stream's events cost it nothing. Attributes follow the
OpenTelemetry GenAI semantic conventions (``gen_ai.operation.name``,
``gen_ai.provider.name``, which replaced ``gen_ai.system``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``/``output_tokens``,
``gen_ai.response.time_to_first_chunk``). The span's trace id is the exchange's own, the
``X-Trace-Id`` the client got, so the two can be joined. Prompts and completions are added
(``gen_ai.input.messages``, ``gen_ai.output.messages``) only with ``capture_content``, and
redacted as the trace files are (exchange/scrub.py).

Off the hot path: an ended exchange is only appended to a list (on the request's task);
the first one arms a timer on the event loop, and when it fires the batch goes to one
worker thread, which builds the spans (redaction included) and exports them. The SDK's
``BatchSpanProcessor`` is not used because its worker thread wakes every schedule delay
even when idle; here nothing runs while nothing ends, and the worker thread sleeps on its
queue. The SDK is an optional extra (``pip install behest-local[otel]``), imported only
when telemetry is configured (``load``). Sits in observe/: plain arguments, no config.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from behest_local.exchange.events import ExchangeFailed, ExchangeFinished, TraceEvent
from behest_local.exchange.exchange import Exchange
from behest_local.exchange.scrub import redact_text

log = logging.getLogger("behest_local.observe.otel")

BATCH_S = 1.0
"""Seconds ended spans wait to be exported together."""

BATCH_MAX = 512
"""Most spans one export carries; a fuller batch is exported at once."""

BACKLOG_MAX = 8
"""Most batches waiting for the export thread; past it a batch is dropped (and counted in
``dropped``): a collector that is slow or down must not grow the gateway's memory."""

EXPORT_TIMEOUT_S = 3.0
"""How long one export may try (the SDK retries within it): a collector that is down costs
the export thread this long per batch, never a request."""

CLOSE_WAIT_S = 2.0
"""At shutdown, how long the last spans may take to leave before the exporter is shut
down under them (which ends its retries): a dead collector must not hold up a stop."""

OPERATIONS = {
    "/v1/chat/completions": "chat", "/v1/messages": "chat", "/v1/responses": "chat",
    "/v1/completions": "text_completion", "/v1/embeddings": "embeddings",
}
"""``gen_ai.operation.name`` by route (semantic conventions' well-known values)."""

PROVIDERS = {"gemini": "gcp.gemini", "mistral": "mistral_ai", "emulated": "behest_local"}
"""``gen_ai.provider.name`` where the conventions name a provider differently."""


class OtelUnavailable(RuntimeError):
    """Telemetry is configured but the OpenTelemetry SDK is not installed."""


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a base ``endpoint`` (as ``OTEL_EXPORTER_OTLP_ENDPOINT``
    is read: ``/v1/traces`` appended), or ``endpoint`` when it already names it."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def load(endpoint: str, *, service_name: str = "behest-local") -> Any:
    """The SDK pieces (tracer provider, exporter) for ``endpoint``; ``OtelUnavailable`` with
    what to install when the extra is missing."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.id_generator import IdGenerator
    except ImportError as exc:
        raise OtelUnavailable(
            f"telemetry.otlp_endpoint is set but the OpenTelemetry SDK is missing ({exc}): "
            "install it with `pip install 'behest-local[otel]'`") from None

    class ExchangeIds(IdGenerator):
        """The next span's trace id is the exchange's (set just before it starts)."""

        trace_id = 0

        def generate_span_id(self) -> int:
            return random.getrandbits(64) or 1  # ids identify, as new_ids' do

        def generate_trace_id(self) -> int:
            return self.trace_id

    ids = ExchangeIds()
    # No atexit hook: ``SpanExporter.close`` shuts the exporter down at the gateway's stop.
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}),
                              id_generator=ids, shutdown_on_exit=False)
    # The SDK logs every retry and failure of every batch; ``SpanExporter`` says once which
    # collector cannot be reached instead, so a collector that is down does not flood stderr.
    logging.getLogger("opentelemetry.exporter.otlp.proto.http").setLevel(logging.CRITICAL)
    return provider, ids, OTLPSpanExporter(endpoint=traces_url(endpoint),
                                           timeout=EXPORT_TIMEOUT_S)


class SpanExporter:
    """Builds a span per ended exchange and exports them in batches off the loop.

    Subscribe with ``store.subscribe(exporter, events=SpanExporter.EVENTS)``; ``close``
    exports what is left and shuts the exporter down.

    Args:
        endpoint: the OTLP/HTTP base URL (``traces_url``).
        capture_content: add the redacted request and response bodies.
        loaded: ``load(endpoint)``'s result (injectable for tests).
    """

    EVENTS = (ExchangeFinished, ExchangeFailed)

    def __init__(self, endpoint: str, *, capture_content: bool = False,
                 loaded: Any = None) -> None:
        self.endpoint = traces_url(endpoint)
        self.capture_content = capture_content
        provider, self._ids, self._exporter = loaded or load(endpoint)
        self._provider = provider
        self._tracer = provider.get_tracer("behest_local")
        self._pending: list[Any] = []
        self._timer: asyncio.TimerHandle | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="behest-local otlp")
        self._failed = False
        self._lock = threading.Lock()
        self._backlog = 0  # batches handed to the export thread, not yet exported
        self.dropped = 0
        """Spans dropped because the export thread was ``BACKLOG_MAX`` batches behind."""

    def __call__(self, event: TraceEvent, exchange: Exchange) -> None:
        # Only an append on the request's task: the span is built on the export thread
        # (the ended exchange no longer changes; the ring holds it anyway).
        code = event.code if type(event) is ExchangeFailed else None
        self._pending.append((exchange, code))
        self._schedule()

    def _span(self, exchange: Exchange, code: str | None) -> Any:
        """The span of one ended exchange (on the export thread: its only user, so
        setting the id generator's next trace id here is safe)."""
        from opentelemetry.trace import SpanKind, Status, StatusCode

        start_ns = int(exchange.wall_time * 1e9)
        end_ns = start_ns + int(((exchange.ended or exchange.started) - exchange.started) * 1e9)
        self._ids.trace_id = int(exchange.trace_id, 16)
        operation = OPERATIONS.get(exchange.path)
        name = (f"{operation} {exchange.model}" if operation and exchange.model
                else f"{exchange.method} {exchange.path}")
        span = self._tracer.start_span(name, kind=SpanKind.SERVER, start_time=start_ns,
                                       attributes=self._attributes(exchange, operation))
        status = exchange.status or 0
        if code is not None or status >= 400 or exchange.error:
            span.set_attribute("error.type", code or str(status))
            span.set_status(Status(StatusCode.ERROR, exchange.error or None))
        span.end(end_time=end_ns)
        return span

    def _attributes(self, exchange: Exchange, operation: str | None) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "http.request.method": exchange.method, "url.path": exchange.path,
            "http.response.status_code": exchange.status or 0,
            "behest.request_id": exchange.id,
        }
        if exchange.project:
            attributes["behest.project"] = exchange.project
        if exchange.user:
            attributes["behest.user"] = exchange.user
        if operation:
            attributes["gen_ai.operation.name"] = operation
        if exchange.provider:
            attributes["gen_ai.provider.name"] = PROVIDERS.get(exchange.provider,
                                                               exchange.provider)
        if exchange.requested_model or exchange.model:
            attributes["gen_ai.request.model"] = exchange.requested_model or exchange.model
        if exchange.model:
            attributes["gen_ai.response.model"] = exchange.model
        if exchange.prompt_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = exchange.prompt_tokens
        if exchange.completion_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = exchange.completion_tokens
        if exchange.ttft is not None:
            attributes["gen_ai.response.time_to_first_chunk"] = exchange.ttft
        if exchange.cost is not None:
            attributes["behest.cost_usd"] = exchange.cost
        if self.capture_content and exchange.capture is not None:
            attributes.update(_content(exchange))
        return attributes

    def _schedule(self) -> None:
        if len(self._pending) >= BATCH_MAX:
            self.flush()
            return
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._timer = loop.call_later(BATCH_S, self.flush)

    def flush(self) -> None:
        """Hand the spans gathered so far to the export thread."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        with self._lock:
            full = self._backlog >= BACKLOG_MAX
            if not full:
                self._backlog += 1
        if full:
            self.dropped += len(batch)
            return
        self._pool.submit(self._export, batch)

    def _export(self, batch: list[Any]) -> None:
        try:
            self._send(batch)
        finally:
            with self._lock:  # ``-=`` is not atomic across threads: a lost one would stick
                self._backlog -= 1

    def _send(self, batch: list[Any]) -> None:
        try:
            result = self._exporter.export([self._span(*entry) for entry in batch])
        except Exception as exc:  # the collector's problem must never reach a request
            result = exc
        if getattr(result, "name", "") != "SUCCESS":
            if not self._failed:
                self._failed = True
                log.warning("cannot export spans to %s (%s); later failures are not logged",
                            self.endpoint, result)
        else:
            self._failed = False

    def close(self) -> None:
        """Export what is left, waiting at most ``CLOSE_WAIT_S`` for it, and shut the
        exporter down (blocking: call it off the loop at shutdown)."""
        self.flush()
        drained = self._pool.submit(lambda: None)
        try:
            drained.result(CLOSE_WAIT_S)
        except TimeoutError:
            log.warning("gave up exporting the last spans to %s", self.endpoint)
        self._exporter.shutdown()  # ends a retry still under way
        self._pool.shutdown(wait=True)


def _content(exchange: Exchange) -> dict[str, str]:
    """The redacted request and response bodies (a stream's: its events, joined)."""
    capture = exchange.capture
    out = {}
    request = capture.redacted_request_body()
    if request:
        out["gen_ai.input.messages"] = request
    response = capture.redacted_response_body()
    if response is None:
        frames = capture.raw_frames()
        if frames:
            response = redact_text(b"".join(frames).decode("utf-8", "replace"),
                                   capture.known)
    if response:
        out["gen_ai.output.messages"] = response
    return out

"""Telemetry out: ``GET /_behest/metrics`` and the OpenTelemetry span exporter's lifetime.

``setup_telemetry`` adds the metrics route (a ``/_behest/`` inspection route: loopback
only, no browser pages, no credentials, as Prometheus scrapes) and, for the app's
lifetime, subscribes the metrics aggregator (observe/metrics.py) and, when
``[telemetry] otlp_endpoint`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a collector, the span
exporter (observe/otel.py). Both take the terminal events only, so streams pay nothing per
event for them. Without an endpoint the OpenTelemetry SDK is never imported and no thread
or timer exists; with one but without the SDK, the gateway starts and says once what to
install.
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiohttp import web

from behest_local.observe.metrics import Metrics
from behest_local.observe.otel import OtelUnavailable, SpanExporter
from behest_local.server.keys import GATEWAY

log = logging.getLogger("behest_local.telemetry")

METRICS_PATH = "/_behest/metrics"
METRICS = web.AppKey("metrics", Metrics)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"


def setup_telemetry(app: web.Application) -> None:
    app[METRICS] = Metrics()
    app.router.add_get(METRICS_PATH, get_metrics)
    app.cleanup_ctx.append(_subscribed)


def otlp_endpoint(configured: str) -> str:
    """Where spans go: the setting, else the standard variable; "" for nowhere."""
    return configured or os.environ.get(ENDPOINT_VARIABLE, "").strip()


async def _subscribed(app: web.Application):
    gateway = app[GATEWAY]
    metrics = app[METRICS]
    unsubscribe = [gateway.store.subscribe(metrics, events=Metrics.EVENTS)]
    telemetry = gateway.settings.telemetry
    exporter = None
    endpoint = otlp_endpoint(telemetry.otlp_endpoint)
    if endpoint:
        try:
            exporter = SpanExporter(endpoint, capture_content=telemetry.capture_content)
        except OtelUnavailable as exc:
            log.warning("%s", exc)
        else:
            unsubscribe.append(gateway.store.subscribe(exporter, events=SpanExporter.EVENTS))
    try:
        yield
    finally:
        for undo in unsubscribe:
            undo()
        if exporter is not None:  # the spans of the last requests, then the connection
            await asyncio.to_thread(exporter.close)


async def get_metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].render().encode(),
                        headers={"Content-Type": CONTENT_TYPE})

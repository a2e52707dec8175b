"""Telemetry out: spans at an OTLP/HTTP receiver, and ``GET /_behest/metrics``.

The receiver is a tiny aiohttp server decoding the exporter's protobuf with
opentelemetry-proto; the metrics are parsed with prometheus_client's own parser. A canary
in the prompt and a secret-shaped string show what leaves the gateway: no prompt text
unless ``capture_content`` is on, never a secret.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import replace

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from behest_local.config.schema import TelemetryConfig
from tests.conftest import TEST_SETTINGS

CANARY = "canary-7f3a prompt text"
SECRET = "sk-proj-" + "Q" * 40


class Receiver:
    """An OTLP/HTTP traces endpoint that keeps every span it is sent, as plain dicts."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.changed = asyncio.Event()

    async def traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest.FromString(body)
        for resource in message.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    self.spans.append({
                        "name": span.name, "trace_id": span.trace_id.hex(),
                        "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                        "status": span.status.code,
                        "attributes": {a.key: _value(a.value) for a in span.attributes}})
        self.changed.set()
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        async def enough():
            while len(self.spans) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.spans


def _value(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
async def receiver(aiohttp_server):
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", receiver.traces)
    server = await aiohttp_server(app)
    receiver.url = f"http://127.0.0.1:{server.port}"
    return receiver


def _telemetry(url: str, **changes):
    return replace(TEST_SETTINGS, telemetry=TelemetryConfig(otlp_endpoint=url, **changes))


async def _chat(client, *, stream=False, content=CANARY):
    body = {"model": "gpt-4o-mini", "stream": stream,
            "messages": [{"role": "user", "content": f"{content} {SECRET}"}]}
    response = await client.post("/v1/chat/completions", json=body, headers=client.key)
    text = await response.text()
    return response, text


async def _three(client):
    """A chat, a stream and an error (a body with no messages); their request ids."""
    ok, _ = await _chat(client)
    assert ok.status == 200
    streamed, text = await _chat(client, stream=True)
    assert streamed.status == 200 and "[DONE]" in text
    bad = await client.post("/v1/chat/completions", json={"model": "gpt-4o-mini"},
                            headers=client.key)
    assert bad.status == 400
    return [r.headers for r in (ok, streamed, bad)]


async def test_a_chat_a_stream_and_an_error_each_arrive_as_a_genai_span(
        make_gateway_client, receiver):
    client = await make_gateway_client(_telemetry(receiver.url))
    headers = await _three(client)
    spans = {span["attributes"]["behest.request_id"]: span
             for span in await receiver.wait_for(3)}
    chat, stream, error = (spans[h["X-Request-Id"]] for h in headers)
    for span, sent in zip((chat, stream, error), headers):
        assert span["trace_id"] == sent["X-Trace-Id"]  # joinable with the client's own
        assert span["end"] > span["start"]
        assert span["attributes"]["gen_ai.operation.name"] == "chat"
        assert "gen_ai.system" not in span["attributes"]  # replaced by gen_ai.provider.name
    for span in (chat, stream):
        assert span["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat["name"] == f"chat {chat['attributes']['gen_ai.response.model']}"
    assert chat["attributes"]["gen_ai.provider.name"]
    assert chat["attributes"]["gen_ai.usage.input_tokens"] > 0
    assert chat["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert "gen_ai.response.time_to_first_chunk" not in chat["attributes"]
    assert 0 < stream["attributes"]["gen_ai.response.time_to_first_chunk"] < 10
    assert stream["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert error["attributes"]["http.response.status_code"] == 400
    assert error["attributes"]["error.type"]
    assert error["status"] == 2  # STATUS_CODE_ERROR
    assert chat["status"] != 2


async def test_spans_hold_no_prompt_text_unless_opted_in_and_never_a_secret(
        make_gateway_client, receiver, tmp_path):
    client = await make_gateway_client(_telemetry(receiver.url))
    await _three(client)
    assert CANARY not in json.dumps(await receiver.wait_for(3))
    assert SECRET not in json.dumps(receiver.spans)

    opted = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", opted.traces)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        client = await make_gateway_client(_telemetry(url, capture_content=True),
                                           home=tmp_path / "opted")
        await _three(client)
        spans = await opted.wait_for(3)
        text = json.dumps(spans)
        assert CANARY in text  # the prompt, as asked
        assert SECRET not in text  # redacted as traces are
        stream = [s for s in spans if "gen_ai.response.time_to_first_chunk" in s["attributes"]]
        assert "data:" in stream[0]["attributes"]["gen_ai.output.messages"]
    finally:
        await runner.cleanup()


async def test_the_standard_variable_names_the_collector(make_gateway_client, receiver,
                                                         monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    client = await make_gateway_client()
    ok, _ = await _chat(client)
    [span] = await receiver.wait_for(1)
    assert span["attributes"]["behest.request_id"] == ok.headers["X-Request-Id"]


async def test_without_an_endpoint_no_exporter_runs(make_gateway_client, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    from behest_local.observe.otel import SpanExporter

    client = await make_gateway_client()
    store = client.gateway.store
    assert not any(isinstance(fn, SpanExporter) for fn, _ in store._subscribers)


def _samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def _total(samples: dict, name: str, **labels) -> float:
    return sum(s.value for s in samples.get(name, [])
               if all(s.labels.get(k) == v for k, v in labels.items()))


async def test_metrics_count_requests_errors_tokens_and_times_by_label(make_gateway_client):
    client = await make_gateway_client()
    await _three(client)
    response = await client.get("/_behest/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = _samples(await response.text())
    assert _total(samples, "behest_requests_total", project="local") == 3
    assert _total(samples, "behest_requests_total", project="local", status="200") == 2
    assert _total(samples, "behest_errors_total", project="local", status="400") == 1
    assert _total(samples, "behest_errors_total", status="200") == 0
    assert _total(samples, "behest_tokens_total", type="input") > 0
    assert _total(samples, "behest_tokens_total", type="output") > 0
    ok = [s for s in samples["behest_request_duration_seconds_count"]
          if s.labels["status"] == "200"]
    assert {s.labels["provider"] for s in ok} and sum(s.value for s in ok) == 2
    assert all(s.labels["model"] for s in ok)
    assert _total(samples, "behest_ttft_seconds_count", project="local") == 1  # the stream
    inf = _total(samples, "behest_request_duration_seconds_bucket", le="+Inf")
    assert inf == _total(samples, "behest_request_duration_seconds_count") == 3
    assert CANARY not in await (await client.get("/_behest/metrics")).text()


async def test_metrics_answer_only_on_the_machine_and_not_to_browsers(make_gateway_client):
    client = await make_gateway_client()
    response = await client.get("/_behest/metrics", headers={"Origin": "https://evil.test"})
    assert response.status == 403


# -- a real `behest-local serve`: spans arrive, metrics answer, and idle stays idle ----------

@pytest.mark.skipif(not __import__("pathlib").Path("/proc/self/task").is_dir(),
                    reason="reads context switches from Linux's /proc")
async def test_a_served_gateway_exports_spans_then_goes_idle_again(receiver, tmp_path):
    from tests.wakeups import BUDGET, WINDOW_S, settle, wake_ups
    from tests.serve_process import ServeProcess

    config = f'[telemetry]\notlp_endpoint = "{receiver.url}"\n'
    server = await asyncio.to_thread(ServeProcess, tmp_path / "home", config=config,
                                     env={"OTEL_EXPORTER_OTLP_ENDPOINT": None})
    try:
        made = await asyncio.to_thread(server.cli, "keys", "create", "--project", "local")
        key = next(word for word in made.stdout.split() if word.startswith("behest_sk_"))
        status, body, headers = await asyncio.to_thread(
            server.request, "POST", "/v1/chat/completions",
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": CANARY}]},
            {"Authorization": f"Bearer {key}"})
        assert status == 200, body
        [span] = await receiver.wait_for(1)
        assert span["attributes"]["gen_ai.operation.name"] == "chat"
        assert span["attributes"]["behest.request_id"] == headers["X-Request-Id"]
        assert CANARY not in json.dumps(span)
        status, text, _ = await asyncio.to_thread(server.request, "GET", "/_behest/metrics")
        assert status == 200
        samples = _samples(text.decode())
        assert _total(samples, "behest_requests_total", status="200") == 1
        # The exporter's timer fired once and its thread sleeps on its queue: no wake-ups.
        await asyncio.to_thread(settle, server.pid)
        total, per_thread = await asyncio.to_thread(wake_ups, server.pid, WINDOW_S / 2)
        assert total <= BUDGET / 2, f"{total} wake-ups after exporting: {per_thread}"
    finally:
        assert await asyncio.to_thread(server.stop) == 0


async def test_a_collector_that_is_down_is_named_once_and_fails_no_request(
        make_gateway_client, caplog):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    client = await make_gateway_client(_telemetry(f"http://127.0.0.1:{dead}"))
    exporter = next(fn for fn, _ in client.gateway.store._subscribers
                    if type(fn).__name__ == "SpanExporter")
    ok, _ = await _chat(client)
    assert ok.status == 200
    exporter.flush()
    await asyncio.to_thread(exporter._pool.submit(lambda: None).result, 10)
    named = [r for r in caplog.records if "cannot export spans" in r.getMessage()]
    assert len(named) == 1 and f":{dead}/v1/traces" in named[0].getMessage()


async def test_an_endpoint_without_the_sdk_says_what_to_install(make_gateway_client, receiver,
                                                                monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter",
                        None)
    client = await make_gateway_client(_telemetry(receiver.url))
    ok, _ = await _chat(client)
    assert ok.status == 200  # the gateway serves all the same
    assert any("pip install 'behest-local[otel]'" in r.getMessage() for r in caplog.records)


def test_metrics_keep_a_bounded_number_of_series(monkeypatch):
    from behest_local.exchange.bus import TraceStore
    from behest_local.exchange.events import ExchangeFinished
    from behest_local.exchange.exchange import Exchange
    from behest_local.observe import metrics as metrics_module

    monkeypatch.setattr(metrics_module, "MAX_SERIES", 3)
    metrics, store = metrics_module.Metrics(), TraceStore()
    for n in range(5):
        exchange = Exchange(store, method="POST", path="/v1/chat/completions")
        exchange.routed(requested_model=f"m{n}", model=f"m{n}", provider="emulated",
                        reason="", stream=False)
        exchange.finish(200)
        metrics(ExchangeFinished(exchange.id, 0, 200, 0.0), exchange)
    samples = _samples(metrics.render())
    assert len(samples["behest_requests_total"]) == 4  # three models, then the rest
    assert _total(samples, "behest_requests_total", model="_other") == 2


async def test_a_backlog_past_its_bound_drops_spans_instead_of_growing(monkeypatch, receiver):
    import threading

    from behest_local.exchange.bus import TraceStore
    from behest_local.exchange.events import ExchangeFinished
    from behest_local.exchange.exchange import Exchange
    from behest_local.observe import otel

    exporter = otel.SpanExporter(receiver.url)
    release = threading.Event()
    exporter._send = lambda batch: release.wait(10)  # a collector that does not answer
    store = TraceStore()
    try:
        for _ in range(otel.BACKLOG_MAX + 2):
            exchange = Exchange(store, method="GET", path="/v1/models")
            exchange.finish(200)
            exporter(ExchangeFinished(exchange.id, 0, 200, 0.0), exchange)
            exporter.flush()
        assert exporter.dropped == 2
    finally:
        release.set()
        await asyncio.to_thread(exporter.close)

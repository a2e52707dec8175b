"""The gateway middleware (server/middleware.py): one middleware running every phase, and
the end of an answered request traced once, after its response is written."""

from __future__ import annotations

from behest_local.server.app import make_app
from behest_local.server.middleware import gateway_middleware
from behest_local.exchange.bus import TraceStore

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}


def test_one_middleware_and_one_response_hook(tmp_path):
    from behest_local.identity.api_keys import KeyStore
    from behest_local.runtime.build import build_gateway
    from tests.conftest import TEST_SETTINGS

    gateway = build_gateway(TEST_SETTINGS, tmp_path / "h", keys=KeyStore(tmp_path / "h"))
    app = make_app(gateway)
    assert list(app.middlewares) == [gateway_middleware]
    assert len(app.on_response_prepare) == 1


def _watch(store: TraceStore) -> list[tuple[str, str, bool]]:
    """(event type, exchange id, capture attached yet) for every event, in order."""
    seen: list[tuple[str, str, bool]] = []
    store.subscribe(lambda e, x: seen.append((type(e).__name__, x.id, x.capture is not None)))
    return seen


async def test_terminal_event_comes_after_the_response_is_prepared(gateway_client):
    seen = _watch(gateway_client.gateway.store)
    response = await gateway_client.post("/v1/chat/completions", json=CHAT,
                                         headers=gateway_client.headers_auth)
    assert response.status == 200
    rid = response.headers["X-Request-Id"]
    mine = [(kind, captured) for kind, xid, captured in seen if xid == rid]
    # Published by the time the client has the response, after the response was written
    # (the capture is attached as its headers go out), after every other event.
    assert [kind for kind, _ in mine] == ["RequestReceived", "Authenticated", "Routed",
                                          "UpstreamStarted", "ResponseStarted",
                                          "ExchangeFinished"]
    assert mine[-1] == ("ExchangeFinished", True)


async def test_refusals_are_traced_once_after_their_response(gateway_client):
    seen = _watch(gateway_client.gateway.store)
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = await gateway_client.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert response.status == 401
        rid = response.headers["X-Request-Id"]
        ends = [captured for kind, xid, captured in seen
                if xid == rid and kind in ("ExchangeFinished", "ExchangeFailed")]
        assert ends == [True]
    response = await gateway_client.get("/v1/nowhere", headers=gateway_client.headers_auth)
    assert response.status == 404
    assert [k for k, x, _ in seen if x == response.headers["X-Request-Id"]][-1] == \
        "ExchangeFailed"


async def test_a_client_gone_before_the_write_still_ends_the_exchange(gateway_client,
                                                                      monkeypatch):
    from aiohttp import web

    seen = _watch(gateway_client.gateway.store)

    async def vanished(self, request):
        raise ConnectionResetError("gone")

    monkeypatch.setattr(web.Response, "write_eof", vanished)
    try:
        await gateway_client.get("/v1/models", headers=gateway_client.headers_auth)
    except Exception:  # the client sees the connection end without a response
        pass
    monkeypatch.undo()
    ends = [kind for kind, _, _ in seen if kind in ("ExchangeFinished", "ExchangeFailed")]
    assert ends == ["ExchangeFinished"]


async def test_a_whole_response_is_captured_after_its_write_and_before_its_end(
        gateway_client, monkeypatch):
    from aiohttp import web

    from behest_local.server.keys import EXCHANGE

    written: list[bool] = []  # whether the capture was attached when the body was written
    write_eof = web.Response.write_eof

    async def watched(self, data=b""):
        exchange = self._req.get(EXCHANGE) if self._req is not None else None
        if exchange is not None:
            written.append(exchange.capture is not None)
        await write_eof(self, data)

    monkeypatch.setattr(web.Response, "write_eof", watched)
    seen = _watch(gateway_client.gateway.store)
    response = await gateway_client.post("/v1/chat/completions", json=CHAT,
                                         headers=gateway_client.headers_auth)
    body = await response.read()
    rid = response.headers["X-Request-Id"]
    assert written and not any(written)  # recorded once the response had left
    mine = [(kind, captured) for kind, xid, captured in seen if xid == rid]
    assert mine[-2:] == [("ResponseStarted", True), ("ExchangeFinished", True)]
    capture = gateway_client.gateway.store.find(rid).capture
    assert capture.responded and capture.response_status == 200
    recorded = dict(capture.response_headers)
    for name in ("X-Request-Id", "X-Trace-Id", "Server-Timing", "Content-Type"):
        assert recorded[name] == response.headers[name]
    assert capture.redacted_response_body() == body.decode()
    assert capture.request_body_size and capture.redacted_request_body()


async def test_the_response_hook_records_streams_and_ended_exchanges_only(gateway_client):
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from behest_local.exchange.exchange import Exchange
    from behest_local.server.app import prepare_response
    from behest_local.server.keys import EXCHANGE

    app = gateway_client.server.app
    store = gateway_client.gateway.store

    # A whole response of an open exchange is the middleware's to record, once written.
    for response, ended, captured in ((web.Response(body=b"{}"), False, False),
                                      (web.Response(body=b"{}"), True, True),
                                      (web.StreamResponse(), False, True)):
        request = make_mocked_request("GET", "/v1/models", app=app)
        exchange = request[EXCHANGE] = Exchange(store, method="GET", path="/v1/models")
        if ended:
            exchange.finish(200)
        await prepare_response(request, response)
        assert response.headers["X-Request-Id"] == exchange.id
        assert (exchange.capture is not None) is captured

"""The gateway middleware (server/middleware.py): one middleware running every phase, and
the end of an answered request traced once, after its response is written."""

from __future__ import annotations

from behest_local.server.app import make_app
from behest_local.server.middleware import gateway_middleware
from behest_local.trace import TraceStore

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}


def test_one_middleware_and_one_response_hook(tmp_path):
    from behest_local.keys import KeyStore
    from behest_local.runtime import build_gateway
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

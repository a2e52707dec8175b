"""Token FinOps: prices, lenient windows, the SQLite store off the loop, metering of streams,
and the two usage endpoints (``/v1/usage``, ``/v1/billing/usage``) over HTTP. Streams cut
short are in ``test_billing_routes.py``; an unusable usage database in
``test_usage_unavailable.py``."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone
from types import MappingProxyType, SimpleNamespace

import pytest

from behest_local.config import ModelPrice, ProviderConfig
from behest_local.exchange.bus import TraceStore
from behest_local.exchange.exchange import Exchange
from behest_local.fakes import openai as fake_openai
from behest_local.finops.meter import StreamMeter
from behest_local.finops.prices import PriceTable
from behest_local.finops.store import UsageStore
from behest_local.finops.window import WindowError, parse_instant, parse_window
from behest_local.server.routes.openai import ChatFramer
from behest_local.server.streaming import EventWriter
from behest_local.vault.store import Vault
from tests.conftest import TEST_SETTINGS
from tests.finops.usage_support import CHAT, T0, hello, record, usage

# -- pure parts --------------------------------------------------------------------------


def test_prices_longest_prefix_normalised_and_overridable():
    table = PriceTable()
    assert table.lookup("claude-sonnet-4-20250514").source == "bundled:claude-sonnet-4"
    assert table.lookup("anthropic/claude-opus-4.6").input == 5.0
    assert table.lookup("gpt-4o-mini-2024-07-18").source == "bundled:gpt-4o-mini"
    assert table.lookup("openrouter/meta-llama/llama-3-70b") is None
    assert table.cost("gpt-4o", 1_000_000, 100_000) == pytest.approx(3.5)
    custom = PriceTable(MappingProxyType({"gpt-4o": ModelPrice(1, 2),
                                          "llama": ModelPrice(0.1, 0.2)}))
    assert custom.cost("gpt-4o", 1_000_000, 1_000_000) == 3
    assert custom.lookup("gpt-4o-mini").source == "bundled:gpt-4o-mini"
    assert custom.lookup("llama3.1:8b").source == "config:llama"


@pytest.mark.parametrize("text", [
    "2026-04-01T00:00:00+00:00", "2026-04-01T00:00:00 00:00",  # the Python SDK's, form-decoded
    "2026-04-01T02:00:00 02:00", "2026-04-01T00:00:00.000Z", "2026-04-01T00:00:00z",
    "2026-04-01", "2026-04-01T00:00:00", "2026-04-01 00:00:00", "1775001600",
    "2026-03-31T19:00:00-05:00", "2026-04-01T00:00:00 0000"])
def test_every_spelling_of_an_instant_is_understood(text):
    assert parse_instant(text, param="from") == \
        datetime(2026, 4, 1, tzinfo=timezone.utc).timestamp()


def test_windows_include_the_whole_to_day_and_refuse_nonsense():
    since, until = parse_window({"from": "2026-04-01", "to": "2026-04-30"}, now=T0)
    assert until - since == 30 * 86_400
    since, until = parse_window({}, now=T0, default="month")
    assert since == datetime(2026, 4, 1, tzinfo=timezone.utc).timestamp() and until == T0 + 1
    for query, param in (({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"),
                         ({"from": "2026-05-01", "to": "2026-04-01"}, "from")):
        with pytest.raises(WindowError) as info:
            parse_window(query, now=T0)
        assert info.value.param == param


def test_the_store_writes_on_its_own_thread_in_batches_and_keeps_records(tmp_path):
    store = UsageStore.open(tmp_path, linger=0.2)
    seen: list[tuple[str, str]] = []
    store.submit(lambda conn: conn.set_trace_callback(
        lambda sql: seen.append((threading.current_thread().name, sql)))).result(5)
    for n in range(50):
        store.add(record(n))
    store.flush()
    assert store.written == 50 and {name for name, _ in seen} == {"behest-local usage writer"}
    inserts = [s for s in seen if s[1].startswith("INSERT")]
    assert len(inserts) <= 2 + 6  # many rows per statement: 32 + 16 + 2
    commits = [s for s in seen if s[1].startswith("COMMIT")]
    assert 1 <= len(commits) < 10  # batched: many records per transaction
    store.add(record(50))
    store.close()  # drains the queue first
    reopened = UsageStore.open(tmp_path)
    count = reopened.submit(lambda conn: conn.execute("SELECT COUNT(*) FROM usage")
                            .fetchone()[0]).result(5)
    reopened.close()
    assert count == 51


def test_an_overloaded_store_drops_and_counts_instead_of_blocking(tmp_path):
    store = UsageStore.open(tmp_path, max_pending=0)
    store.add(record(1))
    assert store.dropped == 1
    store.close()
    store.add(record(2))
    assert store.dropped == 2


def relayed(framer: ChatFramer, exchange: Exchange, chunks: list[dict]) -> list[bytes]:
    """What ``streaming.EventWriter`` writes to a client for ``chunks`` (metering each)."""
    written: list[bytes] = []
    wire = SimpleNamespace(is_closing=lambda: False, get_write_buffer_size=lambda: 0,
                           write=written.append)
    writer = EventWriter(framer)
    writer.arm(SimpleNamespace(writer=SimpleNamespace(send_headers=lambda: None,
                                                      chunked=False), transport=wire),
               exchange)
    for chunk in chunks:
        writer.send_chunk(chunk)
    return written


async def test_a_stream_without_reported_usage_is_counted():
    store = TraceStore()
    exchange = Exchange(store, method="POST", path=CHAT)
    messages = [{"role": "user", "content": "Count me"}]

    chunks = [{"choices": [{"index": 0, "delta": {"content": piece}}]}
              for piece in ("Hello", " there", ", friend")]

    meter = StreamMeter(exchange, messages)
    framer = ChatFramer(exchange, include_usage=False, meter=meter)
    frames = relayed(framer, exchange, chunks)
    assert len(frames) == 3
    exchange.finish(200)  # the count is the exchange's by the time its end is published
    assert exchange.prompt_tokens and exchange.completion_tokens == 4  # "Hello there, friend"

    reported = [{"choices": [{"index": 0, "delta": {"content": "Hi"}}]},
                {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 70}}]

    other = Exchange(store, method="POST", path=CHAT)
    framer = ChatFramer(other, include_usage=False, meter=StreamMeter(other, messages))
    relayed(framer, other, reported)
    assert (other.prompt_tokens, other.completion_tokens) == (7, 70)


# -- over HTTP ---------------------------------------------------------------------------


async def test_usage_totals_breakdown_and_sessions_with_the_sdks_unescaped_plus(gateway):
    client = await gateway()
    a = {**client.key, "X-End-User-Id": "ann", "X-Session-Id": "conv-1"}
    first = await client.post(CHAT, json=hello(), headers=a)
    client.clock.now = T0 + 3600
    stream = await client.post(CHAT, json=hello(stream=True), headers=a)
    await stream.read()
    await client.wait_end(stream.headers["X-Request-Id"])
    client.clock.now = T0 + 3700
    b = {**client.key, "X-End-User-Id": "bob", "X-Session-Id": "conv-2"}
    await client.post(CHAT, json=hello("gemini-2.5-flash"), headers=b)
    body = await usage(client, "from=2026-04-01T00:00:00+00:00&to=2026-04-01T23:59:59+00:00"
                               "&granularity=hour")
    assert body["window"] == {"from": "2026-04-01T00:00:00Z", "to": "2026-04-01T23:59:59Z"}
    assert body["totals"]["requests"] == 3 and body["totals"]["cost_usd"] > 0
    assert [(b["timestamp"], b["requests"]) for b in body["breakdown"]] == [
        ("2026-04-01T12:00:00Z", 1), ("2026-04-01T13:00:00Z", 2)]
    first_usage = (await first.json())["usage"]
    assert body["breakdown"][0]["tokens"] == first_usage["total_tokens"]
    sessions = {s["session_id"]: s for s in body["by_session"]}
    assert sessions["conv-1"]["requests"] == 2 and sessions["conv-1"]["user_id"] == "ann"
    assert {m["model"] for m in body["by_model"]} == {"gpt-4o", "gemini-2.5-flash"}
    mine = await usage(client, "user_id=bob&granularity=day")
    assert mine["totals"]["requests"] == 1 and mine["breakdown"][0]["timestamp"] \
        == "2026-04-01T00:00:00Z"
    one = await usage(client, "session_id=conv-1&granularity=minute")
    assert one["totals"]["requests"] == 2 and len(one["breakdown"]) == 2


async def test_any_token_of_the_project_reads_its_usage_and_user_id_filters(gateway):
    """The v1.5 SDK asks with a token minted for its default user: it must see the project."""
    client = await gateway()
    await client.post(CHAT, json=hello(), headers={**client.key, "X-End-User-Id": "other"})
    minted = await client.post("/v1/auth/mint", json={"user_id": "me"}, headers=client.key)
    token = {"Authorization": f"Bearer {(await minted.json())['jwt']}"}
    await client.post(CHAT, json=hello(), headers=token)
    assert (await usage(client, headers=token))["totals"]["requests"] == 2
    mine = await usage(client, "user_id=me", headers=token)
    assert mine["user_id"] == "me" and mine["totals"]["requests"] == 1
    assert mine["by_user"] == [{**mine["totals"], "user_id": "me"}]


async def test_usage_errors_are_behests_nested_shape(gateway):
    client = await gateway()
    bad = await client.get("/v1/usage?granularity=week", headers=client.key)
    assert bad.status == 400
    assert (await bad.json())["error"] == {
        "code": "validation_error", "message": "granularity='week': expected one of minute, "
        "hour, day", "details": {"param": "granularity"}}
    when = await client.get("/v1/usage?from=soon", headers=client.key)
    assert (await when.json())["error"]["details"] == {"param": "from"}
    anonymous = await client.get("/v1/usage")
    assert anonymous.status == 401 and (await anonymous.json())["error"]["code"] == "invalid_token"


async def test_billing_usage_splits_platform_and_byok_by_model(gateway, aiohttp_server, tmp_path):
    key = "sk-proj-" + "b" * 40
    upstream = await aiohttp_server(fake_openai.make_app(key=key))
    home = tmp_path / "byok-home"
    Vault.open(home, scrypt_n=2**4).set("openai", key)
    settings = replace(TEST_SETTINGS, providers=MappingProxyType({
        "openai": ProviderConfig(base_url=str(upstream.make_url("/v1")))}))
    client = await gateway(settings, home=home)
    for model in ("gpt-4o", "gpt-4o", "gemini-2.5-flash"):
        resp = await client.post(CHAT, json=hello(model), headers=client.key)
        assert resp.status == 200, await resp.text()
    body = await usage(client, "from=2026-04-01&to=2026-04-30", path="/v1/billing/usage")
    assert body["project_id"] == "local"
    assert body["window"] == {"from": "2026-04-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}
    assert body["byok"]["requests"] == 2 and body["platform"]["requests"] == 1
    assert [m["model"] for m in body["byok"]["by_model"]] == ["gpt-4o"]
    assert body["platform"]["by_model"][0]["model"] == "gemini-2.5-flash"
    assert body["byok"]["input_tokens"] > 0 and body["byok"]["cost_usd"] > 0
    default = await usage(client, path="/v1/billing/usage")  # this month so far
    assert default["window"]["from"] == "2026-04-01T00:00:00Z"


async def test_media_routes_are_billed_in_the_usage_report(gateway):
    """Speech per character, images per token (as OpenAI prices them); moderations
    counted, never charged (issue 22 item 4)."""
    client = await gateway()
    speech = await client.post("/v1/audio/speech", headers=client.key, json={
        "model": "tts-1", "voice": "alloy", "input": "Twelve chars", "response_format": "pcm"})
    await speech.read()
    await client.wait_end(speech.headers["X-Request-Id"])
    image = await client.post("/v1/images/generations", headers=client.key, json={
        "model": "gpt-image-1", "prompt": "a lighthouse", "size": "1024x1024",
        "quality": "low"})
    assert image.status == 200, await image.text()
    moderation = await client.post("/v1/moderations", headers=client.key,
                                   json={"input": "a quiet afternoon"})
    assert moderation.status == 200
    body = await usage(client, "granularity=day")
    by_model = {m["model"]: m for m in body["by_model"]}
    assert body["totals"]["requests"] == 3
    assert by_model["tts-1"]["cost_usd"] == pytest.approx(12 * 15 / 1e6)
    assert by_model["gpt-image-1"]["cost_usd"] > 0
    assert by_model["omni-moderation-latest"]["cost_usd"] == 0


@pytest.mark.parametrize("model, quality, size, per_image", [
    ("dall-e-3", "standard", "1024x1024", 0.040), ("dall-e-3", "standard", "1792x1024", 0.080),
    ("dall-e-3", "standard", "1024x1792", 0.080), ("dall-e-3", "hd", "1024x1024", 0.080),
    ("dall-e-3", "hd", "1792x1024", 0.120), ("dall-e-3", "hd", "1024x1792", 0.120),
    ("dall-e-2", "standard", "256x256", 0.016), ("dall-e-2", "standard", "512x512", 0.018),
    ("dall-e-2", "standard", "1024x1024", 0.020)])
def test_dall_e_costs_openais_price_per_image_by_quality_and_size(model, quality, size,
                                                                  per_image):
    from behest_local.finops.prices import image_variant

    table = PriceTable()
    assert table.cost(model, 0, 1, image_variant(quality, size)) == pytest.approx(per_image)
    assert table.cost(model, 0, 3, image_variant(quality, size)) == pytest.approx(3 * per_image)


def test_each_media_price_is_declared_in_the_unit_openai_bills():
    from behest_local.finops.prices import CHARACTERS, IMAGES, MINUTES

    table = PriceTable()
    assert (table.lookup("tts-1").unit, table.lookup("tts-1-hd").unit) == (CHARACTERS,) * 2
    assert table.lookup("whisper-1").unit is MINUTES and table.lookup("dall-e-3").unit is IMAGES
    assert table.cost("tts-1", 1_000_000, 0) == pytest.approx(15.0)
    assert table.cost("tts-1-hd", 1_000_000, 0) == pytest.approx(30.0)
    assert table.cost("whisper-1", 60, 0) == pytest.approx(0.006)  # a minute, in seconds
    assert table.cost("dall-e-3", 0, 1, "ultra 9x9") == 0  # a size OpenAI does not sell


def test_a_configured_price_of_a_per_image_model_stays_per_image():
    table = PriceTable(MappingProxyType({"dall-e-3": ModelPrice(0, 0.5)}))
    assert table.cost("dall-e-3", 0, 2, "hd 1792x1024") == pytest.approx(1.0)
    assert table.lookup("dall-e-3").source == "config:dall-e-3"

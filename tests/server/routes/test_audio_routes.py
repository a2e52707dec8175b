"""``/v1/audio/*`` in-loop: scripted transcripts, the 25 MB upload limit, malformed
bodies, and what the exchange records."""

from __future__ import annotations

import io
import wave
from dataclasses import replace

import aiohttp
import pytest

from behest_local.config.schema import ProjectConfig, ScriptedReply
from behest_local.exchange.events import ExchangeFinished
from behest_local.finops.prices import PriceTable
from tests.conftest import TEST_SETTINGS
from tests.trace_support import EventWaiter


def wav_bytes(seconds: float = 2.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x01\x00" * int(seconds * 8000))
    return out.getvalue()


def form(data: bytes, filename: str = "a.wav", **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("model", fields.pop("model", "whisper-1"))
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field("file", io.BytesIO(data), filename=filename, content_type="audio/wav")
    return body


@pytest.fixture
async def gw(make_gateway_client):
    project = ProjectConfig(name="local", id="local", scripted=(
        ScriptedReply(match=r"greeting\.wav", reply="Hello there. Welcome aboard."),))
    return await make_gateway_client(replace(TEST_SETTINGS, projects=(project,)))


async def test_a_scripted_reply_pins_the_transcript_by_file_name(gw):
    resp = await gw.post("/v1/audio/transcriptions", headers=gw.key,
                         data=form(wav_bytes(), "greeting.wav", response_format="srt"))
    assert resp.status == 200
    text = await resp.text()
    assert "Hello there." in text and "Welcome aboard." in text
    assert text.startswith("1\n00:00:00,000 --> ")


async def test_a_scripted_reply_can_match_the_prompt(gw):
    resp = await gw.post("/v1/audio/transcriptions", headers=gw.key,
                         data=form(wav_bytes(), "x.wav", prompt="greeting.wav"))
    assert (await resp.json())["text"] == "Hello there. Welcome aboard."


async def test_an_upload_over_25_mb_is_openais_413(gw):
    big = wav_bytes() + bytes(26_214_400)
    resp = await gw.post("/v1/audio/transcriptions", headers=gw.key, data=form(big))
    assert resp.status == 413
    error = (await resp.json())["error"]
    assert error["message"].startswith("Maximum content size limit (26214400) exceeded")
    assert error["type"] == "server_error"


async def test_a_json_body_is_a_400_not_a_500(gw):
    resp = await gw.post("/v1/audio/transcriptions", headers=gw.key,
                         json={"model": "whisper-1"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_multipart"


async def test_a_form_without_a_file_is_a_400_naming_it(gw):
    body = aiohttp.FormData()
    body.add_field("model", "whisper-1")
    body.add_field("attachment", io.BytesIO(b"x"), filename="notes.txt")  # multipart, no file
    resp = await gw.post("/v1/audio/transcriptions", headers=gw.key, data=body)
    assert resp.status == 400
    assert (await resp.json())["error"]["param"] == "file"


async def test_a_truncated_wav_is_a_400(gw):
    resp = await gw.post("/v1/audio/transcriptions", headers=gw.key,
                         data=form(wav_bytes()[:20]))
    assert resp.status == 400
    assert (await resp.json())["error"]["param"] == "file"


async def test_speech_needs_a_key(gw):
    resp = await gw.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy",
                                                   "input": "hi", "response_format": "wav"})
    assert resp.status == 401


async def test_speech_not_json_is_a_400_or_415(gw):
    resp = await gw.post("/v1/audio/speech", headers=gw.key, data=b"not json")
    assert resp.status in (400, 415)
    assert "error" in await resp.json()


async def _finished(waiter: EventWaiter, request_id: str) -> ExchangeFinished:
    return await waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                             and e.exchange_id == request_id)


async def test_tts1_is_billed_per_character_as_openai_prices_it(gw):
    text = "Twelve chars" * 10
    waiter = EventWaiter()
    gw.gateway.store.subscribe(waiter)
    resp = await gw.post("/v1/audio/speech", headers=gw.key, json={
        "model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"})
    await resp.read()
    done = await _finished(waiter, resp.headers["X-Request-Id"])
    assert (done.prompt_tokens, done.completion_tokens) == (len(text), 0)
    assert PriceTable().cost("tts-1", len(text), 0) == pytest.approx(len(text) * 15 / 1e6)


async def test_whisper_is_billed_per_second_of_audio(gw):
    waiter = EventWaiter()
    gw.gateway.store.subscribe(waiter)
    resp = await gw.post("/v1/audio/transcriptions", headers=gw.key,
                         data=form(wav_bytes(seconds=30.0)))
    await resp.read()
    done = await _finished(waiter, resp.headers["X-Request-Id"])
    assert (done.prompt_tokens, done.completion_tokens) == (30, 0)
    assert PriceTable().cost("whisper-1", 60, 0) == pytest.approx(0.006)  # $0.006 a minute

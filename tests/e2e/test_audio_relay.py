"""``/v1/audio/*`` relayed to OpenAI when the vault holds its key: the openai SDK on the
gateway, the gateway on the fake OpenAI (``fakes/openai_media.py``), which records what it
got. Speech arrives as the upstream's bytes, piece by piece; an upload is re-sent as the
multipart form it was, file and fields intact; usage is what the upstream reports."""

from __future__ import annotations

import asyncio
import base64
import json
import warnings

import openai
import pytest

from behest_local.exchange.events import ExchangeFailed, ExchangeFinished, Routed
from behest_local.fakes.openai_media import FAKE_AUDIO, SECONDS
from tests.e2e.test_audio_transcribe_sdk import wav_bytes
from tests.trace_support import EventWaiter


@pytest.fixture
async def up(byok):
    up = await byok("openai")
    up.waiter = EventWaiter()
    up.gateway.store.subscribe(up.waiter)
    return up


async def finished(up, request_id: str) -> ExchangeFinished:
    return await up.waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                                and e.exchange_id == request_id)


def fields_of(sent) -> list[tuple[str, str]]:
    return [p for p in sent.body if len(p) == 2]


def files_of(sent) -> list[tuple[str, str, str, bytes]]:
    return [p for p in sent.body if len(p) == 4]


async def test_speech_is_the_upstreams_audio_sent_on_piece_by_piece(up):
    async with up.sdk.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="coral", input="Hello there [hold 1]",
            response_format="wav") as response:
        assert response.headers["content-type"] == "audio/wav"
        pieces = response.iter_bytes()
        first = await anext(pieces)
        # The fake holds the rest until released: the first piece came through alone.
        assert FAKE_AUDIO[0].startswith(first)
        up.state.release.set()
        rest = b"".join([piece async for piece in pieces])
        request_id = response.headers["x-request-id"]
    assert first + rest == b"".join(FAKE_AUDIO)
    sent = up.state.requests[-1]
    assert (sent.path, sent.auth_ok) == ("/v1/audio/speech", True)
    assert sent.body == {"model": "gpt-4o-mini-tts", "voice": "coral",
                         "input": "Hello there [hold 1]", "response_format": "wav"}
    routed = next(e for e in up.recorder.events if isinstance(e, Routed)
                  and e.exchange_id == request_id)
    assert (routed.provider, routed.model) == ("openai", "gpt-4o-mini-tts")
    done = await finished(up, request_id)
    assert done.prompt_tokens > 0 and done.completion_tokens > 0  # the emulated units


async def test_speech_as_sse_is_relayed_event_by_event_with_the_upstreams_usage(up):
    response = await up.sdk.audio.speech.with_raw_response.create(
        model="gpt-4o-mini-tts", voice="coral", input="Hello", stream_format="sse")
    events = [line[6:] for line in response.content.decode().splitlines()
              if line.startswith("data: ")]
    decoded = [json.loads(e) for e in events]
    assert [e["type"] for e in decoded] == ["speech.audio.delta"] * 3 + ["speech.audio.done"]
    assert b"".join(base64.b64decode(e["audio"]) for e in decoded[:-1]) == b"".join(FAKE_AUDIO)
    assert up.state.requests[-1].headers["Accept"] == "text/event-stream"
    done = await finished(up, response.headers["x-request-id"])
    assert (done.prompt_tokens, done.completion_tokens) == (5, 40)  # the fake's usage


async def test_a_transcription_resends_the_upload_with_its_file_and_every_field(up):
    audio = wav_bytes(2.0)
    response = await up.sdk.audio.transcriptions.with_raw_response.create(
        model="gpt-4o-transcribe", file=("réunion \"1\".wav", audio, "audio/wav"),
        language="en", prompt="names: Ada", temperature=0.2,
        include=["logprobs"], extra_body={"chunking_strategy": "auto"})
    transcript = response.parse()
    assert transcript.text == 'fake transcript of réunion %221%22.wav'
    sent = up.state.requests[-1]
    assert (sent.path, sent.auth_ok) == ("/v1/audio/transcriptions", True)
    assert files_of(sent) == [("file", 'réunion %221%22.wav', "audio/wav", audio)]
    assert sorted(fields_of(sent)) == sorted([
        ("model", "gpt-4o-transcribe"), ("language", "en"), ("prompt", "names: Ada"),
        ("temperature", "0.2"), ("include[]", "logprobs"), ("chunking_strategy", "auto")])
    done = await finished(up, response.headers["x-request-id"])
    assert (done.prompt_tokens, done.completion_tokens) == (70, 5)  # the upstream's usage


async def test_repeated_fields_arrive_repeated_and_in_order(up):
    await up.sdk.audio.transcriptions.create(
        model="whisper-1", file=("a.wav", wav_bytes(1.0), "audio/wav"),
        response_format="verbose_json", timestamp_granularities=["word", "segment"])
    sent = up.state.requests[-1]
    assert [v for k, v in fields_of(sent) if k == "timestamp_granularities[]"] == [
        "word", "segment"]


@pytest.mark.parametrize("fmt, content_type, expected", [
    ("json", "application/json", None), ("verbose_json", "application/json", None),
    ("text", "text/plain", "fake transcript of a.wav\n"),
    ("srt", "text/plain", "1\n00:00:00,000 --> 00:00:07,000\nfake transcript of a.wav\n\n"),
    ("vtt", "text/plain", "WEBVTT\n\n00:00:00.000 --> 00:00:07.000\nfake transcript of a.wav\n\n")])
async def test_each_response_format_comes_back_as_the_upstream_sent_it(up, fmt, content_type,
                                                                        expected):
    response = await up.sdk.audio.transcriptions.with_raw_response.create(
        model="whisper-1", file=("a.wav", wav_bytes(1.0), "audio/wav"), response_format=fmt)
    assert response.headers["content-type"].startswith(content_type)
    if expected is None:
        assert response.parse().text == "fake transcript of a.wav"
    else:
        assert response.content.decode() == expected
    assert ("response_format", fmt) in fields_of(up.state.requests[-1])
    done = await finished(up, response.headers["x-request-id"])
    # whisper-1 bills seconds: the upstream's 7 where it reports them, else the upload's 1
    assert done.prompt_tokens == (SECONDS if fmt in ("json", "verbose_json") else 1)


async def test_a_streamed_transcription_relays_each_delta(up):
    stream = await up.sdk.audio.transcriptions.create(
        model="gpt-4o-mini-transcribe", file=("clip.wav", wav_bytes(1.0), "audio/wav"),
        stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == ["transcript.text.delta"] * 4 + ["transcript.text.done"]
    assert "".join(e.delta for e in events[:-1]) == events[-1].text == \
        "fake transcript of clip.wav"
    sent = up.state.requests[-1]
    assert ("stream", "true") in fields_of(sent) and sent.headers["Accept"] == \
        "text/event-stream"


async def test_a_translation_is_relayed_as_an_upload_too(up):
    with warnings.catch_warnings():  # SDK 2.x marks translations deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        translation = await up.sdk.audio.translations.create(
            model="whisper-1", file=("speech.wav", wav_bytes(1.0), "audio/x-wav"))
    assert translation.text == "fake transcript of speech.wav"
    sent = up.state.requests[-1]
    assert sent.path == "/v1/audio/translations"
    assert files_of(sent)[0][:3] == ("file", "speech.wav", "audio/x-wav")


@pytest.mark.parametrize("status, error", [(400, openai.BadRequestError),
                                           (429, openai.RateLimitError),
                                           (500, openai.InternalServerError)])
async def test_upstream_errors_come_back_as_openai_errors_with_their_status(up, status, error):
    with pytest.raises(error) as speech_error:
        await up.sdk.audio.speech.create(model="tts-1", voice="alloy",
                                         input=f"Hi [error {status}]")
    with pytest.raises(error) as transcript_error:
        await up.sdk.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", wav_bytes(1.0), "audio/wav"),
            prompt=f"[error {status}]")
    for caught in (speech_error, transcript_error):
        assert caught.value.status_code == status
        assert caught.value.body["message"]  # OpenAI's error shape, the upstream's words
        request_id = caught.value.response.headers["x-request-id"]
        await up.waiter.wait(lambda e, _x: isinstance(e, ExchangeFailed)
                             and e.exchange_id == request_id)
        exchange = up.gateway.store.find(request_id)
        assert not exchange.prompt_tokens and exchange.cost is None  # a refusal is not billed


async def test_without_a_key_audio_stays_emulated(live):
    client = openai.AsyncOpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)
    async with client:
        audio = await client.audio.speech.create(model="tts-1", voice="alloy", input="Hi",
                                                 response_format="wav")
        transcript = await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", wav_bytes(1.0), "audio/wav"))
    assert audio.content[:4] == b"RIFF" and transcript.text
    routed = [e for e in live.recorder.events if isinstance(e, Routed)][-2:]
    assert [e.provider for e in routed] == ["emulated", "emulated"]


async def test_a_speech_client_that_leaves_closes_the_upstream_stream(up):
    async with up.sdk.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input="Long [hold 1]") as response:
        await anext(response.iter_bytes())
    await asyncio.wait_for(up.state.disconnected.wait(), 5)  # TimeoutError: still open
    assert up.state.disconnected.is_set()


async def test_speech_cut_off_upstream_reaches_the_client_as_a_broken_body(up):
    # not a short file that ends cleanly: httpx (under the SDK) says the body broke
    with pytest.raises(Exception, match="incomplete chunked read"):
        async with up.sdk.audio.speech.with_streaming_response.create(
                model="tts-1", voice="alloy", input="Hi [truncate 1]") as response:
            request_id = response.headers["x-request-id"]
            async for _ in response.iter_bytes():
                pass
    failed = await up.waiter.wait(lambda e, _x: isinstance(e, ExchangeFailed)
                                  and e.exchange_id == request_id)
    assert (failed.status, failed.code) == (502, "upstream_stream_cut")


async def test_options_the_emulator_lacks_are_left_for_openai_to_judge(up):
    # diarized_json is OpenAI's (the diarize model's) but not the emulated ear's
    response = await up.sdk.audio.transcriptions.with_raw_response.create(
        model="gpt-4o-transcribe-diarize", file=("a.wav", wav_bytes(1.0), "audio/wav"),
        response_format="diarized_json")
    assert response.http_response.status_code == 200
    assert ("response_format", "diarized_json") in fields_of(up.state.requests[-1])

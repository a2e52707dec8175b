"""``audio.speech.create`` with the official openai SDK against a live gateway: real audio
files, decoded with the standard library, whose duration follows the text."""

from __future__ import annotations

import base64
import io
import json
import wave

import httpx
import openai
import pytest

TEXT = ("The quick brown fox jumps over the lazy dog. A local gateway answers every "
        "route offline, so tests can run on a plane. This sentence has a few more words.")
EXPECTED_S = len(TEXT.split()) / 150 * 60  # a voice at ~150 words a minute


@pytest.fixture
def client(live):
    with openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0) as c:
        yield c


def test_speech_wav_decodes_with_a_duration_that_follows_the_text(client):
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT,
                                       response_format="wav")
    with wave.open(io.BytesIO(audio.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        seconds = wav.getnframes() / wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    assert abs(seconds - EXPECTED_S) <= 0.2 * EXPECTED_S
    assert any(frames[i] for i in range(0, len(frames), 97))  # not silence
    assert audio.response.headers["content-type"] == "audio/wav"


def test_speech_pcm_is_headerless_24khz_16bit_of_the_same_duration(client):
    audio = client.audio.speech.create(model="gpt-4o-mini-tts", voice="coral", input=TEXT,
                                       response_format="pcm")
    seconds = len(audio.content) / 2 / 24000
    assert len(audio.content) % 2 == 0
    assert abs(seconds - EXPECTED_S) <= 0.2 * EXPECTED_S
    assert not audio.content.startswith(b"RIFF")


def test_speech_is_deterministic_and_depends_on_voice(client):
    def say(voice: str) -> bytes:
        return client.audio.speech.create(model="tts-1", voice=voice, input="Hello world.",
                                          response_format="pcm").content
    assert say("alloy") == say("alloy")
    assert say("alloy") != say("onyx")


def test_double_speed_halves_the_duration(client):
    def seconds(speed: float) -> float:
        pcm = client.audio.speech.create(model="tts-1", voice="nova", input=TEXT,
                                         response_format="pcm", speed=speed).content
        return len(pcm) / 48000
    assert seconds(2.0) == pytest.approx(seconds(1.0) / 2, rel=0.02)


def test_speech_streams_as_it_is_produced(client):
    with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=TEXT * 3, response_format="pcm") as response:
        pieces = list(response.iter_bytes())
        total = int(response.headers["content-length"])
    assert len(pieces) > 1
    assert sum(map(len, pieces)) == total


def test_speech_sse_sends_base64_deltas_then_done_with_usage(live):
    response = httpx.post(live.base_url + "/audio/speech",
                          headers={"Authorization": f"Bearer {live.key}"},
                          json={"model": "gpt-4o-mini-tts", "voice": "alloy", "input": TEXT,
                                "response_format": "pcm", "stream_format": "sse"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in response.text.splitlines()
              if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["output_tokens"] > 0
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert {e["type"] for e in events[:-1]} == {"speech.audio.delta"}
    assert abs(len(pcm) / 48000 - EXPECTED_S) <= 0.2 * EXPECTED_S


@pytest.mark.parametrize("change, param", [
    ({"input": ""}, "input"),
    ({"input": "x" * 4097}, "input"),
    ({"voice": "robot"}, "voice"),
    ({"speed": 5}, "speed"),
    ({"response_format": "ogg"}, "response_format"),
    ({"instructions": "cheerful"}, "instructions"),
])
def test_bad_speech_requests_are_openai_400s(client, change, param):
    kwargs = {"model": "tts-1", "voice": "alloy", "input": "Hi.", "response_format": "wav",
              **change}
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(**kwargs)
    assert caught.value.body["param"] == param


@pytest.mark.parametrize("fmt, content_type", [("mp3", "audio/mpeg"), ("flac", "audio/flac"),
                                               ("opus", "audio/ogg")])
def test_compressed_speech_decodes_with_a_duration_that_follows_the_text(client, fmt,
                                                                         content_type):
    soundfile = pytest.importorskip("soundfile")
    audio = client.audio.speech.create(model="tts-1", voice="echo", input=TEXT,
                                       response_format=fmt)
    assert audio.response.headers["content-type"] == content_type
    samples, rate = soundfile.read(io.BytesIO(audio.content), dtype="int16")
    assert abs(len(samples) / rate - EXPECTED_S) <= 0.2 * EXPECTED_S
    assert abs(samples).max() > 1000  # a voice, not silence


def test_mp3_is_the_default_format(client):
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
    assert audio.content[:3] == b"ID3" or audio.content[0] == 0xFF


def test_aac_is_refused_rather_than_faked(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.",
                                   response_format="aac")
    assert caught.value.body["code"] == "unsupported_response_format"
    assert "AAC" in caught.value.body["message"]

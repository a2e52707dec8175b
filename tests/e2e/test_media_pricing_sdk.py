"""Images and audio cost what OpenAI charges, in the unit it bills, through the openai SDK.

Against the shared live gateway, each test in its own session (``X-Session-Id``), so
``GET /v1/usage?session_id=…`` adds up only its own requests: DALL·E per image by quality
and size, ``tts-1`` per character, ``whisper-1`` per minute (``finops/prices.py``).
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import openai
import pytest


def _client(live, session: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0,
                         default_headers={"X-Session-Id": session})


def _usage(live, session: str) -> dict:
    request = urllib.request.Request(f"{live.base_url}/usage?session_id={session}",
                                     headers={"Authorization": f"Bearer {live.key}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


def _ended(live, raw) -> None:
    live.recorder.wait_end(raw.headers["X-Request-Id"])


def test_two_hd_wide_dall_e_3_images_cost_24_cents(live):
    # DALL·E 3 draws one image a request (n=2 is refused by OpenAI and here alike): two
    # requests, $0.12 each.
    session = f"dalle3-{uuid.uuid4().hex}"
    with _client(live, session) as client:
        for _ in range(2):
            raw = client.images.with_raw_response.generate(
                model="dall-e-3", prompt="a lighthouse", quality="hd", size="1792x1024",
                response_format="b64_json")
            assert len(raw.parse().data) == 1
            _ended(live, raw)
        with pytest.raises(openai.BadRequestError):
            client.images.generate(model="dall-e-3", prompt="x", n=2)
    usage = _usage(live, session)
    assert usage["totals"]["requests"] == 2
    assert usage["totals"]["cost_usd"] == pytest.approx(0.24)


def test_n_dall_e_2_images_cost_n_times_the_price_of_their_size(live):
    session = f"dalle2-{uuid.uuid4().hex}"
    with _client(live, session) as client:
        raw = client.images.with_raw_response.generate(
            model="dall-e-2", prompt="a small house", size="512x512", n=3)
    assert len(raw.parse().data) == 3
    _ended(live, raw)
    [row] = _usage(live, session)["by_model"]
    assert row["model"] == "dall-e-2" and row["cost_usd"] == pytest.approx(3 * 0.018)


def test_speech_costs_per_character_and_transcription_per_minute(live):
    session = f"audio-{uuid.uuid4().hex}"
    text = "The quick brown fox jumps over the lazy dog. " * 3
    with _client(live, session) as client:
        for model in ("tts-1", "tts-1-hd"):
            raw = client.audio.speech.with_raw_response.create(
                model=model, voice="alloy", input=text, response_format="wav")
            audio = raw.content
            _ended(live, raw)
        raw = client.audio.transcriptions.with_raw_response.create(
            model="whisper-1", file=("speech.wav", audio, "audio/wav"),
            response_format="json")
    seconds = raw.parse().usage.seconds
    _ended(live, raw)
    by_model = {row["model"]: row["cost_usd"] for row in _usage(live, session)["by_model"]}
    assert by_model["tts-1"] == pytest.approx(len(text) * 15.0 / 1e6)
    assert by_model["tts-1-hd"] == pytest.approx(len(text) * 30.0 / 1e6)
    assert seconds > 1 and by_model["whisper-1"] == pytest.approx(seconds / 60 * 0.006)

"""``audio.transcriptions`` and ``audio.translations`` with the official openai SDK against a
live gateway: the upload is checked, and every response format parses."""

from __future__ import annotations

import io
import re
import wave

import openai
import pytest

SECONDS = 12.0


def wav_bytes(seconds: float = SECONDS, tone: int = 3) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes([tone, 0]) * int(seconds * 16000))
    return out.getvalue()


@pytest.fixture
def client(live):
    with openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0) as c:
        yield c


def transcribe(client, **kwargs):
    kwargs.setdefault("model", "whisper-1")
    kwargs.setdefault("file", ("talk.wav", wav_bytes(), "audio/wav"))
    return client.audio.transcriptions.create(**kwargs)


def test_json_transcript_is_deterministic_with_whisper_duration_usage(client):
    first, second = transcribe(client), transcribe(client)
    assert first.text == second.text
    assert 0.8 <= len(first.text.split()) / (SECONDS * 150 / 60) <= 1.2
    assert first.usage.type == "duration" and first.usage.seconds == 12


def test_different_audio_gets_a_different_transcript(client):
    other = transcribe(client, file=("b.wav", wav_bytes(tone=9), "audio/wav"))
    assert other.text != transcribe(client).text


def test_gpt4o_transcribe_reports_token_usage(client):
    result = transcribe(client, model="gpt-4o-transcribe")
    assert result.usage.type == "tokens"
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens


def test_text_format_is_the_plain_transcript(client):
    text = transcribe(client, response_format="text")
    assert isinstance(text, str)
    assert text.strip() == transcribe(client).text


def _times(cues: str, mark: str) -> list[float]:
    pattern = rf"(\d\d):(\d\d):(\d\d){re.escape(mark)}(\d\d\d) --> (\d\d):(\d\d):(\d\d){re.escape(mark)}(\d\d\d)"
    out = []
    for m in re.finditer(pattern, cues):
        g = list(map(int, m.groups()))
        out += [g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000,
                g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000]
    return out


@pytest.mark.parametrize("fmt, mark", [("srt", ","), ("vtt", ".")])
def test_srt_and_vtt_timestamps_are_in_order_within_the_audio(client, fmt, mark):
    cues = transcribe(client, response_format=fmt)
    times = _times(cues, mark)
    assert len(times) >= 4
    assert times == sorted(times)
    assert times[-1] <= SECONDS + 0.01
    if fmt == "vtt":
        assert cues.startswith("WEBVTT")
    else:
        assert cues.startswith("1\n")


def test_verbose_json_has_segments_and_word_timestamps(client):
    result = transcribe(client, response_format="verbose_json",
                        timestamp_granularities=["word", "segment"])
    assert result.duration == pytest.approx(SECONDS)
    assert result.segments and result.words
    assert " ".join(s.text.strip() for s in result.segments) == result.text
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and result.words[-1].end <= SECONDS + 0.01
    only_segments = transcribe(client, response_format="verbose_json")
    assert only_segments.words is None and only_segments.segments


def test_streamed_deltas_add_up_to_the_done_text(client):
    stream = transcribe(client, model="gpt-4o-mini-transcribe", stream=True)
    deltas, done = [], None
    for event in stream:
        if event.type == "transcript.text.delta":
            deltas.append(event.delta)
        elif event.type == "transcript.text.done":
            done = event
    assert done is not None and "".join(deltas) == done.text
    assert done.usage.total_tokens > 0


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # SDK 3.63 deprecates translations
def test_translation_is_json_text_without_usage(client):
    result = client.audio.translations.create(model="whisper-1",
                                              file=("talk.wav", wav_bytes(), "audio/wav"))
    assert result.text
    srt = client.audio.translations.create(model="whisper-1", response_format="srt",
                                           file=("talk.wav", wav_bytes(), "audio/wav"))
    assert _times(srt, ",")


def test_a_text_file_named_like_audio_is_refused(client):
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(client, file=("fake.mp3", b"hello, I am not audio", "audio/mpeg"))
    assert caught.value.body["param"] == "file"
    assert "Supported formats" in caught.value.body["message"]


@pytest.mark.parametrize("kwargs, param", [
    ({"model": "tts-1"}, "model"),
    ({"response_format": "xml"}, "response_format"),
    ({"model": "gpt-4o-transcribe", "response_format": "srt"}, "response_format"),
])
def test_bad_transcription_requests_are_openai_400s(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(client, **kwargs)
    assert caught.value.body["param"] == param


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # SDK 3.63 deprecates translations
def test_translations_take_only_whisper(client):
    with pytest.raises(openai.BadRequestError):
        client.audio.translations.create(model="gpt-4o-transcribe",
                                         file=("talk.wav", wav_bytes(), "audio/wav"))


def test_speech_from_the_gateway_is_accepted_for_transcription(client):
    audio = client.audio.speech.create(model="tts-1", voice="alloy", response_format="wav",
                                       input="One two three four five six seven eight.")
    result = transcribe(client, file=("speech.wav", audio.content, "audio/wav"),
                        response_format="verbose_json")
    with wave.open(io.BytesIO(audio.content)) as wav:
        assert result.duration == pytest.approx(wav.getnframes() / 24000, abs=0.01)


@pytest.mark.parametrize("fmt", ["mp3", "flac", "opus"])
def test_compressed_uploads_are_timed_from_their_headers(client, fmt):
    pytest.importorskip("soundfile")
    text = "One two three four five six seven eight nine ten eleven twelve. " * 3
    wav = client.audio.speech.create(model="tts-1", voice="alloy", response_format="wav",
                                     input=text).content
    seconds = len(wav) / 48000
    audio = client.audio.speech.create(model="tts-1", voice="alloy", response_format=fmt,
                                       input=text).content
    name = "speech.ogg" if fmt == "opus" else f"speech.{fmt}"
    result = transcribe(client, file=(name, audio, "application/octet-stream"),
                        response_format="verbose_json")
    assert result.duration == pytest.approx(seconds, rel=0.2)

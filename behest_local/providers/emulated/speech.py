"""The emulated text-to-speech voice: ``POST /v1/audio/speech`` answered offline.

Sits under ``server/routes/audio.py``, which validates the body here
(``validate_speech_request``) and streams what ``speech_chunks`` yields. The "voice" is a
real, deterministic signal shaped like speech: each syllable of the text is a short tone
(its pitch from a hash of the syllable and the voice) with a soft attack and release,
words are separated by short pauses and sentences by longer ones, so the audio's duration
follows the text at about 150 words a minute, divided by ``speed``, as a real voice's does.
Same text, voice and speed: same bytes.

Formats: ``pcm`` (raw 24 kHz, 16-bit signed little-endian mono, as OpenAI documents it)
and ``wav`` (the same samples behind a RIFF header, which needs the data size up front:
the plan, ``SpeechPlan``, knows every word's length before a sample is made). Other
formats the SDK offers are encoded elsewhere or refused with a 400 (``UNSUPPORTED``).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from behest_local.errors import InvalidRequestError
from behest_local.providers.tokens import count_tokens

SAMPLE_RATE = 24_000
"""OpenAI's pcm: 24 kHz, 16-bit signed little-endian, mono."""
WORDS_PER_MINUTE = 150
SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage",
          "shimmer", "verse", "marin", "cedar")
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
PRODUCED = ("wav", "pcm")
"""The formats this module writes itself (the standard library suffices)."""
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
                 "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}
MAX_INPUT_CHARS = 4096

_WORD = re.compile(r"[\w']+|[.!?;:,]")
_SYLLABLE = re.compile(r"[^aeiouy]*[aeiouy]+(?:[^aeiouy]*$)?", re.I)
_WORD_S = 60 / WORDS_PER_MINUTE
_PAUSE = {",": 0.15, ";": 0.2, ":": 0.2, ".": 0.35, "!": 0.35, "?": 0.35}
"""Seconds of silence a punctuation mark adds (the word's own slot already has a gap)."""
_GAP_SHARE = 0.2
"""Share of a word's slot that is the silence after it."""
_AMPLITUDE = 9000


@dataclass(frozen=True, slots=True)
class Sound:
    """One stretch of the plan: ``tones`` (pitch in Hz per syllable) filling ``voiced``
    seconds, then ``silence`` seconds."""

    tones: tuple[float, ...]
    voiced: float
    silence: float

    @property
    def samples(self) -> int:
        return _n(self.voiced) + _n(self.silence)


@dataclass(frozen=True, slots=True)
class SpeechPlan:
    sounds: tuple[Sound, ...]

    @property
    def samples(self) -> int:
        return sum(s.samples for s in self.sounds)

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE


AUDIO_TOKENS_PER_MINUTE = 1250
"""gpt-4o-mini-tts's audio output: $12 per million tokens and about $0.015 a minute
(reference/openai-surface.md, prices), so about 1,250 tokens a minute."""


def audio_tokens(seconds: float) -> int:
    return max(1, round(seconds * AUDIO_TOKENS_PER_MINUTE / 60))


def billed(model: str, text: str, speech: SpeechPlan) -> tuple[int, int]:
    """What a speech request is billed on, as (input, output) units of ``finops/prices``:
    tts-1 and tts-1-hd by the character of input, the gpt-4o voices by text tokens in and
    audio tokens out."""
    if model.startswith("tts-1"):
        return len(text), 0
    return count_tokens(text), audio_tokens(speech.seconds)


def _n(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


def validate_speech_request(raw: object) -> dict:
    """OpenAI's checks on a speech body (reference/openai-surface.md §7.1), as 400s."""
    if not isinstance(raw, dict):
        raise InvalidRequestError("The body must be a JSON object.")
    model = raw.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("Missing required parameter: 'model'.", param="model")
    text = raw.get("input")
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequestError("Missing required parameter: 'input'.", param="input")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidRequestError(f"'input' is {len(text)} characters long; at most "
                                  f"{MAX_INPUT_CHARS} are allowed.", param="input",
                                  code="string_above_max_length")
    voice = raw.get("voice")
    if isinstance(voice, dict) and isinstance(voice.get("id"), str):
        voice = voice["id"]
    if voice not in VOICES and not (isinstance(voice, str) and voice.startswith("voice_")):
        raise InvalidRequestError(f"Invalid value for 'voice': {voice!r}. Supported values "
                                  f"are: {', '.join(VOICES)}, or {{'id': 'voice_…'}}.",
                                  param="voice")
    fmt = raw.get("response_format", "mp3")
    if fmt not in FORMATS:
        raise InvalidRequestError(f"Invalid value for 'response_format': {fmt!r}. Supported "
                                  f"values are: {', '.join(FORMATS)}.", param="response_format")
    speed = raw.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) \
            or not 0.25 <= speed <= 4.0:
        raise InvalidRequestError(f"Invalid value for 'speed': {speed!r}; expected a number "
                                  "from 0.25 to 4.0.", param="speed")
    stream_format = raw.get("stream_format", "audio")
    if stream_format not in ("audio", "sse"):
        raise InvalidRequestError(f"Invalid value for 'stream_format': {stream_format!r}. "
                                  "Supported values are: audio, sse.", param="stream_format")
    if model.startswith("tts-1"):
        if raw.get("instructions") is not None:
            raise InvalidRequestError(f"'instructions' is not supported by {model}.",
                                      param="instructions")
        if stream_format == "sse":
            raise InvalidRequestError(f"stream_format 'sse' is not supported by {model}.",
                                      param="stream_format")
    return {"model": model, "input": text, "voice": voice, "response_format": fmt,
            "speed": float(speed), "stream_format": stream_format}


def plan(text: str, voice: str, speed: float = 1.0) -> SpeechPlan:
    """The sounds that say ``text``: one per word, each word's syllables as tones."""
    slot = _WORD_S / speed
    sounds: list[Sound] = []
    for token in _WORD.findall(text):
        if token in _PAUSE:
            if sounds:  # a pause lengthens the silence after the word before it
                last = sounds[-1]
                sounds[-1] = Sound(last.tones, last.voiced, last.silence + _PAUSE[token] / speed)
            continue
        syllables = _SYLLABLE.findall(token) or [token]
        # Longer words take a little longer, as in speech, around the 150 wpm average.
        length = slot * (0.7 + 0.3 * min(len(syllables), 4) / 2)
        tones = tuple(_pitch(voice, s.lower()) for s in syllables)
        sounds.append(Sound(tones, length * (1 - _GAP_SHARE), length * _GAP_SHARE))
    if not sounds:  # only punctuation: a breath of silence, still valid audio
        sounds.append(Sound((), 0.0, 0.3 / speed))
    return SpeechPlan(tuple(sounds))


def _pitch(voice: str, syllable: str) -> float:
    """A syllable's pitch: a voice's base (85–255 Hz, a speaking voice's range) and a
    step from the syllable, so the same word sounds the same each time."""
    base = 85 + int.from_bytes(hashlib.blake2s(voice.encode()).digest()[:2], "big") % 170
    step = int.from_bytes(hashlib.blake2s(syllable.encode()).digest()[:1], "big") % 12
    return base * 2 ** (step / 24)  # within half an octave, in quarter tones


def render(sound: Sound) -> bytes:
    """One sound's samples, 16-bit little-endian: each tone with a fundamental, two
    harmonics (a voice is not a sine) and a raised-cosine envelope (no clicks)."""
    out = array("h")
    voiced = _n(sound.voiced)
    if sound.tones:
        per = voiced // len(sound.tones)
        for i, pitch in enumerate(sound.tones):
            n = per if i < len(sound.tones) - 1 else voiced - per * i
            w = 2 * math.pi * pitch / SAMPLE_RATE
            fade = max(1, min(n // 4, SAMPLE_RATE // 100))
            sin = math.sin
            out.extend(int(_AMPLITUDE * min(1.0, t / fade, (n - t) / fade)
                           * (sin(w * t) + 0.5 * sin(2 * w * t) + 0.25 * sin(3 * w * t)) / 1.75)
                       for t in range(n))
    else:
        out.frombytes(bytes(2 * voiced))
    out.frombytes(bytes(2 * _n(sound.silence)))
    if struct.pack("=h", 1) != struct.pack("<h", 1):  # pragma: no cover (big-endian hosts)
        out.byteswap()
    return out.tobytes()


def wav_header(samples: int) -> bytes:
    """A RIFF/WAVE header for ``samples`` mono 16-bit samples at ``SAMPLE_RATE``."""
    data = samples * 2
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
            + b"data" + struct.pack("<I", data))


def speech_chunks(speech: SpeechPlan, fmt: str) -> Iterator[bytes]:
    """The audio of ``speech`` in ``fmt`` (``wav`` or ``pcm``), a word at a time: each
    item is ready to send as it is made. Rendering is CPU work: callers run each step
    beside the loop."""
    if fmt == "wav":
        yield wav_header(speech.samples)
    for sound in speech.sounds:
        yield render(sound)

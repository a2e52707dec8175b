"""The emulated ear: transcriptions and translations of an uploaded audio file, offline.

Sits under ``server/routes/audio.py``, which reads the multipart upload and asks here:
``sniff`` checks that the bytes are one of the formats OpenAI accepts (by their header,
not only the file name: a text file called ``a.mp3`` is refused), ``duration`` reads how
long the audio lasts (exactly for wav and flac, from the frame or page headers for mp3
and ogg, from the size otherwise), and ``transcribe`` makes a deterministic transcript:
the same bytes give the same words, as many as a speaker says at ~150 words a minute in
that time, unless a scripted reply pins the text. ``Transcript`` times every word evenly
over the audio and renders each ``response_format`` (``json``, ``text``, ``srt``,
``verbose_json``, ``vtt``).
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
from dataclasses import dataclass

from behest_local.errors import InvalidRequestError
from behest_local.providers.tokens import count_tokens

ACCEPTED = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")
"""The upload formats OpenAI lists (reference/openai-surface.md §7.2)."""
TRANSCRIBE_MODELS = ("whisper-1", "gpt-transcribe", "gpt-4o-transcribe",
                     "gpt-4o-mini-transcribe", "gpt-4o-mini-transcribe-2025-12-15",
                     "gpt-4o-transcribe-diarize")
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
WORDS_PER_SECOND = 150 / 60
AUDIO_TOKENS_PER_SECOND = 1000 / 60
"""gpt-4o-transcribe's audio input: $6 per million tokens and about $0.006 a minute
(reference/openai-surface.md, prices), so about 1,000 tokens a minute."""
_SENTENCE_WORDS = 12

_VOCABULARY = (
    "the meeting starts at nine and we will review the plan for the next release of our "
    "service first the team shares what changed since last week then we look at open "
    "questions about the budget the schedule and the tests a short demo follows and "
    "everyone can ask about the results before we agree on the next steps thank you all "
    "for joining today this recording is a placeholder made by the local emulator"
).split()


def sniff(data: bytes, filename: str) -> str:
    """The container the bytes are in, or a 400 naming the accepted formats."""
    kind = None
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        kind = "wav"
    elif data[:4] == b"fLaC":
        kind = "flac"
    elif data[:4] == b"OggS":
        kind = "ogg"
    elif data[:4] == b"\x1a\x45\xdf\xa3":
        kind = "webm"
    elif data[4:8] == b"ftyp":
        kind = "mp4"
    elif data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        kind = "mp3"
    if kind is None:
        raise InvalidRequestError(
            f"Invalid file format. Supported formats: {ACCEPTED!r}", param="file",
            code="invalid_value")
    return kind


def duration(data: bytes, kind: str) -> float:
    """Seconds of audio in ``data`` (a container ``sniff`` recognised)."""
    try:
        if kind == "wav":
            with wave.open(io.BytesIO(data)) as wav:
                return wav.getnframes() / wav.getframerate()
        if kind == "flac":  # STREAMINFO: 20-bit rate and 36-bit sample count
            info = int.from_bytes(data[18:26], "big")
            rate, samples = info >> 44, info & (1 << 36) - 1
            if rate:
                return samples / rate
        if kind == "ogg":  # the last page's granule position, 48 kHz for Opus
            last = data.rfind(b"OggS")
            granule = struct.unpack_from("<q", data, last + 6)[0]
            rate = 48000 if b"OpusHead" in data[:200] else _vorbis_rate(data)
            if granule > 0 and rate:
                return granule / rate
        if kind == "mp3":
            seconds = _mp3_seconds(data)
            if seconds:
                return seconds
    except (wave.Error, EOFError, struct.error, ValueError) as exc:
        raise InvalidRequestError(f"The audio file could not be decoded: {exc}.",
                                  param="file", code="invalid_value") from None
    return len(data) * 8 / 128_000  # mp4, webm: a typical 128 kbit/s


def _vorbis_rate(data: bytes) -> int:
    at = data.find(b"\x01vorbis")
    return struct.unpack_from("<I", data, at + 12)[0] if at >= 0 else 0


_MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)  # MPEG-1 L3
_MP3_KBPS_2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)  # MPEG-2/2.5 L3
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_seconds(data: bytes) -> float:
    """Seconds of MPEG layer III audio: its frames walked one by one after any ID3v2 tag
    (a variable bitrate, as encoders write by default, makes any one frame's rate wrong)."""
    at = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        at = 10 + (data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9])
    seconds, end = 0.0, len(data) - 4
    while at <= end:
        b1, b2 = data[at + 1], data[at + 2]
        version = b1 >> 3 & 3
        if data[at] != 0xFF or b1 & 0xE0 != 0xE0 or version == 1 or b2 >> 2 & 3 == 3:
            at = data.find(b"\xff", at + 1)  # not a frame header: resynchronise
            if at < 0:
                break
            continue
        rate = _MP3_RATES[version][b2 >> 2 & 3]
        kbps = (_MP3_KBPS if version == 3 else _MP3_KBPS_2)[b2 >> 4]
        if not kbps:
            at = data.find(b"\xff", at + 1)
            if at < 0:
                break
            continue
        per_frame = 1152 if version == 3 else 576
        at += per_frame // 8 * kbps * 1000 // rate + (b2 >> 1 & 1)
        seconds += per_frame / rate
    return seconds


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    words: tuple[Word, ...]
    seconds: float
    language: str

    def sentences(self) -> list[tuple[Word, ...]]:
        """The words cut at sentence ends (a word ending in . ! or ?)."""
        out, current = [], []
        for word in self.words:
            current.append(word)
            if word.word[-1:] in ".!?":
                out.append(tuple(current))
                current = []
        if current:
            out.append(tuple(current))
        return out


def transcribe(data: bytes, seconds: float, *, pinned: str | None = None,
               language: str = "english") -> Transcript:
    """The transcript of ``data``: ``pinned`` (a scripted reply) or words chosen by the
    bytes' hash, ~150 a minute; each word timed evenly over ``seconds``."""
    if pinned is not None:
        text = pinned.strip()
    else:
        digest = hashlib.sha256(data).digest()
        count = max(1, round(seconds * WORDS_PER_SECOND))
        start = int.from_bytes(digest[:4], "big") % len(_VOCABULARY)
        chosen = [_VOCABULARY[(start + i) % len(_VOCABULARY)] for i in range(count)]
        for i in range(_SENTENCE_WORDS - 1, count, _SENTENCE_WORDS):
            chosen[i] += "."
        chosen[-1] = chosen[-1].rstrip(".") + "."
        text = " ".join(_capitalise(chosen))
    tokens = text.split()
    span = seconds / max(1, len(tokens))
    words = tuple(Word(t, round(i * span, 3), round((i + 1) * span, 3))
                  for i, t in enumerate(tokens))
    return Transcript(text, words, round(seconds, 3), language)


def _capitalise(words: list[str]) -> list[str]:
    out, upper = [], True
    for w in words:
        out.append(w[:1].upper() + w[1:] if upper else w)
        upper = w.endswith(".")
    return out


def usage(model: str, transcript: Transcript) -> dict:
    """Whisper bills by the second; the gpt-4o models by tokens (audio in, text out)."""
    if model == "whisper-1":
        return {"type": "duration", "seconds": max(1, math.ceil(transcript.seconds))}
    audio_in = max(1, round(transcript.seconds * AUDIO_TOKENS_PER_SECOND))
    text_out = count_tokens(transcript.text)
    return {"type": "tokens", "input_tokens": audio_in,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_in},
            "output_tokens": text_out, "total_tokens": audio_in + text_out}


def billed(model: str, transcript: Transcript) -> tuple[int, int]:
    """(input, output) units of ``finops/prices``: whisper-1's seconds, or tokens."""
    used = usage(model, transcript)
    if used["type"] == "duration":
        return used["seconds"], 0
    return used["input_tokens"], used["output_tokens"]


def render(transcript: Transcript, fmt: str, *, task: str, model: str,
           granularities: tuple[str, ...] = ("segment",)) -> dict | str:
    """The body of ``fmt``: a dict for the JSON formats, text for the others."""
    if fmt == "text":
        return transcript.text + "\n"
    if fmt in ("srt", "vtt"):
        return _cues(transcript, fmt)
    if fmt == "json":
        return {"text": transcript.text} if task == "translate" else \
            {"text": transcript.text, "usage": usage(model, transcript)}
    body: dict = {"task": task, "language": transcript.language,
                  "duration": transcript.seconds, "text": transcript.text}
    if "segment" in granularities:
        body["segments"] = [_segment(i, s) for i, s in enumerate(transcript.sentences())]
    if "word" in granularities:
        body["words"] = [{"word": w.word.strip(".,!?"), "start": w.start, "end": w.end}
                         for w in transcript.words]
    if task == "transcribe":
        body["usage"] = usage(model, transcript)
    return body


def _segment(index: int, words: tuple[Word, ...]) -> dict:
    text = " " + " ".join(w.word for w in words)
    return {"id": index, "seek": round(words[0].start * 100), "start": words[0].start,
            "end": words[-1].end, "text": text,
            "tokens": [50364 + len(w.word) * 97 % 1000 for w in words],
            "temperature": 0.0, "avg_logprob": -0.25, "compression_ratio": 1.2,
            "no_speech_prob": 0.01}


def _cues(transcript: Transcript, fmt: str) -> str:
    mark = "," if fmt == "srt" else "."
    lines = [] if fmt == "srt" else ["WEBVTT", ""]
    for i, words in enumerate(transcript.sentences(), 1):
        if fmt == "srt":
            lines.append(str(i))
        lines.append(f"{_clock(words[0].start, mark)} --> {_clock(words[-1].end, mark)}")
        lines.append(" ".join(w.word for w in words))
        lines.append("")
    return "\n".join(lines) + "\n"


def _clock(seconds: float, mark: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{mark}{ms:03d}"

"""The fake OpenAI's audio and image-upload routes: ``/v1/audio/speech``,
``/v1/audio/transcriptions``, ``/v1/audio/translations``, ``/v1/images/edits`` and
``/v1/images/variations`` (added by ``fakes/openai.make_app`` for the ``openai`` flavour).

Each records what it got (``FakeState.requests``): speech its JSON body; an upload its
parts in order, ``(name, text)`` for a field and ``(name, filename, content_type, bytes)``
for a file, so a test sees exactly what the gateway re-sent. The answers are small and
recognisably the fake's (``FAKE_AUDIO``, the 1×1 PNG, "fake transcript of NAME"), in
OpenAI's shapes (reference/openai-surface.md §6, §7): speech bytes in pieces or as
``speech.audio.*`` events, transcripts in every ``response_format`` or as
``transcript.text.*`` events, edits as images or ``image_edit.completed`` events. The
prompt script applies to the ``input`` or ``prompt`` text: ``[error S]`` answers OpenAI's
error for status S, ``[hold N]`` pauses a body after N pieces until ``state.release``.
"""

from __future__ import annotations

import base64
import time

from aiohttp import web

from behest_local import sse
from behest_local.fakes import script as scripting
from behest_local.fakes.base import json_response, play, read_json
from behest_local.fakes.openai_wire import error_body

FAKE_AUDIO = [b"FAKE-AUDIO-0:" + bytes(range(256)) * 4, b"FAKE-AUDIO-1:" + b"\x00\xff" * 300,
              b"FAKE-AUDIO-2:end"]
"""The speech the fake says, in the pieces it sends them (any text, any voice)."""
FAKE_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAA"
            "AABJRU5ErkJggg==")
AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
               "wav": "audio/wav", "pcm": "audio/pcm"}
SECONDS = 7
"""The duration the fake hears in any upload (whisper-1 bills it)."""


def add_routes(app: web.Application, prefix: str, authorise) -> None:
    """The five routes, authorised by the OpenAI fake's ``authorise(request, body)``."""
    media = _Media(authorise)
    app.router.add_post(f"{prefix}/audio/speech", media.speech)
    app.router.add_post(f"{prefix}/audio/transcriptions", media.transcriptions)
    app.router.add_post(f"{prefix}/audio/translations", media.translations)
    app.router.add_post(f"{prefix}/images/edits", media.edits)
    app.router.add_post(f"{prefix}/images/variations", media.variations)


class _Media:
    def __init__(self, authorise) -> None:
        self.authorise = authorise

    async def speech(self, request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        if (denied := await self.authorise(request, body)) is not None:
            return denied
        script = scripting.parse(str((body or {}).get("input") or ""))
        if script.error is not None:
            return _error(script.error)
        if body.get("stream_format") == "sse":
            frames = [sse.encode_json({"type": "speech.audio.delta",
                                       "audio": base64.b64encode(piece).decode()})
                      for piece in FAKE_AUDIO]
            frames.append(sse.encode_json({"type": "speech.audio.done", "usage": {
                "input_tokens": 5, "output_tokens": 40, "total_tokens": 45}}))
            return await play(request, frames, script)
        kind = AUDIO_TYPES.get(body.get("response_format") or "mp3", "audio/mpeg")
        return await play(request, FAKE_AUDIO, script, headers={"Content-Type": kind})

    async def transcriptions(self, request: web.Request) -> web.StreamResponse:
        return await self._transcript(request, "transcribe")

    async def translations(self, request: web.Request) -> web.StreamResponse:
        return await self._transcript(request, "translate")

    async def _transcript(self, request: web.Request, task: str) -> web.StreamResponse:
        parts = await _parts(request)
        if (denied := await self.authorise(request, parts)) is not None:
            return denied
        fields = dict(p for p in parts if len(p) == 2)
        files = [p for p in parts if len(p) == 4 and p[0] == "file"]
        script = scripting.parse(fields.get("prompt", ""))
        if script.error is not None:
            return _error(script.error)
        if not files or "model" not in fields:
            return json_response(error_body("openai", 400, "'file' and 'model' are required"),
                                 400)
        text = f"fake transcript of {files[0][1]}"
        model = fields["model"]
        usage = ({"type": "duration", "seconds": SECONDS} if model == "whisper-1" else
                 {"type": "tokens", "input_tokens": 70, "output_tokens": 5, "total_tokens": 75})
        if fields.get("stream") == "true":
            words = text.split()
            frames = [sse.encode_json({"type": "transcript.text.delta",
                                       "delta": w if i == 0 else " " + w})
                      for i, w in enumerate(words)]
            frames.append(sse.encode_json({"type": "transcript.text.done", "text": text,
                                           "usage": usage}))
            return await play(request, frames, script)
        fmt = fields.get("response_format", "json")
        if fmt == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        if fmt in ("srt", "vtt"):
            mark = "," if fmt == "srt" else "."
            cue = f"00:00:00{mark}000 --> 00:00:{SECONDS:02d}{mark}000"
            head = "1\n" if fmt == "srt" else "WEBVTT\n\n"
            return web.Response(text=f"{head}{cue}\n{text}\n\n", content_type="text/plain")
        if fmt == "verbose_json":
            return json_response({"task": task, "language": "english", "duration": SECONDS,
                                  "text": text, "segments": [], "usage": usage})
        return json_response({"text": text} if task == "translate" else
                             {"text": text, "usage": usage})

    async def edits(self, request: web.Request) -> web.StreamResponse:
        return await self._images(request, "image_edit")

    async def variations(self, request: web.Request) -> web.StreamResponse:
        return await self._images(request, "image_variation")

    async def _images(self, request: web.Request, kind: str) -> web.StreamResponse:
        """``n`` copies of a 1×1 PNG, or one ``image_edit.completed`` event."""
        parts = await _parts(request)
        if (denied := await self.authorise(request, parts)) is not None:
            return denied
        fields = dict(p for p in parts if len(p) == 2)
        script = scripting.parse(fields.get("prompt", ""))
        if script.error is not None:
            return _error(script.error)
        if not any(len(p) == 4 and p[0].startswith("image") for p in parts):
            return json_response(error_body("openai", 400, "'image' is required"), 400)
        usage = {"input_tokens": 9, "output_tokens": 272, "total_tokens": 281}
        if fields.get("stream") == "true":
            done = {"type": f"{kind}.completed", "b64_json": FAKE_PNG,
                    "created_at": int(time.time()), "size": "1x1", "quality": "low",
                    "background": "opaque", "output_format": "png", "usage": usage}
            return await play(request, [sse.encode_json(done, event=done["type"])], script)
        return json_response({"created": int(time.time()),
                              "data": [{"b64_json": FAKE_PNG}] * int(fields.get("n") or 1),
                              "usage": usage})


async def _parts(request: web.Request) -> list[tuple]:
    """The upload's parts in order: ``(name, text)`` or ``(name, filename, type, bytes)``."""
    parts: list[tuple] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        data = await part.read()
        if part.filename is not None:
            parts.append((part.name, part.filename,
                          part.headers.get("Content-Type", ""), bytes(data)))
        else:
            parts.append((part.name, data.decode("utf-8")))
    return parts


def _error(status: int) -> web.Response:
    return json_response(error_body("openai", status), status,
                         headers={"Retry-After": "1"} if status in (429, 503) else None)

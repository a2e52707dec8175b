"""``/v1/audio/*``: OpenAI's audio routes, answered by the emulated voice and ear.

``POST /v1/audio/speech`` (JSON in, audio out) validates with
``providers/emulated/speech.py``, records the routing decision on the exchange, and
streams the audio as it is rendered: each word's samples are made beside the event loop
(``offload.off_loop``) and written as soon as they are ready, so a long text starts
playing at once. ``stream_format: "sse"`` sends the same bytes as base64
``speech.audio.delta`` events and a closing ``speech.audio.done``. Transcriptions and
translations read a multipart upload (up to OpenAI's 25 MB) and answer from
``providers/emulated/transcribe.py``. Usage is recorded in the units OpenAI bills
(``speech.billed``, ``transcribe.billed``: characters, seconds or tokens), which
``finops/prices.py`` prices. Authentication, limits
and the exchange's end are the gateway middleware's, as for every route.

With an OpenAI key in the vault (the key and plan rules of ``policy/routing.keyed``, as
for images), the same checks run and the request is relayed upstream instead
(``audio_relay.py``): the upload is kept as the ``Form`` it came as, to be re-sent.
"""

from __future__ import annotations

import asyncio
import base64

from aiohttp import http_exceptions, web

from behest_local import sse
from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.exchange.exchange import Exchange
from behest_local.exchange.media import describe
from behest_local.offload import off_loop
from behest_local.policy import routing
from behest_local.providers.emulated import scripted, speech, speech_encode, transcribe
from behest_local.providers.form import Form
from behest_local.server.body import form_field, note_part, payload_error, read_json
from behest_local.server.guard_inputs import guard_field
from behest_local.server.keys import EXCHANGE, GATEWAY, PRINCIPAL
from behest_local.server.render import json_response
from behest_local.server.routes.audio_relay import relay_speech, relay_transcript

UPSTREAM = "openai"
_FALLBACK = "the emulated voice"


MAX_AUDIO_BYTES = 26_214_400
"""OpenAI's upload limit for audio, 25 MB (413 above, in its words)."""
_FIELD_BYTES = 4096
_CHUNK = 256 * 1024


def setup_audio_routes(app: web.Application) -> None:
    app.router.add_post("/v1/audio/speech", create_speech)
    app.router.add_post("/v1/audio/transcriptions", create_transcription)
    app.router.add_post("/v1/audio/translations", create_translation)


async def create_speech(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/speech``."""
    raw = await read_json(request)
    body = speech.validate_speech_request(raw)
    fmt = body["response_format"]
    exchange: Exchange = request[EXCHANGE]
    sse_out = body["stream_format"] == "sse"
    target = _route(request, body["model"])
    exchange.routed(requested_model=body["model"], model=body["model"],
                    provider=target.provider, reason=target.reason, stream=sse_out)
    if (guarded := await guard_field(request, raw, "input")) is not raw:
        raw, body = guarded, {**body, "input": guarded["input"]}
    exchange.upstream_started()
    said = await off_loop(speech.plan, body["input"], body["voice"], body["speed"])
    if target.provider != routing.EMULATED:
        return await relay_speech(request, target.provider, raw,
                                  speech.billed(body["model"], body["input"], said))
    encode = None if fmt in speech.PRODUCED else speech_encode.encoder_for(fmt)
    if encode is None:
        chunks = speech.speech_chunks(said, fmt)
        size = said.samples * 2 + (len(speech.wav_header(0)) if fmt == "wav" else 0)
    else:  # a whole file (see speech_encode), sent in pieces
        audio = await off_loop(lambda: encode(b"".join(speech.speech_chunks(said, "pcm"))))
        chunks = iter([audio[i:i + _CHUNK] for i in range(0, len(audio), _CHUNK)])
        size = len(audio)
    if sse_out:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
    else:
        response = web.StreamResponse(headers={"Content-Type": speech.CONTENT_TYPES[fmt]})
        response.content_length = size
    task = asyncio.current_task()
    streams = request.app[GATEWAY].streams
    if task is not None:
        streams.add(task)
    try:
        await response.prepare(request)
        first = None  # the audio's header, for the trace's summary of it
        while (chunk := await off_loop(next, chunks, None)) is not None:
            if first is None:
                first = chunk
            if sse_out:
                chunk = sse.encode_json({"type": "speech.audio.delta",
                                         "audio": base64.b64encode(chunk).decode()})
            exchange.chunk_sent(len(chunk))
            await response.write(chunk)
        if sse_out:
            text_in, audio_out = speech.billed(body["model"], body["input"], said)
            await response.write(sse.encode_json({
                "type": "speech.audio.done",
                "usage": {"input_tokens": text_in, "output_tokens": audio_out,
                          "total_tokens": text_in + audio_out}}))
        await response.write_eof()
        exchange.usage(*speech.billed(body["model"], body["input"], said))
        if exchange.capture is not None:  # the audio as its type, size and duration
            line = describe(speech.CONTENT_TYPES[fmt], first or b"", size)
            exchange.capture.media_response(
                f"speech.audio.delta events of {line}" if sse_out else line,
                exchange.bytes_sent)
    finally:
        if task is not None:
            streams.discard(task)
    return response


async def create_transcription(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/transcriptions``."""
    return await _listen(request, "transcribe")


async def create_translation(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/translations``: whisper-1 only; the text is always English."""
    return await _listen(request, "translate")


async def _listen(request: web.Request, task: str) -> web.StreamResponse:
    fields, data, filename, form = await _upload(request)
    model = fields.get("model", [""])[0]
    models = transcribe.TRANSCRIBE_MODELS if task == "transcribe" else ("whisper-1",)
    if not model:
        raise InvalidRequestError("Missing required parameter: 'model'.", param="model")
    if model not in models:
        raise InvalidRequestError(f"Invalid model {model!r} for this endpoint; supported: "
                                  f"{', '.join(models)}.", param="model", code="invalid_model")
    if data is None:
        raise InvalidRequestError("Missing required parameter: 'file'.", param="file")
    stream = fields.get("stream", ["false"])[0].lower() == "true"
    target = _route(request, model)
    if target.provider != routing.EMULATED:
        # OpenAI checks the rest itself, options the emulator lacks included (the
        # diarize model's ``diarized_json``, say).
        _routed(request, model, target, stream)

        async def heard() -> tuple[int, int]:  # the emulated path's units, when unreported
            try:
                seconds = await off_loop(transcribe.duration, data,
                                         transcribe.sniff(data, filename or ""))
            except InvalidRequestError:  # a format only OpenAI reads: its least charge
                seconds = 0.0
            return transcribe.billed(model, transcribe.Transcript("", (), seconds, ""))
        op = "transcriptions" if task == "transcribe" else "translations"
        return await relay_transcript(request, target.provider, op, form, heard)
    fmt, granularities = _emulated_format(fields, model)
    kind = transcribe.sniff(data, filename or "")
    exchange = _routed(request, model, target, stream)
    seconds = await off_loop(transcribe.duration, data, kind)
    # A scripted reply pins the transcript: its ``match`` is tried on the file's name and
    # the prompt, as a chat rule is on the last user message.
    cue = f"{filename or ''}\n{fields.get('prompt', [''])[0]}"
    rule = scripted.find_rule(request[PRINCIPAL].project.scripted,
                              [{"role": "user", "content": cue}])
    language = "english" if task == "translate" else fields.get("language", ["english"])[0]
    said = await off_loop(lambda: transcribe.transcribe(
        data, seconds, pinned=rule.reply if rule is not None else None, language=language))
    exchange.usage(*transcribe.billed(model, said))
    if stream:
        return await _stream_transcript(request, said, model)
    body = transcribe.render(said, fmt, task=task, model=model, granularities=granularities)
    if isinstance(body, str):
        return web.Response(text=body, content_type="text/plain")
    return json_response(body)


def _emulated_format(fields: dict[str, list[str]], model: str) -> tuple[str, tuple[str, ...]]:
    """The ``response_format`` and timestamp granularities the emulated ear can answer, as
    OpenAI checks them (400s naming the field)."""
    fmt = fields.get("response_format", ["json"])[0]
    if fmt not in transcribe.RESPONSE_FORMATS:
        raise InvalidRequestError(f"Invalid value for 'response_format': {fmt!r}. Supported "
                                  f"values are: {', '.join(transcribe.RESPONSE_FORMATS)}.",
                                  param="response_format")
    if model.startswith("gpt-4o") and fmt != "json":
        raise InvalidRequestError(f"response_format {fmt!r} is not compatible with {model}; "
                                  "use json.", param="response_format")
    granularities = tuple(fields.get("timestamp_granularities[]", ["segment"]))
    if any(g not in ("word", "segment") for g in granularities):
        raise InvalidRequestError("Invalid value for 'timestamp_granularities'; supported "
                                  "values are: word, segment.", param="timestamp_granularities")
    return fmt, granularities


def _routed(request: web.Request, model: str, target: routing.Target,
            stream: bool) -> Exchange:
    exchange: Exchange = request[EXCHANGE]
    exchange.routed(requested_model=model, model=model, provider=target.provider,
                    reason=target.reason, stream=stream)
    exchange.upstream_started()
    return exchange


async def _stream_transcript(request: web.Request, said: transcribe.Transcript,
                             model: str) -> web.StreamResponse:
    """``stream: true``: a ``transcript.text.delta`` per word, then one ``…done``."""
    exchange: Exchange = request[EXCHANGE]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    for i, word in enumerate(said.words):
        frame = sse.encode_json({"type": "transcript.text.delta",
                                 "delta": word.word if i == 0 else " " + word.word})
        exchange.chunk_sent(len(frame))
        await response.write(frame)
    await response.write(sse.encode_json({"type": "transcript.text.done", "text": said.text,
                                          "usage": transcribe.usage(model, said)}))
    await response.write_eof()
    return response


async def _upload(request: web.Request
                  ) -> tuple[dict[str, list[str]], bytes | None, str | None, Form]:
    """The form's text fields (repeated ones in order) and its ``file`` part, read as it
    arrives up to OpenAI's 25 MB (413 above, before a byte is read when declared); and
    the whole form as it came, to relay."""
    if request.content_type != "multipart/form-data":
        raise InvalidRequestError("This endpoint expects a multipart/form-data body with a "
                                  "'file' part.", code="invalid_multipart")
    if request.content_length is not None and request.content_length > MAX_AUDIO_BYTES + 65536:
        raise _too_large(request.content_length)
    fields: dict[str, list[str]] = {}
    data: bytes | bytearray | None = None
    filename = None
    form = Form()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "file" and data is None:
                filename, data = part.filename, bytearray()
                while chunk := await part.read_chunk(_CHUNK):
                    data += chunk
                    if len(data) > MAX_AUDIO_BYTES:
                        raise _too_large(len(data))
                data = bytes(data)
                note_part(request, part, data)
                form.add_file("file", filename or "audio", part.headers.get(
                    "Content-Type", "application/octet-stream"), data)
            else:
                value = await form_field(part, _FIELD_BYTES)
                fields.setdefault(part.name or "", []).append(value)
                note_part(request, part, value)
                form.add_field(part.name or "", value)
    except web.RequestPayloadError as exc:
        raise payload_error(exc) from None
    except (ValueError, RuntimeError, http_exceptions.BadHttpMessage, web.HTTPException):
        raise InvalidRequestError("The multipart/form-data body could not be read: it is "
                                  "malformed or cut short.", code="invalid_multipart") from None
    return fields, data, filename, form


def _route(request: web.Request, model: str) -> routing.Target:
    keys = request.app[GATEWAY].provider_keys
    return routing.keyed(model, "requested model", UPSTREAM, request[PRINCIPAL].settings,
                         keys.has if keys else lambda provider: False, fallback=_FALLBACK)


def _too_large(read: int) -> GatewayError:
    """OpenAI's own 413 for an audio upload over 25 MB (reference §7.3)."""
    return GatewayError(f"Maximum content size limit ({MAX_AUDIO_BYTES}) exceeded ({read} "
                        "bytes read)", status=413, type="server_error")

"""``providers/form.encode``: the multipart body an upload is re-sent as, read back by
aiohttp's own parser (what the fake upstream and many servers use)."""

from __future__ import annotations

import pytest
from aiohttp import web

from behest_local.providers.form import Form, encode
from behest_local.providers.openai_compat import transport


async def _parsed(aiohttp_client, content_type: str, body: bytes) -> list[tuple]:
    parts: list[tuple] = []

    async def read(request: web.Request) -> web.Response:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await part.read()
            parts.append((part.name, part.filename, part.headers.get("Content-Type"),
                          bytes(data)) if part.filename is not None
                         else (part.name, data.decode()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/", read)
    client = await aiohttp_client(app)
    response = await client.post("/", data=body, headers={"Content-Type": content_type})
    assert response.status == 200
    return parts


async def test_parts_come_back_in_order_with_names_filenames_types_and_bytes(aiohttp_client):
    form = Form()
    form.add_field("model", "whisper-1")
    form.add_file("file", "talk.wav", "audio/wav", b"RIFF\r\n--\x00\xff")
    form.add_field("timestamp_granularities[]", "word")
    form.add_field("timestamp_granularities[]", "segment")
    form.add_field("prompt", "Zoë said \"hi\"\r\nthen left")
    assert await _parsed(aiohttp_client, *encode(form)) == [
        ("model", "whisper-1"), ("file", "talk.wav", "audio/wav", b"RIFF\r\n--\x00\xff"),
        ("timestamp_granularities[]", "word"), ("timestamp_granularities[]", "segment"),
        ("prompt", "Zoë said \"hi\"\r\nthen left")]


def test_quotes_and_line_breaks_in_a_filename_cannot_break_out_of_its_header():
    form = Form()
    form.add_file("image[]", 'a"b\r\nContent-Type: text/html.png', "image/png", b"x")
    _, body = encode(form, boundary="B")
    head = body.split(b"\r\n\r\n", 1)[0]
    assert head == (b'--B\r\nContent-Disposition: form-data; name="image[]"; '
                    b'filename="a%22b%0D%0AContent-Type: text/html.png"\r\n'
                    b"Content-Type: image/png")


def test_the_transport_sends_a_form_as_multipart_with_its_boundary():
    form = Form()
    form.add_field("stream", "true")
    form.add_file("file", "a.wav", "audio/wav", b"abc")
    request = transport.request("transcriptions", form, "sk-test", base_url="http://up/v1")
    assert request.url == "http://up/v1/audio/transcriptions" and request.json is None
    assert request.headers["Accept"] == "text/event-stream"
    kind, boundary = request.headers["Content-Type"].split("; boundary=")
    assert kind == "multipart/form-data" and request.body.startswith(b"--" + boundary.encode())


def test_only_openais_profile_relays_uploads():
    for op in ("speech", "transcriptions", "image_edits", "image_variations"):
        with pytest.raises(ValueError, match=op):
            transport.request(op, Form(), "k", profile=transport.MISTRAL)

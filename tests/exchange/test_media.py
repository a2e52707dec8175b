"""The media summariser (exchange/media.py, media_sniff.py): an image, audio file, base64
value or form is shown as its type and size, never as its bytes.

Real files are made with Pillow, the standard library's ``wave`` and the emulated voice's
encoder (soundfile); hypothesis feeds arbitrary bytes and base64 to show that nothing
raises and no long base64 media value survives a summary.
"""

from __future__ import annotations

import base64
import io
import json
import re
import wave

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from behest_local.exchange import media
from behest_local.exchange.media_sniff import sniff


def _image(fmt: str, size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _wav(seconds: float, rate: int = 24_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(b"\x01\x02" * int(seconds * rate))
    return out.getvalue()


@pytest.mark.parametrize("fmt, media_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                              ("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_an_image_is_its_type_pixel_size_and_byte_size(fmt, media_type):
    data = _image(fmt, (640, 480))
    assert media.describe(None, data, len(data)) == \
        f"{media_type} 640×480, {media.human_size(len(data))}"


def test_a_lossless_webp_and_a_transparent_one_are_sized_too():
    for kwargs, mode in (({"lossless": True}, "RGB"), ({}, "RGBA")):
        out = io.BytesIO()
        Image.new(mode, (33, 17)).save(out, "WEBP", **kwargs)
        found = sniff(out.getvalue())
        assert (found.media_type, found.width, found.height) == ("image/webp", 33, 17)


def test_a_wav_is_timed_from_its_header_even_when_only_its_start_was_kept():
    data = _wav(3.1)
    assert media.describe("audio/wav", data, len(data)) == "audio/wav, 148.8 kB, 3.1 s"
    assert media.describe("audio/wav", data[:4096], len(data)).endswith(", 3.1 s")


def test_a_streamed_wav_without_a_length_is_timed_from_its_size():
    data = bytearray(_wav(2.0))
    data[40:44] = b"\xff\xff\xff\xff"  # data length unknown, as a streamed WAV says
    assert media.describe(None, bytes(data[:64]), len(data)).endswith(", 2.0 s")


@pytest.mark.parametrize("fmt, media_type", [("mp3", "audio/mpeg"), ("flac", "audio/flac"),
                                              ("opus", "audio/ogg")])
def test_encoded_speech_is_its_type_and_duration_where_the_header_says(fmt, media_type):
    from behest_local.providers.emulated.speech_encode import encoder_for

    pcm = b"\x00\x10" * 24_000 * 3  # three seconds of OpenAI's 24 kHz pcm
    data = encoder_for(fmt)(pcm)
    line = media.describe(None, data[:media.HEAD_BYTES], len(data))
    assert line.startswith(f"{media_type}, {media.human_size(len(data))}")
    if fmt != "opus":  # Ogg pages say no duration up front
        seconds = float(re.search(r", ([\d.]+) s$", line).group(1))
        assert seconds == pytest.approx(3.0, rel=0.2)


def test_pcm_is_timed_at_openais_rate_and_unknown_bytes_keep_their_declared_type():
    assert media.describe("audio/pcm", b"\x00" * 96_000, 96_000) == "audio/pcm, 96.0 kB, 2.0 s"
    assert media.describe("application/octet-stream", b"\x00\x01", 2_000_000) == \
        "application/octet-stream, 2.0 MB"


def test_sizes_read_in_decimal_units():
    assert [media.human_size(n) for n in (0, 999, 1000, 48_200, 1_234_567, 3 * 10**9)] == \
        ["0 B", "999 B", "1.0 kB", "48.2 kB", "1.2 MB", "3.0 GB"]


def test_b64_json_becomes_its_summary_and_the_json_stays_valid():
    png = _image("PNG", (1024, 1024))
    b64 = base64.b64encode(png).decode()
    body = json.dumps({"created": 1, "data": [{"b64_json": b64, "revised_prompt": "a fox"}]})
    shown = media.summarise_fields(body.encode()).decode()
    assert b64[:100] not in shown
    item = json.loads(shown)["data"][0]
    assert item == {"b64_json": f"<image/png 1024×1024, {media.human_size(len(png))}>",
                    "revised_prompt": "a fox"}


def test_a_data_url_keeps_its_prefix_and_loses_its_bytes():
    jpeg = _image("JPEG", (320, 200))
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    body = json.dumps({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}]}]}).encode()
    shown = json.loads(media.summarise_fields(body))
    assert shown["messages"][0]["content"][0]["image_url"]["url"] == \
        f"data:image/jpeg;base64,<image/jpeg 320×200, {media.human_size(len(jpeg))}>"


def test_a_speech_delta_of_raw_pcm_is_summarised_by_its_key():
    audio = base64.b64encode(b"\x00\x7f" * 4000).decode()
    event = json.dumps({"type": "speech.audio.delta", "audio": audio}).encode()
    assert json.loads(media.summarise_fields(event))["audio"] == \
        "<application/octet-stream, 8.0 kB>"


def test_base64_that_is_not_media_under_another_key_is_left_as_sent():
    embedding = base64.b64encode(bytes(range(256)) * 8).decode()  # float32s, say
    body = json.dumps({"embedding": embedding, "id": "x" * 300}).encode()
    assert media.summarise_fields(body) is body


def test_a_value_cut_by_the_recording_cap_is_sized_as_at_least():
    png = _image("PNG", (900, 700))
    body = json.dumps({"data": [{"b64_json": base64.b64encode(png * 3).decode()}]}).encode()
    shown = media.summarise_fields(body[:5000], cut=True).decode()
    assert re.search(r'"<image/png 900×700, ≥ [\d.]+ kB>$', shown), shown[-80:]


def test_a_form_shows_text_fields_as_text_and_files_as_their_summary():
    wav = _wav(1.5)
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
            f"whisper-1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode() + wav + \
        f"\r\n--{boundary}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={boundary}"
    assert media.summarise_body(body, ctype, len(body)) == \
        f"model: whisper-1\nfile (a.wav): audio/wav, {media.human_size(len(wav))}, 1.5 s"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=10**9))
def test_any_bytes_describe_as_one_line_with_their_size(data, extra):
    size = len(data) + extra
    line = media.describe(None, data, size)
    assert "\n" not in line and media.human_size(size) in line
    assert media.describe("audio/mpeg", data, size, cut=True).count("≥") == 1


_B64 = st.binary(min_size=media.MIN_BASE64, max_size=4096).map(
    lambda b: base64.b64encode(b).decode())


@settings(max_examples=200, deadline=None)
@given(_B64, st.sampled_from(sorted(k.decode() for k in media.MEDIA_KEYS)),
       st.text(max_size=40))
def test_no_long_base64_under_a_media_key_survives_and_the_json_stays_valid(b64, key, note):
    body = json.dumps({"note": note, key: b64, "after": [1, 2]}).encode()
    shown = media.summarise_fields(body)
    parsed = json.loads(shown)
    assert parsed[key].startswith("<") and parsed[key].endswith(">")
    assert b64 not in shown.decode() and parsed["after"] == [1, 2] and parsed["note"] == note


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=3000))
def test_summarising_any_bytes_cut_anywhere_never_raises(data, cut):
    raw = b'{"b64_json": "' + base64.b64encode(data) + b'"}'
    media.summarise_fields(raw[:cut], cut=True)
    media.summarise_fields(data)
    media.summarise_body(data, "multipart/form-data; boundary=a", len(data) + 5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_B64, st.text(max_size=300)), max_size=6),
       st.integers(min_value=0, max_value=6000))
def test_a_limited_summary_is_the_start_of_the_whole_one(values, limit):
    raw = json.dumps({f"audio{i}" if i % 2 else "b64_json": v
                      for i, v in enumerate(values)}).encode()
    whole = media.summarise_fields(raw)
    assert media.summarise_fields(raw, limit=limit)[:limit] == whole[:limit]


def test_a_huge_body_is_summarised_within_its_cap_without_reading_all_of_it():
    png = _image("PNG", (64, 48))
    raw = json.dumps({"data": [{"b64_json": base64.b64encode(png * 20_000).decode()}],
                      "text": "words " * 3_000_000}).encode()  # 20 MB past the image
    kept, summary = media.kept(raw, "application/json", 65_536)
    assert summary is None and len(kept) == 65_536
    assert kept.startswith(b'{"data": [{"b64_json": "<image/png 64\xc3\x9748, ')

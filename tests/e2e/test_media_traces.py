"""Media in traces through a running gateway: its type and size, never its bytes.

The openai SDK asks for speech (mp3), a DALL·E image as base64 and a transcription of an
uploaded WAV. The TUI's detail (same loop), the trace database and the ``traces export``
JSON Lines and HAR files then show each body as its summary (exchange/media.py), and a
stretch of the payload's own base64 or bytes appears in none of them. The HAR stays valid
(tests/observe/test_export.assert_har_12).
"""

from __future__ import annotations

import base64
import json
import re

import openai

from behest_local.cli.main import main as cli
from behest_local.exchange.events import ExchangeFinished
from behest_local.exchange.media import human_size
from behest_local.observe.record import build_record
from behest_local.observe.trace_db import TraceDB
from behest_local.tui.app import BehestApp
from tests.conftest import TEST_SETTINGS
from tests.observe.test_export import assert_har_12
from tests.trace_support import EventWaiter, settle, start_gateway, until


async def test_speech_images_and_uploads_show_as_their_summary_everywhere(tmp_path):
    home = tmp_path / "home"
    running, key = await start_gateway(home, TEST_SETTINGS)
    store = running.gateway.store
    db = TraceDB.open(home, interval=0.02)
    unsubscribe = store.subscribe(db.subscriber, events=TraceDB.EVENTS)
    waiter = EventWaiter()
    store.subscribe(waiter)
    sdk = openai.AsyncOpenAI(api_key=key, base_url=running.url + "/v1", max_retries=0)
    app = BehestApp(store, url=running.url, gateway=running.gateway)
    ids: dict[str, str] = {}

    async def ended(raw, name: str) -> None:
        ids[name] = raw.headers["X-Request-Id"]
        await waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                          and e.exchange_id == ids[name])

    try:
        async with app.run_test(size=(160, 48)) as pilot:
            raw = await sdk.audio.speech.with_raw_response.create(
                model="tts-1", voice="alloy", input="A short sentence, spoken.",
                response_format="mp3")
            mp3 = raw.content
            await ended(raw, "speech")
            raw = await sdk.audio.speech.with_raw_response.create(
                model="tts-1", voice="alloy", input="Transcribe me, please.",
                response_format="wav")
            wav = raw.content
            await ended(raw, "wav")
            raw = await sdk.audio.transcriptions.with_raw_response.create(
                model="whisper-1", file=("note.wav", wav, "audio/wav"))
            await ended(raw, "upload")
            raw = await sdk.images.with_raw_response.generate(
                model="dall-e-3", prompt="a lighthouse", size="1792x1024", quality="hd",
                response_format="b64_json")
            b64 = raw.parse().data[0].b64_json
            await ended(raw, "image")
            png_size = len(base64.b64decode(b64))

            # The TUI follows the newest exchange: the image, billed per image, its
            # b64_json summarised.
            app.refresh_feed()
            await settle(pilot)
            await until(pilot, lambda: "cost" in str(app.query_one("#detail-overview").render()))
            overview = str(app.query_one("#detail-overview").render())
            assert "billed  1 image, hd 1792x1024" in overview, overview
            assert "cost  $0.12" in overview
            app.detail.show_tab("response")
            await until(pilot, lambda: "b64_json" in "\n".join(
                map(str, app.query_one("#detail-response").lines)))
            shown = "\n".join(map(str, app.query_one("#detail-response").lines))
            assert '"b64_json": "<image/png 1792×1024, ' in shown and b64[200:260] not in shown

        assert db.flush() and db.error is None
        stored = {name: db.get(exchange_id) for name, exchange_id in ids.items()}
    finally:
        unsubscribe()
        db.close()
        await sdk.close()
        await running.close()

    assert re.fullmatch(r"audio/mpeg, [\d.]+ kB, \d+\.\d s", stored["speech"]["response"]["body"])
    assert re.fullmatch(r"audio/wav, [\d.]+ kB, \d+\.\d s", stored["wav"]["response"]["body"])
    upload = stored["upload"]["request"]
    assert upload["body"].startswith("model: whisper-1\nfile (note.wav): audio/wav, ")
    assert upload["body_size"] > len(wav)
    [item] = json.loads(stored["image"]["response"]["body"])["data"]
    assert re.fullmatch(r"<image/png 1792×1024, [\d.]+ kB>", item["b64_json"])

    jsonl, har = tmp_path / "traces.jsonl", tmp_path / "traces.har"
    for fmt, out in (("jsonl", jsonl), ("har", har)):
        assert cli(["traces", "export", "--home", str(home), "--format", fmt,
                    "--out", str(out)]) == 0
    exported = jsonl.read_text() + har.read_text()
    for payload in (b64[1000:1060], base64.b64encode(mp3[400:460]).decode(),
                    base64.b64encode(wav[2000:2060]).decode(),
                    mp3[400:460].decode("latin-1"), wav[2000:2060].decode("latin-1")):
        assert payload not in exported
    document = json.loads(har.read_text())
    assert_har_12(document)
    entries = {e["_behest"]["id"]: e for e in document["log"]["entries"]}
    speech = entries[ids["speech"]]["response"]["content"]
    assert "text" not in speech and speech["comment"].startswith("audio/mpeg, ")
    assert speech["mimeType"] == "audio/mpeg" and speech["size"] == len(mp3)
    posted = entries[ids["upload"]]["request"]["postData"]
    assert "text" not in posted
    assert {"name": "model", "value": "whisper-1"} in posted["params"]
    [file] = [p for p in posted["params"] if p["name"] == "file"]
    assert file["fileName"] == "note.wav" and file["contentType"] == "audio/wav"
    assert file["comment"].startswith("audio/wav, ")
    image = entries[ids["image"]]["response"]["content"]
    assert f"<image/png 1792×1024, {human_size(png_size)}>" in image["text"]
    assert image["size"] == stored["image"]["response"]["body_size"] > png_size  # as sent


def test_streamed_speech_and_partial_images_show_as_their_summary(live):
    with openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0) as client:
        with client.audio.speech.with_streaming_response.create(
                model="gpt-4o-mini-tts", voice="alloy", input="Streamed, as events.",
                response_format="wav", extra_body={"stream_format": "sse"}) as raw:
            sse = raw.read().decode()
            speech_id = raw.headers["X-Request-Id"]
        with client.images.with_streaming_response.generate(
                model="gpt-image-1", prompt="a kite", stream=True, partial_images=1,
                quality="low") as raw:
            body = raw.read().decode()
            image_id = raw.headers["X-Request-Id"]

    live.recorder.wait_end(speech_id)
    delta = max((json.loads(line[6:]).get("audio") or "" for line in sse.split("\n")
                 if line.startswith("data: ")), key=len)
    assert len(delta) > 1000
    record = build_record(live.gateway.store.find(speech_id))
    assert re.fullmatch(r"speech\.audio\.delta events of audio/wav, [\d.]+ kB, \d+\.\d s",
                        record["response"]["body"])
    assert delta[100:160] not in json.dumps(record)

    live.recorder.wait_end(image_id)
    sent = [json.loads(line[6:])["b64_json"] for line in body.split("\n")
            if line.startswith("data: ")]
    record = build_record(live.gateway.store.find(image_id))
    shown = [json.loads(event["data"])["b64_json"] for event in record["events"]]
    assert len(shown) == len(sent) == 2
    assert all(re.fullmatch(r"<image/png 1024×1024, [\d.]+ kB>", s) for s in shown)
    assert all(b64[500:560] not in json.dumps(record) for b64 in sent)

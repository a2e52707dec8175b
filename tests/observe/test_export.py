"""Exports (observe/export.py), the ``traces`` command (cli/traces_cmd.py) and fixtures (observe/fixtures.py)."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import shlex
from datetime import datetime

import pytest

from behest_local.observe import export
from behest_local.observe.fixtures import (FixtureError, fixture_path, load_fixture, replay_chunks,
                                   save_fixture)
from behest_local.observe.record import build_record
from behest_local.observe.trace_db import DB_FILE, TraceDB
from behest_local.cli.traces_cmd import add_traces_parser, run_traces
from tests.trace_support import CANARY, CANARY_MARK, fake_exchange, make_store

SECRET_HEADERS = [("Host", "127.0.0.1:7717"), ("Content-Type", "application/json"),
                  ("Authorization", f"Bearer {CANARY}"), ("x-api-key", CANARY)]


def records():
    store, clock = make_store()
    body = {"model": "gpt-4o-mini", "stream": True,
            "messages": [{"role": "user", "content": f"repeat {CANARY}"}]}
    return [build_record(fake_exchange(store, clock, 1, pieces=["Hi"])),
            build_record(fake_exchange(store, clock, 2, stream=True, body=body,
                                       pieces=[" sk", "-proj", "-CANARY7f3a9b2c", "4d5e"],
                                       headers=SECRET_HEADERS)),
            build_record(fake_exchange(store, clock, 3, status=401))]


def assert_har_12(har: dict) -> None:
    """The required fields and types of HAR 1.2 (softwareishard.com/blog/har-12-spec)."""
    log = har["log"]
    assert log["version"] == "1.2"
    assert isinstance(log["creator"]["name"], str) and isinstance(log["creator"]["version"], str)
    assert isinstance(log["entries"], list)
    for entry in log["entries"]:
        datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00"))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["startedDateTime"])
        assert isinstance(entry["time"], (int, float)) and entry["time"] >= 0
        request, response = entry["request"], entry["response"]
        for key in ("method", "url", "httpVersion", "cookies", "headers", "queryString",
                    "headersSize", "bodySize"):
            assert key in request, key
        assert request["url"].startswith("http://")
        for key in ("status", "statusText", "httpVersion", "cookies", "headers", "content",
                    "redirectURL", "headersSize", "bodySize"):
            assert key in response, key
        assert {"size", "mimeType"} <= set(response["content"])
        for header in request["headers"] + response["headers"]:
            assert set(header) >= {"name", "value"}
        if "postData" in request:
            assert "mimeType" in request["postData"]
        assert isinstance(entry["cache"], dict)
        timings = entry["timings"]
        for key in ("send", "wait", "receive"):
            assert timings[key] >= 0, key
        total = sum(v for v in timings.values() if v != -1)
        assert total == pytest.approx(entry["time"], abs=0.01)


def test_har_export_is_valid_har_12_and_round_trips():
    out = io.StringIO()
    assert export.write_har(records(), out) == 3
    har = json.loads(out.getvalue())
    assert_har_12(har)
    stream = har["log"]["entries"][1]
    assert stream["response"]["content"]["mimeType"] == "text/event-stream"
    assert stream["response"]["content"]["text"].startswith("data: {")
    assert stream["_behest"]["chunks"] == 6
    assert har["log"]["entries"][2]["response"]["status"] == 401


def test_jsonl_export_round_trips_every_record():
    out = io.StringIO()
    original = records()
    export.write_jsonl(original, out)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == original


def test_no_export_contains_a_secret():
    jsonl, har = io.StringIO(), io.StringIO()
    export.write_jsonl(records(), jsonl)
    export.write_har(records(), har)
    curl = export.curl_command(records()[1])
    for text in (jsonl.getvalue(), har.getvalue(), curl):
        assert CANARY_MARK not in text and "4d5e6f708192" not in text


def test_copy_as_curl_uses_the_key_variable_and_replays_the_body():
    curl = export.curl_command(records()[1])
    argv = shlex.split(curl.replace("$BEHEST_API_KEY", "KEY"))
    assert argv[:3] == ["curl", "-N", "http://127.0.0.1:7717/v1/chat/completions"]
    assert "Authorization: Bearer KEY" in argv and "x-api-key: KEY" in argv
    assert json.loads(argv[argv.index("--data-raw") + 1])["stream"] is True
    assert '"Authorization: Bearer $BEHEST_API_KEY"' in curl  # the shell expands it


def test_copy_as_curl_of_a_form_sends_its_fields_and_names_its_files():
    record = records()[0]
    record["request"]["headers"].append(["Content-Type", "multipart/form-data; boundary=b"])
    record["request"]["media"] = {"summary": "…", "parts": [
        {"name": "model", "filename": None, "content_type": None, "text": "whisper-1"},
        {"name": "file", "filename": "note.wav", "content_type": "audio/wav",
         "text": "audio/wav, 55.2 kB, 1.1 s"}]}
    argv = shlex.split(export.curl_command(record))
    assert argv[-4:] == ["-F", "model=whisper-1", "-F", "file=@note.wav;type=audio/wav"]
    assert "--data-raw" not in argv and not any("multipart" in a for a in argv)


def test_traces_cli_exports_and_lists_from_the_database(tmp_path, capsys):
    store, clock = make_store()
    database = TraceDB(tmp_path / DB_FILE, interval=0.02, max_age=1e12)
    database.start()
    store.subscribe(database.subscriber)
    for n in range(3):
        fake_exchange(store, clock, n, stream=n == 1, pieces=["x"])
    database.close()
    parser = argparse.ArgumentParser()
    add_traces_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "t.har"
    assert run_traces(parser.parse_args(["traces", "export", "--format", "har", "--out",
                                         str(out)]), tmp_path) == 0
    assert_har_12(json.loads(out.read_text()))
    listing = io.StringIO()
    assert run_traces(parser.parse_args(["traces", "list"]), tmp_path, listing) == 0
    assert len(listing.getvalue().splitlines()) == 3
    saved = io.StringIO()
    args = parser.parse_args(["traces", "fixture", f"req_{1:024d}", "--dir", str(tmp_path)])
    assert run_traces(args, tmp_path, saved) == 0
    assert load_fixture(saved.getvalue().strip()).dialect == "chat"
    assert run_traces(parser.parse_args(["traces", "list"]), tmp_path / "none") == 2
    assert "no traces recorded yet" in capsys.readouterr().err


def test_a_saved_fixture_replays_its_chunks_with_the_recorded_timing(tmp_path):
    store, clock = make_store()
    record = build_record(fake_exchange(store, clock, 1, stream=True, pieces=["a", "b"],
                                        gap=0.25))
    fixture = load_fixture(save_fixture(record, tmp_path))
    waits: list[float] = []

    async def replay() -> list[dict]:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def fake_sleep(seconds: float) -> None:
            waits.append(round(loop.time() - start + seconds, 3))

        return [c async for c in replay_chunks(fixture, model="replayed", sleep=fake_sleep)]

    chunks = asyncio.run(replay())
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "a", "b", None]
    assert all(c["model"] == "replayed" for c in chunks)
    assert waits == pytest.approx([0.201, 0.451, 0.701, 0.951], abs=0.01)


def test_fixture_errors_name_the_problem(tmp_path):
    store, clock = make_store()
    with pytest.raises(FixtureError, match="not a recorded stream"):
        save_fixture(build_record(fake_exchange(store, clock, 1)), tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"behest_fixture": 1, "events": [{"at": 1, "data": "x"}, {"at": 0, "data": "y"}]}')
    with pytest.raises(FixtureError, match="before event 0"):
        load_fixture(bad)
    with pytest.raises(FixtureError, match="no such fixture"):
        load_fixture(tmp_path / "missing.json")
    for name in ("../secrets", "a/b", "..", ""):
        with pytest.raises(FixtureError, match="fixture name"):
            fixture_path(tmp_path, name)

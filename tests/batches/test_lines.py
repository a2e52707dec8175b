"""A batch's JSONL lines: what is wrong with a bad one, the result lines' shape, and the
reading and appending a resumed batch relies on."""

from __future__ import annotations

import json

import pytest

from behest_local.batches import lines
from behest_local.batches.lines import LineReader, Malformed, Request, check

CHAT = "/v1/chat/completions"


def line(**fields) -> bytes:
    base = {"custom_id": "a", "method": "POST", "url": CHAT, "body": {"model": "m"}}
    return json.dumps({**base, **fields}).encode()


def test_a_good_line_is_a_request_and_its_id_is_remembered():
    seen: set[str] = set()
    assert check(line(), 1, CHAT, seen) == Request("a", "m", b'{"model":"m"}')
    assert seen == {"a"}


@pytest.mark.parametrize("raw, custom_id, code", [
    (b'{"custom_id": "a",', None, "invalid_json_line"),
    (b"[1, 2]", None, "invalid_json_line"),
    (b"\xff\xfe", None, "invalid_json_line"),
    (line(custom_id=""), None, "missing_custom_id"),
    (line(custom_id=7), None, "missing_custom_id"),
    (line(method="GET"), "a", "invalid_method"),
    (line(url="/v1/embeddings"), "a", "invalid_url"),
    (line(body=[]), "a", "invalid_body"),
    (line(body={"stream": True}), "a", "invalid_body"),
])
def test_a_malformed_line_says_what_is_wrong(raw, custom_id, code):
    found = check(raw, 7, CHAT, set())
    assert isinstance(found, Malformed) and (found.custom_id, found.code) == (custom_id, code)
    assert "7" in found.message


def test_a_repeated_custom_id_is_malformed():
    seen: set[str] = set()
    check(line(), 1, CHAT, seen)
    assert check(line(), 2, CHAT, seen).code == "duplicate_custom_id"


def test_result_lines_have_openais_shape():
    encoded, usage = lines.output_line("a", 200, "req_1",
                                       b'{\n  "ok": true,\n  "usage": {"prompt_tokens": 3}\n}')
    assert encoded.count(b"\n") == 1 and usage == {"prompt_tokens": 3}
    out = json.loads(encoded)
    assert out["id"].startswith("batch_req_")
    assert {k: out[k] for k in ("custom_id", "response", "error")} == {
        "custom_id": "a", "response": {"status_code": 200, "request_id": "req_1",
                                       "body": {"ok": True, "usage": {"prompt_tokens": 3}}},
        "error": None}
    err = json.loads(lines.error_line(None, "invalid_json_line", "bad"))
    assert err["response"] is None and err["error"] == {"code": "invalid_json_line",
                                                        "message": "bad"}


async def test_the_reader_skips_blank_lines_and_resumes_at_an_offset(tmp_path, monkeypatch):
    monkeypatch.setattr(lines, "READ_LINES", 2)  # several reads, not one
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"one\n\n  \ntwo\nthree\nfour")
    reader = LineReader(path, 0, 0)
    got = [await reader.next() for _ in range(5)]
    assert [(n, raw.strip()) for n, raw, _ in got[:4]] == [
        (1, b"one"), (4, b"two"), (5, b"three"), (6, b"four")]
    assert got[4] is None
    _n, _raw, after_two = got[1]
    resumed = LineReader(path, after_two, 4)
    assert (await resumed.next())[:2] == (5, b"three\n")


def test_seen_ids_are_those_before_the_offset(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(line(custom_id="a") + b"\nnot json\n" + line(custom_id="b") + b"\n")
    assert lines.seen_ids(path, len(line(custom_id="a")) + 1) == {"a"}
    assert lines.seen_ids(path, path.stat().st_size) == {"a", "b"}
    assert lines.count_lines(path) == 3


def test_append_drops_what_was_written_past_the_recorded_size(tmp_path):
    path = tmp_path / "out" / "b.output.jsonl"
    size = lines.append(path, b"first\n", 0)
    path.write_bytes(b"first\nhalf a li")  # a crash after a write, before its record
    size = lines.append(path, b"second\n", size)
    assert path.read_bytes() == b"first\nsecond\n" and size == 13
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_reply_that_is_not_json_is_kept_as_text():
    encoded, usage = lines.output_line("a", 502, None, b"<html>bad gateway</html>")
    assert json.loads(encoded)["response"]["body"] == "<html>bad gateway</html>"
    assert usage is None

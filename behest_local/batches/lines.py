"""A batch's JSONL: reading the input a few lines at a time, checking each line, and the
output and error lines in OpenAI's format (openai-surface.md §5).

An input line is ``{"custom_id", "method": "POST", "url": <the batch's endpoint>,
"body": {…}}``; ``check`` says what is wrong with one that is not (its ``custom_id`` when it
has one), and the runner writes that to the error file: a malformed line never stops the
batch and is never dropped. A served line becomes ``{"id": "batch_req_…", "custom_id",
"response": {"status_code", "request_id", "body"}, "error": null}`` in the output file (a
non-200 reply in the error file, ``response`` filled); a line that was never sent has
``response: null`` and ``error: {code, message}``. All file reading here blocks and runs in
worker threads (``LineReader.next``, ``count_lines``, ``seen_ids``), and so does the
runner's ``check`` and ``output_line`` of a line or reply over ``LARGE_BYTES``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path
from typing import NamedTuple

from behest_local.home import FILE_MODE, private_dir

READ_LINES = 64
"""Lines read per worker-thread hop."""
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


LARGE_BYTES = 64 * 1024
"""A line or reply larger than this is decoded and encoded in a worker thread
(``offload.off_loop``): a 20 MiB line parsed on the loop would hold every other request."""


class Request(NamedTuple):
    custom_id: str
    model: str | None
    data: bytes
    """The body, encoded compactly, as it is sent."""


class Malformed(NamedTuple):
    custom_id: str | None
    code: str
    message: str


def check(raw: bytes, line_no: int, endpoint: str, seen: set[str]) -> Request | Malformed:
    """Line ``line_no`` (1-based) of a batch for ``endpoint``, as a request or what is wrong
    with it. ``seen`` holds the ``custom_id``s of the lines before; this one's is added."""
    try:
        line = json.loads(raw)
    except (ValueError, RecursionError):
        return Malformed(None, "invalid_json_line",
                         f"Line {line_no} is not valid JSON; each line must be one JSON object.")
    if not isinstance(line, dict):
        return Malformed(None, "invalid_json_line", f"Line {line_no} is not a JSON object.")
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return Malformed(None, "missing_custom_id",
                         f"Line {line_no} has no 'custom_id' (a non-empty string).")
    if custom_id in seen:
        return Malformed(custom_id, "duplicate_custom_id",
                         f"Line {line_no}: the custom_id {custom_id!r} is used by an earlier "
                         "line; each must be unique within the batch.")
    seen.add(custom_id)
    if line.get("method") != "POST":
        return Malformed(custom_id, "invalid_method",
                         f"Line {line_no}: 'method' must be 'POST'.")
    if line.get("url") != endpoint:
        return Malformed(custom_id, "invalid_url",
                         f"Line {line_no}: 'url' is {line.get('url')!r}; this batch's "
                         f"endpoint is {endpoint!r}.")
    body = line.get("body")
    if not isinstance(body, dict):
        return Malformed(custom_id, "invalid_body", f"Line {line_no}: 'body' must be an object.")
    if body.get("stream"):
        return Malformed(custom_id, "invalid_body",
                         f"Line {line_no}: streaming is not supported in a batch.")
    model = body.get("model")
    return Request(custom_id, model if isinstance(model, str) else None,
                   _compact(body).encode("utf-8", "replace"))


def output_line(custom_id: str, status: int, request_id: str | None, raw: bytes
                ) -> tuple[bytes, dict | None]:
    """The result line of a reply (``raw``, its JSON; kept as text if it is not JSON) and
    the reply's ``usage``, if any. Made on one line whatever the reply's layout."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = raw.decode("utf-8", "replace")
    usage = body.get("usage") if isinstance(body, dict) else None
    return _encoded({"id": _request_id(), "custom_id": custom_id,
                     "response": {"status_code": status, "request_id": request_id,
                                  "body": body}, "error": None}), \
        usage if isinstance(usage, dict) else None


def error_line(custom_id: str | None, code: str, message: str) -> bytes:
    return _encoded({"id": _request_id(), "custom_id": custom_id, "response": None,
                     "error": {"code": code, "message": message}})


def _request_id() -> str:
    return "batch_req_" + secrets.token_hex(12)


def _encoded(line: dict) -> bytes:
    return _compact(line).encode("utf-8", "replace") + b"\n"


class LineReader:
    """The input file's lines from ``offset``: ``(line_no, bytes, next offset)`` each,
    blank lines skipped (but counted)."""

    def __init__(self, path: Path, offset: int, line_no: int) -> None:
        self.path, self.offset, self.line_no = Path(path), offset, line_no
        self._ready: list[tuple[int, bytes, int]] = []
        self._done = False

    async def next(self) -> tuple[int, bytes, int] | None:
        if not self._ready and not self._done:
            self._ready = await asyncio.to_thread(self._read)
            self._ready.reverse()
            self._done = len(self._ready) < READ_LINES  # the end of the file was reached
        return self._ready.pop() if self._ready else None

    def _read(self) -> list[tuple[int, bytes, int]]:
        found: list[tuple[int, bytes, int]] = []
        with open(self.path, "rb") as source:
            source.seek(self.offset)
            while len(found) < READ_LINES:
                raw = source.readline()
                if not raw:
                    break
                self.offset += len(raw)
                self.line_no += 1
                if raw.strip():
                    found.append((self.line_no, raw, self.offset))
        return found


def count_lines(path: Path) -> int:
    """Non-blank lines of ``path`` (blocking)."""
    with open(path, "rb") as source:
        return sum(1 for raw in source if raw.strip())


def seen_ids(path: Path, offset: int) -> set[str]:
    """The ``custom_id``s of the lines before ``offset`` (blocking): what a resumed batch
    checks its remaining lines against."""
    seen: set[str] = set()
    with open(path, "rb") as source:
        while source.tell() < offset and (raw := source.readline()):
            try:
                custom_id = json.loads(raw).get("custom_id")
            except (ValueError, AttributeError, RecursionError):
                continue
            if isinstance(custom_id, str):
                seen.add(custom_id)
    return seen


def append(path: Path, data: bytes, expected_size: int) -> int:
    """Append ``data`` to ``path`` at ``expected_size`` (blocking), dropping whatever a crash
    left past it; the new size."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        if out.seek(0, os.SEEK_END) != expected_size:
            out.truncate(expected_size)
            out.seek(expected_size)
        out.write(data)
    return expected_size + len(data)

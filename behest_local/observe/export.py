"""Exporting exchange records: JSON Lines, HAR 1.2, and a replayable curl command.

``save`` writes an export file (``behest-local traces export --out``, the TUI's ``x``) mode
0600, like everything in the state dir (``home.py``).

Input is always records (observe/record.py), already redacted, so nothing here can leak a
credential; copy-as-curl goes one step further and puts ``$BEHEST_API_KEY`` where the
credential headers were, so the command runs as is in a shell that has the key.

HAR follows the HAR 1.2 spec (http://www.softwareishard.com/blog/har-12-spec/): every
required field is present (``log.version``/``creator``/``entries``; per entry
``startedDateTime``, ``time``, ``request``, ``response``, ``cache``, ``timings``), sizes
we do not know are ``-1`` as the spec allows, and ``time`` equals the sum of the
timings. A stream's ``content.text`` is its events re-framed as SSE text, which is what
browser devtools show for an ``text/event-stream`` response imported from a HAR. Media is
never written as bytes (exchange/media.py): an audio or image response has no ``text``
and its summary as ``comment``, a form is ``postData.params`` (a file's as ``comment``).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import IO

from behest_local import __version__
from behest_local.exchange.scrub import SECRET_HEADERS
from behest_local.home import open_private

HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding",
                         "keep-alive", "accept-encoding"})
KEY_VARIABLE = "$BEHEST_API_KEY"


def write_jsonl(records: Iterable[dict], out: IO[str]) -> int:
    n = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += 1
    return n


def _header(record: dict, side: str, name: str) -> str | None:
    for key, value in record[side]["headers"]:
        if key.lower() == name:
            return value
    return None


def base_url(record: dict) -> str:
    host = _header(record, "request", "host") or "127.0.0.1:7717"
    return f"http://{host}"


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def sse_text(record: dict) -> str:
    """A stream's events as SSE text again (redacted data, original framing rules)."""
    out = []
    for event in record["events"]:
        prefix = "" if event["event"] == "message" else f"event: {event['event']}\n"
        out.append(prefix + "".join(f"data: {line}\n" for line in event["data"].split("\n")))
    return "\n".join(out) + ("\n" if out else "")


def har_entry(record: dict) -> dict:
    duration_ms = max(0.0, (record["duration"] or 0.0) * 1000)
    wait_ms = min(duration_ms, (record["ttft"] or record["duration"] or 0.0) * 1000)
    request_type = _header(record, "request", "content-type") or "application/json"
    response_type = _header(record, "response", "content-type") or "application/octet-stream"
    request = {
        "method": record["method"], "url": base_url(record) + record["path"],
        "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": [{"name": k, "value": v} for k, v in record["request"]["headers"]],
        "queryString": [], "headersSize": -1,
        # HAR 1.2: 0 for no body, -1 when unknown (a body the gateway never read).
        "bodySize": record["request"]["body_size"] or
        (0 if record["request"]["body_note"] in (None, "no body") else -1),
    }
    sent_media = record["request"].get("media")
    if sent_media is not None:  # a form or file: its parts, never its bytes (HAR allows
        # ``params`` for a form, ``comment`` for the rest)
        request["postData"] = {"mimeType": request_type, "comment": sent_media["summary"],
                               "params": [_param(part) for part in sent_media["parts"]]}
    elif record["request"]["body"] is not None:
        request["postData"] = {"mimeType": request_type, "params": [],
                               "text": record["request"]["body"]}
    body = sse_text(record) if record["events"] else (record["response"]["body"] or "")
    # The size sent, not of the text shown (a summarised or redacted body differs).
    content = {"size": record["bytes_sent"] or record["response"]["body_size"]
               or len(body.encode()), "mimeType": response_type, "text": body}
    got_media = record["response"].get("media")
    if got_media is not None:  # audio or an image: ``text`` left out, as HAR 1.2 allows
        content = {"size": record["bytes_sent"] or record["response"]["body_size"] or -1,
                   "mimeType": response_type, "comment": got_media["summary"]}
    status = record["response"]["status"] or record["status"] or 0
    entry = {
        "startedDateTime": _iso(record["wall_time"]),
        "time": round(duration_ms, 3),
        "request": request,
        "response": {
            "status": status, "statusText": _reason(status), "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in record["response"]["headers"]],
            "content": content,
            "redirectURL": "", "headersSize": -1,
            "bodySize": record["bytes_sent"] or record["response"]["body_size"] or -1,
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0,
                    "wait": round(wait_ms, 3), "receive": round(duration_ms - wait_ms, 3)},
        "_behest": {"id": record["id"], "project": record["project"],
                    "dialect": record.get("dialect", "openai"),
                    "model": record["model"], "provider": record["provider"],
                    "stream": record["stream"], "chunks": record["chunks"],
                    "prompt_tokens": record["prompt_tokens"],
                    "completion_tokens": record["completion_tokens"], "cost": record["cost"],
                    "departures": record["timeline"]["departures"]},
    }
    if record.get("error"):
        entry["comment"] = record["error"]
    return entry


def _param(part: dict) -> dict:
    """A form part as a HAR ``param``: a field's value, or a file's name, type and summary."""
    if part["filename"] is None:
        return {"name": part["name"], "value": part["text"]}
    param = {"name": part["name"], "fileName": part["filename"], "comment": part["text"]}
    if part["content_type"]:
        param["contentType"] = part["content_type"]
    return param


def to_har(records: Iterable[dict]) -> dict:
    return {"log": {"version": "1.2",
                    "creator": {"name": "behest-local", "version": __version__},
                    "pages": [],
                    "entries": [har_entry(r) for r in records]}}


def write_har(records: Iterable[dict], out: IO[str]) -> int:
    har = to_har(records)
    json.dump(har, out, ensure_ascii=False, indent=1)
    out.write("\n")
    return len(har["log"]["entries"])


WRITERS = {"har": write_har, "jsonl": write_jsonl}


def save(records: Iterable[dict], path: str | os.PathLike, format: str = "har") -> int:
    """Write ``records`` to the file ``path`` as ``har`` or ``jsonl``, mode 0600 (an export
    holds prompts and replies); how many were written."""
    with open_private(path) as out:
        return WRITERS[format](records, out)


def curl_command(record: dict) -> str:
    """A curl command that sends the same request, the credential as ``$BEHEST_API_KEY``."""
    parts = ["curl"]
    if record["stream"]:
        parts.append("-N")  # print events as they arrive
    if record["method"] not in ("GET", "POST") or (record["method"] == "GET"
                                                     and record["request"]["body"]):
        parts += ["-X", record["method"]]
    parts.append(shlex.quote(base_url(record) + record["path"]))
    for name, value in record["request"]["headers"]:
        lower = name.lower()
        if lower in HOP_HEADERS or lower.startswith("x-stainless"):
            continue
        if lower == "content-type" and value.startswith("multipart/"):
            continue  # curl -F writes its own, with its own boundary
        if lower in ("cookie", "set-cookie"):
            continue
        if lower in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            scheme = scheme + " " if scheme.isalnum() else ""
            # Double quotes so the shell expands the variable. ``name`` matched the fixed
            # SECRET_HEADERS set and ``scheme`` is alphanumeric: nothing else can expand.
            parts += ["-H", f'"{name}: {scheme}{KEY_VARIABLE}"']
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = record["request"]["body"]
    sent_media = record["request"].get("media")
    if sent_media is not None and sent_media["parts"]:  # a form: its fields, its files by name
        for part in sent_media["parts"]:
            if part["filename"] is None:
                parts += ["-F", shlex.quote(f"{part['name']}={part['text']}")]
            else:
                kind = f";type={part['content_type']}" if part["content_type"] else ""
                parts += ["-F", shlex.quote(f"{part['name']}=@{part['filename']}{kind}")]
        body = None
    elif sent_media is not None:  # a file sent as the body: by its (unknown) name
        parts += ["--data-binary", "@FILE"]
        body = None
    if body is not None:
        try:
            body = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            pass
        parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


def _reason(status: int) -> str:
    from http import HTTPStatus

    if status == 499:
        return "Client Closed Request"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

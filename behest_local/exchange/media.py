"""Media in a trace: an image, audio or uploaded file is shown as its type and size.

A speech response, an image's base64, an uploaded recording: none of it is readable, and
kilobytes of it would bury the rest of a trace (the TUI's detail, the trace database,
JSONL and HAR exports). What is recorded of a body (exchange/capture.py) is decided here,
once, for every reader:

* a media body (``image/*``, ``audio/*``, ``video/*``, ``application/octet-stream``,
  PDF) becomes one line, ``describe``: ``audio/mpeg, 48.2 kB, 3.1 s``,
  ``image/png 1024×1024, 1.2 MB`` (the header's facts: exchange/media_sniff.py);
* a base64 media value inside JSON or SSE (``b64_json``, a speech delta's ``audio``, a
  ``data:image/png;base64,…`` URL) becomes ``<image/png 1024×1024, 1.2 MB>`` in place,
  the JSON still valid: ``summarise_fields``;
* a ``multipart/form-data`` body becomes its parts (``Part``): text fields as text, files
  as name, file name and ``describe``'s line: ``form`` and ``form_text``.

Summaries are made when a body is read (``record.build_record``, off the request's path)
from what the capture kept, except for what the cap on kept bytes would cut short: a body
longer than that is summarised as it is recorded, and a multipart upload is described by
the route that read it (``server/body.note_part``), which is the only one to see it whole.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import NamedTuple

from behest_local.exchange.media_sniff import PCM_BYTES_PER_SECOND, sniff

MIN_BASE64 = 256
"""Characters a base64 value needs to be summarised: shorter ones (ids, hashes) are shown."""
MEDIA_KEYS = frozenset({b"b64_json", b"audio", b"data", b"image", b"partial_image_b64",
                        b"file_data", b"image_base64"})
"""JSON keys whose long base64 is media even when its header is not one ``sniff`` knows
(a speech delta's raw PCM); under other keys only recognised media is summarised, so a
base64 embedding stays as it was sent."""
_SNIFF_CHARS = 16_384
"""Base64 characters decoded to read a header: 12 kB, past a JPEG's usual EXIF block."""
HEAD_BYTES = 16_384
"""Bytes of a file kept to read its header from (``describe``)."""
FIELD_TEXT = 2_000
"""Characters of a form's text field shown."""
MEDIA_TYPES = ("image/", "audio/", "video/")
BINARY_TYPES = frozenset({"application/octet-stream", "application/pdf"})

# Where a long base64 value may start: after ``"key": "`` or in a data URL. Only its first
# ``MIN_BASE64`` characters are matched by the regex; its end is found with ``find``, its
# head decoded and its tail checked with ``translate``: a regex run (or a check) over a
# megabyte of base64 would hold the thread for 2 to 15 ms.
_KEYED = re.compile(rb'"([A-Za-z_][\w-]*)"\s*:\s*"(?=[A-Za-z0-9+/]{%d})' % MIN_BASE64)
_DATA_URL = re.compile(rb"data:([\w.+-]+/[\w.+-]+);base64,(?=[A-Za-z0-9+/]{%d})"
                       % MIN_BASE64)
_KEY_ROOM = 1024
"""Bytes a match may reach past a limited window for its key and quotes."""
_TAIL = 4096
"""Characters at a long value's end checked to be base64 too (its head is decoded)."""
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class Part(NamedTuple):
    """One part of a form, as shown: ``text`` is a field's value or a file's ``describe``."""

    name: str
    filename: str | None
    content_type: str | None
    text: str


def bare_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_media(content_type: str | None) -> bool:
    """True for a body shown as ``describe``'s line rather than as text."""
    bare = bare_type(content_type)
    return bare.startswith(MEDIA_TYPES) or bare in BINARY_TYPES


def human_size(n: int) -> str:
    """Bytes as people read them, in decimal units: ``512 B``, ``48.2 kB``, ``1.2 MB``."""
    if n < 1000:
        return f"{n} B"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 999.95 or unit == "GB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def describe(content_type: str | None, head: bytes, size: int, *, cut: bool = False) -> str:
    """One line for a media file of ``size`` bytes that starts with ``head``: its type (the
    header's, else ``content_type``), pixel size, byte size and duration where known.
    ``cut``: ``size`` is only a lower bound (the recording cap cut the value short)."""
    found = sniff(head, None if cut else size)
    declared = bare_type(content_type)
    media_type = found.media_type if found else (declared or "application/octet-stream")
    seconds = found.seconds if found else None
    if found is None and declared == "audio/pcm" and not cut:
        seconds = size / PCM_BYTES_PER_SECOND
    line = media_type
    if found is not None and found.width and found.height:
        line += f" {found.width}×{found.height}"
    line += f", {'≥ ' if cut else ''}{human_size(size)}"
    if seconds is not None:
        line += f", {seconds:.1f} s"
    return line


def describe_base64(value: bytes | str | memoryview, content_type: str | None = None, *,
                    cut: bool = False) -> str | None:
    """``describe``'s line for base64 ``value`` (without its ``<…>``), or None when its
    head is not base64. Only the head is copied: ``value`` may be megabytes."""
    text = value.encode("ascii", "replace") if isinstance(value, str) else value
    length = len(text)
    length -= bytes(text[-2:]).count(b"=")
    chars = min(length, _SNIFF_CHARS) // 4 * 4
    try:
        head = base64.b64decode(bytes(text[:chars]), validate=True)
    except (binascii.Error, ValueError):
        return None
    return describe(content_type, head, length * 3 // 4, cut=cut)


def summarise_fields(raw: bytes, *, cut: bool = False, limit: int | None = None) -> bytes:
    """``raw`` (JSON or SSE text) with each long base64 media value replaced by ``<its
    describe line>``; ``raw`` itself when it holds none. ``cut``: ``raw`` is the start of a
    longer body, so a value running to its end was cut short. ``limit``: only the first
    ``limit`` bytes of the result are wanted (a capture's cap), so only values starting
    before it are looked for and the rest is not copied: the work is bounded by ``limit``
    and a ``find`` per value, however large ``raw`` is."""
    if len(raw) < MIN_BASE64:
        return raw
    window = len(raw) if limit is None else min(limit, len(raw))
    pieces: list[bytes] = []
    shown = done = pos = 0
    # ";" first: a one-byte scan (memchr) where base64 holds none; the word scan is slow.
    url = raw.find(b";", 0, window) != -1 and raw.find(b";base64,", 0, window) != -1
    starts = _either if url else _KEYED
    # A match starts before the window; its look-ahead and a key may reach past it.
    while pos < window and (match := starts.search(
            raw, pos, window + MIN_BASE64 + _KEY_ROOM)) is not None:
        start = pos = match.end()
        if start >= window:
            break  # its value would start past the wanted part of the result
        end = raw.find(b'"', start)
        at_end = end == -1
        if at_end:
            end = len(raw)
        value = memoryview(raw)[start:end]
        if bytes(value[-_TAIL:]).rstrip(b"=").translate(None, _ALPHABET):
            continue  # not base64 through to its end: text, left as sent
        if match.re is _KEYED:  # "key": "base64"
            if at_end and not cut:
                continue  # no closing quote, not at a cut: not a JSON string
            line = describe_base64(value, cut=at_end)
            if line is None or (match.group(1) not in MEDIA_KEYS
                                and line.startswith("application/octet-stream")):
                continue
        else:  # a data URL: the type it declares is the fallback
            line = describe_base64(value, match.group(1).decode(), cut=cut and at_end)
            if line is None:
                continue
        pieces += (raw[done:start], b"<%s>" % line.encode())
        shown += start - done + len(pieces[-1])
        done = pos = end
        window = len(raw) if limit is None else min(len(raw), done + max(0, limit - shown))
    if not pieces:
        return raw
    pieces.append(raw[done:] if limit is None else raw[done:done + max(0, limit - shown)])
    return b"".join(pieces)


class _Either:
    """``_KEYED`` or ``_DATA_URL``, whichever matches first (one regex of both alternatives
    would scan prose four times slower)."""

    @staticmethod
    def search(raw: bytes, pos: int, endpos: int) -> re.Match | None:
        keyed, url = _KEYED.search(raw, pos, endpos), _DATA_URL.search(raw, pos, endpos)
        if keyed is None or (url is not None and url.start() < keyed.start()):
            return url
        return keyed


_either = _Either()


def summarise_body(raw: bytes, content_type: str | None, size: int) -> str | None:
    """The line shown instead of a body of ``content_type`` (``size`` bytes in all, ``raw``
    its start), or None when it is shown as text (JSON's base64 aside:
    ``summarise_fields``)."""
    if is_media(content_type):
        return describe(content_type, raw, size, cut=len(raw) < size)
    if bare_type(content_type) == "multipart/form-data":
        parts = form(raw, content_type, size)
        return None if parts is None else form_text(parts)
    return None


def form_text(parts: Iterable[Part]) -> str:
    """A form as shown: one ``name: value`` line per part (a file: its name and line)."""
    lines = []
    for part in parts:
        label = part.name if part.filename is None else f"{part.name} ({part.filename})"
        lines.append(f"{label}: {part.text}")
    return "\n".join(lines)


def file_part(name: str, filename: str | None, content_type: str | None, head: bytes,
              size: int) -> Part:
    """The ``Part`` of an uploaded file (``head`` its first bytes, ``size`` its length)."""
    return Part(name, filename, bare_type(content_type) or None,
                describe(content_type, head, size))


def field_part(name: str, value: str) -> Part:
    """The ``Part`` of a form's text field (long values cut to ``FIELD_TEXT``)."""
    shown = value if len(value) <= FIELD_TEXT else value[:FIELD_TEXT] + "…"
    return Part(name, None, None, shown)


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_DISPOSITION = re.compile(rb'(\w+)="([^"]*)"')


def form(raw: bytes, content_type: str | None, size: int) -> list[Part] | None:
    """The parts of a ``multipart/form-data`` body ``raw`` (the start of ``size`` bytes), or
    None when it does not parse. A part the cap cut short is sized ``≥``."""
    found = _BOUNDARY.search(content_type or "")
    if found is None:
        return None
    delimiter = b"--" + found.group(1).encode("latin-1")
    pieces = raw.split(delimiter)
    if len(pieces) < 2:
        return None
    parts = []
    for index, piece in enumerate(pieces[1:], 1):
        if piece.startswith(b"--"):
            break  # the closing delimiter
        last = index == len(pieces) - 1
        headers, sep, body = piece.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            break
        if not last:
            body = body.removesuffix(b"\r\n")
        names = dict(_DISPOSITION.findall(headers))
        ctype = next((line.split(b":", 1)[1].strip().decode("latin-1")
                      for line in headers.split(b"\r\n")
                      if line.lower().startswith(b"content-type:")), None)
        name = names.get(b"name", b"").decode("utf-8", "replace")
        shortened = last and len(raw) < size
        if b"filename" in names:
            parts.append(Part(name, names[b"filename"].decode("utf-8", "replace"),
                              bare_type(ctype) or None,
                              describe(ctype, body, len(body), cut=shortened)))
        else:
            parts.append(field_part(name, body.decode("utf-8", "replace")))
    return parts


Summary = tuple[str, tuple[tuple[str, str | None, str | None, str], ...]]
"""A media body as a capture keeps it: its line and, for a form, its parts (``Part`` as
plain tuples, which cross to the trace writer process)."""


def summary(parts: list[Part] | None, line: str | None = None) -> Summary:
    """A form's ``parts`` (or a media body's ``line``) as a capture keeps them."""
    plain = tuple(tuple(part) for part in parts or ())
    return (form_text(parts or ()) if line is None else line, plain)  # type: ignore[return-value]


def kept(raw: bytes, content_type: str | None, limit: int
         ) -> tuple[bytes | None, Summary | None]:
    """What a capture keeps of a whole body: its summary and no bytes (media, a form), or
    its first ``limit`` bytes, its base64 media summarised first when the cut would halve
    a value (a body past ``limit``; one within it is summarised when read)."""
    if bare_type(content_type) == "multipart/form-data":
        parts = form(raw, content_type, len(raw))
        if parts is not None:
            return None, summary(parts)
    elif is_media(content_type):
        return None, summary(None, describe(content_type, raw, len(raw)))
    if len(raw) > limit:
        raw = summarise_fields(raw, limit=limit)
    return bytes(raw[:limit]), None

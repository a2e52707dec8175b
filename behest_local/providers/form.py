"""A multipart/form-data body to send upstream: the one re-encoder of the relayed uploads.

The server reads a client's upload (``/v1/audio/transcriptions`` and ``…/translations``,
``/v1/images/edits`` and ``…/variations``) into a ``Form``: its parts in the order they
came, text fields as text (a repeated one, ``timestamp_granularities[]`` or ``include[]``,
once per value), files with their field name, filename, content type and bytes. When the
request is relayed, ``openai_compat/transport`` turns the ``Form`` into the request body
with ``encode``, and the providers' own HTTP client (``http.HttpPool``) sends those bytes
as it sends a JSON body.

Why not aiohttp's ``MultipartWriter``: the upstream client here is not aiohttp's (http.py
says why) and takes a body as bytes, which the writer only yields through an async
stream. The encoding is small and fixed by the HTML standard's form-data rules, which
browsers and httpx (the openai SDK's client) follow: in a ``name`` or ``filename``, ``"``
becomes ``%22``, ``\\`` is doubled, and control characters are percent-encoded; the rest
is sent as UTF-8. What aiohttp parsed from the client is re-sent as such, so a filename
arrives upstream as the client sent it. Pure, no I/O.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_ESCAPE = re.compile("|".join(re.escape(c) for c in _ESCAPES))


@dataclass(frozen=True, slots=True)
class FilePart:
    """One uploaded file: its form field, filename, content type and bytes."""

    name: str
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(slots=True)
class Form:
    """A form's parts in the order they were read: ``(name, text)`` or a ``FilePart``."""

    parts: list[tuple[str, str] | FilePart] = field(default_factory=list)

    def add_field(self, name: str, value: str) -> None:
        self.parts.append((name, value))

    def add_file(self, name: str, filename: str, content_type: str, data: bytes) -> None:
        self.parts.append(FilePart(name, filename, content_type, data))

    def value(self, name: str) -> str | None:
        """The first text value of ``name``, or None."""
        return next((p[1] for p in self.parts if isinstance(p, tuple) and p[0] == name), None)

    def set_value(self, name: str, value: str) -> None:
        """Replace the first text value of ``name`` (a guarded prompt), where it was."""
        for i, part in enumerate(self.parts):
            if isinstance(part, tuple) and part[0] == name:
                self.parts[i] = (name, value)
                return

    def streams(self) -> bool:
        """Whether the form asks for a streamed answer (``stream=true``)."""
        return (self.value("stream") or "").lower() == "true"


def encode(form: Form, boundary: str | None = None) -> tuple[str, bytes]:
    """``(content_type, body)``: the form as multipart/form-data (RFC 7578).

    The boundary is 32 random hex digits unless given: a file's bytes cannot be checked
    for it without a pass over them, and the odds of a random match are nil."""
    boundary = boundary or "behest-local-" + secrets.token_hex(16)
    dash = b"--" + boundary.encode("ascii")
    pieces: list[bytes] = []
    for part in form.parts:
        if isinstance(part, FilePart):
            head = (f'Content-Disposition: form-data; name="{_quoted(part.name)}"; '
                    f'filename="{_quoted(part.filename)}"\r\n'
                    f"Content-Type: {part.content_type}\r\n")
            data = part.data
        else:
            head = f'Content-Disposition: form-data; name="{_quoted(part[0])}"\r\n'
            data = part[1].encode("utf-8")
        pieces += (dash, b"\r\n", head.encode("utf-8"), b"\r\n", data, b"\r\n")
    pieces += (dash, b"--\r\n")
    return f"multipart/form-data; boundary={boundary}", b"".join(pieces)


def _quoted(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], text)

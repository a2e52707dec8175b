"""Text from clients made safe to print: the one escaping helper for logs and the TUI.

A request's path is percent-decoded (``/v1/x%0aFORGED`` holds a real newline, ``%1b[31m``
a real ESC), header values may hold bytes that are not UTF-8 (aiohttp decodes them with
``surrogateescape``: lone surrogates, which a UTF-8 stream cannot even encode), and ids,
model names and error messages are whatever the client sent. Written as they are, a
newline forges a log line, ESC and the C1 controls drive the terminal (colours, the
title, cursor moves, OSC 8 links, a clipboard write), bidi overrides reorder what is
shown, and a surrogate raises ``UnicodeEncodeError`` in the writer.

``printable`` escapes exactly those characters, Python-style (``\\n``, ``\\x1b``,
``\\u202e``, ``\\udcff``), and returns anything else unchanged. Every place that shows a
client's text calls it: the headless request line (``observe/headless.py``), log calls
that name a path, host or origin, the TUI's cells, title, detail tabs and toasts.
``PrintableFormatter`` is the net under the standard ``logging`` handlers: whatever a
log record says (a traceback quoting a header, say), no control character reaches the
terminal or log file; newlines there stay, as tracebacks need them, so the call sites
that log client text escape it themselves.

Cost: the headless logger calls it on every request line, so the common case is a
fast path: an ASCII line is checked with one ``bytes.translate`` (~0.3 µs for a
request line, a third of ``str.isprintable``'s per-character lookups), and the regex
runs only when something needs escaping.
"""

from __future__ import annotations

import logging
import re

# C0 and C1 controls, DEL, line/paragraph separators, bidi controls, lone surrogates.
# Not every character ``str.isprintable`` rejects: non-ASCII spaces, zero-width joiners
# (emoji sequences) and the like are harmless to show and stay as they are.
_UNSAFE = ("\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
           "\ud800-\udfff")
_ANY = re.compile(f"[{_UNSAFE}]")
_BUT_NEWLINE = re.compile(f"[{_UNSAFE.replace(chr(0) + '-' + chr(0x1f), '')}"
                          "\x00-\x09\x0b-\x1f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ASCII_UNSAFE = bytes(range(0x20)) + b"\x7f"


def _escape(match: re.Match) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_utf8_text(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8: False when it holds a lone surrogate (a JSON
    ``\\ud800`` escape without its pair, or a header byte aiohttp could not decode)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def shows_as_is(text: str) -> bool:
    """Whether ``printable`` would leave ``text`` unchanged (nothing to escape): the test
    for names a user picks (a project's name), which are refused rather than escaped."""
    if text.isascii():  # O(1): CPython knows the widest character of a str
        raw = text.encode("ascii")
        return len(raw.translate(None, _ASCII_UNSAFE)) == len(raw)
    return text.isprintable() or _ANY.search(text) is None


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with its control, bidi and undecodable characters escaped (see the module
    docstring); ``keep_newlines`` leaves ``\\n`` as it is (multi-line log records)."""
    if shows_as_is(text):
        return text
    return (_BUT_NEWLINE if keep_newlines else _ANY).sub(_escape, text)


class PrintableFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose output holds no control character but newlines."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), keep_newlines=True)

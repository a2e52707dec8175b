"""Decoding a large JSON request body without holding the event loop (``body.read_json``).

A body of up to ``INLINE_BYTES`` is decoded on the loop by ``json``'s C scanner: at most
a few milliseconds whatever it holds. A larger one (up to ``server.max_body_bytes``, 20 MiB
by default) is decoded, and checked, in a worker thread. Two things keep that thread from
stalling the loop anyway, since C code holds the GIL until it returns:

* a body with few JSON values (a long prompt is one long string) goes to the C scanner in
  one call: strings decode at ~1 ms per MiB;
* a body that may hold many values (``_MAX_C_VALUES`` is judged from its count of ``,``
  ``:`` ``[`` ``{``, an upper bound) is walked container by container here, each string,
  number or literal decoded by the C scanner. The thread then runs Python bytecode, which
  hands the GIL to the loop every few milliseconds; in one C call, seven million empty
  arrays (a 20 MiB body) held it for 1.5 s.

Both decode exactly what ``json`` decodes and fail with the same ``JSONDecodeError``
messages; nesting deeper than ``MAX_DEPTH`` fails as ``json``'s recursion limit does. The
bytes are made text, and counted, a slice at a time for the same reason.

Freeing is work too: dropping seven million decoded arrays at once is one 0.3 s cascade of
deallocations. ``dismantle`` takes a decoded body apart a slice at a time, beside the loop,
once the request is over (``body.release_body``).
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from itertools import islice
from typing import Any

INLINE_BYTES = 64 * 1024
"""Bodies up to this size are decoded and checked on the event loop."""
MAX_DEPTH = 1000
"""Containers nested deeper than this fail, as they would in ``json``'s C scanner."""
_MAX_C_VALUES = 20_000
"""Bodies that may hold more values than this are walked in Python (see the docstring)."""

_WS = re.compile(r"[ \t\n\r]*")
_SLICE = 1 << 20
"""Characters decoded or counted, and (``_ITEMS``) items freed, per C call."""
_ITEMS = 1 << 15


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: ``json.loads(raw, parse_constant=…)`` would build a decoder (and its
# scanner) on every request. Stateless, so sharing it between threads is safe.
DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_scan_once = DECODER.scan_once
_scan_string = json.decoder.scanstring


def text_of(raw: bytes, encoding: str) -> str:
    """``raw.decode(encoding)``, a slice at a time (strict: encoded surrogates are errors)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    parts = [decoder.decode(raw[i:i + _SLICE]) for i in range(0, len(raw), _SLICE)]
    parts.append(decoder.decode(b"", final=True))
    return "".join(parts)


def decode_large(text: str) -> Any:
    """``text`` decoded as ``DECODER.decode`` would, never in one long C call."""
    upper_bound = sum(part.count(",") + part.count(":") + part.count("[") + part.count("{")
                      for part in (text[i:i + _SLICE] for i in range(0, len(text), _SLICE)))
    if upper_bound <= _MAX_C_VALUES:
        return DECODER.decode(text)
    return _walk(text)


def _walk(s: str) -> Any:
    """Decode ``s`` one value at a time: containers here, leaves by the C scanner."""
    ws = _WS.match
    stack: list[list] = []  # [container, pending key (objects) or None (arrays)]
    idx = ws(s, 0).end()
    while True:
        # A value starts at idx.
        char = s[idx:idx + 1]
        if char == "{" or char == "[":
            idx = ws(s, idx + 1).end()
            closing = "}" if char == "{" else "]"
            if s[idx:idx + 1] == closing:
                value, idx = ({} if char == "{" else []), idx + 1
            else:
                if len(stack) >= MAX_DEPTH:
                    raise RecursionError("maximum recursion depth exceeded while decoding a "
                                         "JSON document")
                if char == "{":
                    key, idx = _member_key(s, idx)
                    stack.append([{}, key])
                else:
                    stack.append([[], None])
                continue
        else:
            try:
                value, idx = _scan_once(s, idx)
            except StopIteration as stop:
                raise json.JSONDecodeError("Expecting value", s, stop.value) from None
        # A value ended at idx: add it to its container, then close what it completes.
        while True:
            if not stack:
                end = ws(s, idx).end()
                if end != len(s):
                    raise json.JSONDecodeError("Extra data", s, end)
                return value
            frame = stack[-1]
            container = frame[0]
            if type(container) is dict:
                container[frame[1]] = value
            else:
                container.append(value)
            idx = ws(s, idx).end()
            char = s[idx:idx + 1]
            if char == ",":
                idx = ws(s, idx + 1).end()
                if type(container) is dict:
                    frame[1], idx = _member_key(s, idx)
                break  # the next value of this container
            if char == ("}" if type(container) is dict else "]"):
                stack.pop()
                value, idx = container, idx + 1
                continue
            raise json.JSONDecodeError("Expecting ',' delimiter", s, idx)


def _member_key(s: str, idx: int) -> tuple[str, int]:
    """An object member's key at ``idx`` and where its value starts."""
    if s[idx:idx + 1] != '"':
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", s, idx)
    key, idx = _scan_string(s, idx + 1, True)
    idx = _WS.match(s, idx).end()
    if s[idx:idx + 1] != ":":
        raise json.JSONDecodeError("Expecting ':' delimiter", s, idx)
    return key, _WS.match(s, idx + 1).end()


def dismantle(values: list) -> None:
    """Take the decoded JSON ``values`` apart, a slice of a container at a time.

    ``values`` is handed over: the caller keeps no reference to it. A container something
    else still refers to (a thread's stored copy may share a message's ``tool_calls``) is
    left whole for its other owner to free.
    """
    stack: list = [values]
    del values
    while stack:
        item = stack.pop()
        # References: ``item`` and getrefcount's own argument; any more, and it is shared.
        if sys.getrefcount(item) > 2:
            continue
        kind = type(item)
        if kind is dict:
            while item:
                part = [item.pop(key) for key in list(islice(item, _ITEMS))]
                stack.extend(x for x in part if type(x) in _CONTAINERS and x)
                del part
        elif kind is list:
            while item:
                part = item[-_ITEMS:]
                del item[-_ITEMS:]
                stack.extend(x for x in part if type(x) in _CONTAINERS and x)
                del part
        elif kind is tuple:
            stack.extend(x for x in item if type(x) in _CONTAINERS and x)
        del item


_CONTAINERS = (dict, list, tuple)

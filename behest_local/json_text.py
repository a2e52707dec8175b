"""JSON text of large values, made a piece at a time: ``encode_body`` and ``encoded``.

A leaf utility: it imports nothing of the gateway.

One ``json.dumps`` of a 20 MiB string, or of 2,048 embeddings (66 MB of floats), is one
C call that holds the GIL for 60 ms to 5 s: on the event loop, or in a worker thread
beside it, every other client waits. Here each container is walked in Python and each
piece is encoded by its own short call (a long string a MiB at a time, a list of numbers
at once), so a worker thread making the text lets the loop in between pieces
(``offload.off_loop``). The text is exactly ``json.dumps``' (compact separators for
``encode_body``, the default ones for ``encoded``, non-ASCII as is).
"""

from __future__ import annotations

import json
from typing import Any

_SLICE = 1 << 20
"""Characters of a long string encoded per call."""
_SCALARS = (str, int, float, bool, type(None))


def encoded(value: Any, *, compact: bool = False) -> str:
    """``json.dumps(value, ensure_ascii=False)`` (``separators=(",", ":")`` if ``compact``)."""
    return "".join(_pieces(value, "," if compact else ", ", ":" if compact else ": "))


def encode_body(value: Any) -> bytearray:
    """``value`` as a compact JSON body in UTF-8, without one large copy at the end: the
    pieces are put into one buffer of the right size (a ``bytearray``, which aiohttp sends
    as it is)."""
    return joined([piece.encode() for piece in _pieces(value, ",", ":")])


def joined(chunks: list[bytes]) -> bytearray:
    """``b"".join(chunks)``, copied chunk by chunk into one buffer of the right size: no
    single copy of tens of MiB."""
    body = bytearray(sum(map(len, chunks)))
    at = 0
    for chunk in chunks:
        body[at:at + len(chunk)] = chunk
        at += len(chunk)
    return body


def is_small(value: Any, *, values: int = 1024, chars: int = 64 * 1024) -> bool:
    """Whether ``value`` holds at most ``values`` JSON values and ``chars`` characters of
    strings, found by a walk that stops as soon as it is not: small enough to encode in
    one ``json.dumps`` call (a millisecond or so) wherever it is."""
    stack, seen, text = [value], 0, 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > values:
            return False
        if isinstance(item, str):
            text += len(item)
            if text > chars:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return True


class EncodedJSON(dict):
    """A JSON object that comes with its body already made (``encode_body``, in a worker
    thread): ``server/render.json_response`` sends ``body`` instead of encoding it."""

    __slots__ = ("body",)

    def __init__(self, obj: dict, body: bytearray) -> None:
        dict.__init__(self, obj)
        self.body = body


def _pieces(value: Any, comma: str, colon: str):
    if isinstance(value, str):
        if len(value) <= _SLICE:
            yield json.dumps(value, ensure_ascii=False)
        else:
            yield '"'
            for start in range(0, len(value), _SLICE):
                yield json.dumps(value[start:start + _SLICE], ensure_ascii=False)[1:-1]
            yield '"'
    elif isinstance(value, dict) and all(type(key) is str for key in value):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield f"{comma if index else ''}{json.dumps(key, ensure_ascii=False)}{colon}"
            yield from _pieces(item, comma, colon)
        yield "}"
    elif isinstance(value, list) and not all(type(item) in _SCALARS and type(item) is not str
                                             for item in value):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield comma
            yield from _pieces(item, comma, colon)
        yield "]"
    else:  # a number, a literal, or a list of them (an embedding): one short call
        yield json.dumps(value, ensure_ascii=False, separators=(comma, colon))

"""How much of a request the emulated model reads: big inputs are sampled, never walked whole.

The emulated model composes its reply on the event loop, and the prompt readers it uses
(cue detection, intent regexes, schema and key finding, seeding) cost time per character
read. So ``compose`` reads a bounded *view* of the request, made here in one walk:

* a string longer than ``TEXT_CHARS`` keeps its head and tail (an instruction usually opens
  a pasted document and the question closes it), joined by ``GAP``;
* a list longer than ``LIST_ITEMS`` keeps its first ``LIST_HEAD`` and last items (a long
  conversation keeps its system prompt and its latest turns), a mapping its first
  ``LIST_ITEMS`` keys;
* at most ``NODES`` values and ``CHARS`` characters in all, the latest list items served
  first; what does not fit becomes ``None`` or a short clip.

A request within every limit is its own view, so its reply is what it always was. A view
that cut something comes with a ``digest``: SHA-256 of each cut string's length and of
evenly spaced samples of it, and of the length of each list cut, which the composer adds to
its seed, so two large requests that differ where the model did not read mostly still get
their own phrasing, at a bounded cost.
"""

from __future__ import annotations

import hashlib
from itertools import islice

TEXT_CHARS = 8 * 1024
"""Characters of one string the model reads (half from its start, half from its end)."""
GAP = "\n…\n"
"""What stands for the middle of a clipped text."""
LIST_ITEMS = 256
"""Items of one list (keys of one mapping) the model reads."""
LIST_HEAD = 64
"""Of a longer list, how many of its first items are read (the rest are its last items)."""
NODES = 4096
"""Values read in all; any beyond are None."""
CHARS = 32 * 1024
"""Characters read in all; once spent, strings are clipped to ``SPENT_CHARS``. Texts the
model joins (a transcript, the system prompts, the cue text) are clipped to it too."""
SPENT_CHARS = 64
_MAX_DEPTH = 32
_SAMPLES, _WINDOW = 64, 256

# The request fields the composer reads; the others are scalars it reads as they are.
READ_FIELDS = ("messages", "tools", "tool_choice", "response_format")


def clip(text: str, limit: int = TEXT_CHARS) -> str:
    """``text`` if it has at most ``limit`` characters, else its head and tail around ``GAP``."""
    if len(text) <= limit:
        return text
    half = max(limit // 2, 1)
    return text[:half] + GAP + text[-half:]


def bounded_request(request: dict) -> tuple[dict, bytes]:
    """The view of ``request`` the model reads, and a digest of what it cut (``b""`` when it
    cut nothing: then the view is ``request`` itself)."""
    walk = _Walk()
    view = dict(request)
    for key in READ_FIELDS:
        if key in request:
            view[key] = walk.value(request[key], 0)
    if not walk.cut:
        return request, b""
    return view, walk.digest.digest()


def _sample(text: str) -> bytes:
    """What the digest takes of a cut text: its length and ``_SAMPLES`` evenly spaced
    windows (hashing all of a 19 MiB prompt would cost ~25 ms of the loop)."""
    step = max(len(text) // _SAMPLES, 1)
    windows = "".join(text[i:i + _WINDOW] for i in range(0, len(text), step))
    # ``surrogatepass``: JSON may carry lone surrogates, which UTF-8 cannot encode.
    return b"\x00text%d:" % len(text) + windows.encode("utf-8", "surrogatepass")


class _Walk:
    """One bounded walk over a request's JSON values, counting what it has read."""

    __slots__ = ("nodes", "chars", "cut", "digest")

    def __init__(self) -> None:
        self.nodes = 0
        self.chars = 0
        self.cut = False
        self.digest = hashlib.sha256()

    def _cutting(self, what: bytes) -> None:
        self.cut = True
        self.digest.update(what)

    def value(self, value: object, depth: int) -> object:
        self.nodes += 1
        if self.nodes > NODES or depth > _MAX_DEPTH:
            self._cutting(b"\x00node")
            return None
        kind = type(value)
        if kind is str:
            return self._text(value)
        if kind is list:
            return self._list(value, depth)
        if kind is dict:
            if len(value) > LIST_ITEMS:
                self._cutting(b"\x00keys%d" % len(value))
            return {self._text(k) if type(k) is str else k: self.value(v, depth + 1)
                    for k, v in islice(value.items(), LIST_ITEMS)}
        return value

    def _text(self, text: str) -> str:
        limit = TEXT_CHARS if self.chars < CHARS else SPENT_CHARS
        if len(text) > limit:
            self._cutting(_sample(text))
            text = clip(text, limit)
        self.chars += len(text)
        return text

    def _list(self, items: list, depth: int) -> list:
        if len(items) > LIST_ITEMS:
            self._cutting(b"\x00items%d" % len(items))
            head, tail = items[:LIST_HEAD], items[len(items) - (LIST_ITEMS - LIST_HEAD):]
        else:
            head, tail = [], items
        # The latest items first: they matter most to a reply (the last user message), so
        # they get the node and character budgets before older ones do.
        read_tail = [self.value(v, depth + 1) for v in reversed(tail)]
        read_tail.reverse()
        return [self.value(v, depth + 1) for v in head] + read_tail

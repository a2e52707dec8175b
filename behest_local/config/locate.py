"""Where each key of a TOML document is: ``(path) → line`` for error messages.

``tomllib`` returns plain dicts with no positions, so this module scans the text once, the
way a TOML parser walks it: ``[table]`` and ``[[array.of.tables]]`` headers (counting array
elements, so the second project's ``name`` is ``("projects", 1, "name")``), dotted and quoted
keys, and values that continue over several lines (multi-line strings and arrays). It only
runs on text ``tomllib`` already accepted, so it can be lenient. Keys inside inline tables
report the line of the key that holds the table.
"""

from __future__ import annotations

import re

_KEY = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*(\.)?')

LineIndex = dict[tuple, int]


def index_lines(text: str) -> LineIndex:
    """Map every key path of ``text`` (a valid TOML document) to its 1-based line."""
    lines: LineIndex = {}
    arrays: dict[tuple, int] = {}  # path of an array of tables → index of its last element
    table: tuple = ()
    pending: str | None = None  # the closing delimiter of an open multi-line string
    depth = 0  # open brackets of a value that continues on the next line
    for number, raw in enumerate(text.splitlines(), start=1):
        if pending or depth:
            pending, depth = _scan(raw, pending, depth)
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            parts, _ = _keys(stripped[2:])
            base = _resolve(parts[:-1], arrays) + (parts[-1],)
            arrays[base] = arrays.get(base, -1) + 1
            table = base + (arrays[base],)
            lines.setdefault(base, number)
            lines[table] = number
        elif stripped.startswith("["):
            parts, _ = _keys(stripped[1:])
            table = _resolve(parts, arrays)
            lines.setdefault(table, number)
        else:
            parts, rest = _keys(stripped)
            if not parts:
                continue
            for cut in range(1, len(parts) + 1):  # a.b = 1 also defines table a here
                lines.setdefault(table + tuple(parts[:cut]), number)
            value = rest.lstrip()
            pending, depth = _scan(value[1:] if value.startswith("=") else value, None, 0)
    return lines


def line_of(index: LineIndex, path: tuple) -> int | None:
    """The line of ``path``, else of its nearest enclosing key or table."""
    for cut in range(len(path), 0, -1):
        if path[:cut] in index:
            return index[path[:cut]]
    return None


def _keys(text: str) -> tuple[list[str], str]:
    """Parse a dotted key at the start of ``text``; return its parts and the rest."""
    parts: list[str] = []
    pos = 0
    while True:
        match = _KEY.match(text, pos)
        if not match:
            break
        token = match.group(1)
        parts.append(token[1:-1] if token[0] in "\"'" else token)
        pos = match.end()
        if not match.group(2):
            break
    return parts, text[pos:]


def _resolve(parts: list[str], arrays: dict[tuple, int]) -> tuple:
    """A header's key parts as a path, entering the current element of arrays of tables."""
    path: tuple = ()
    for part in parts:
        path += (part,)
        if path in arrays:
            path += (arrays[path],)
    return path


def _scan(text: str, pending: str | None, depth: int) -> tuple[str | None, int]:
    """Continue scanning a value: return the still-open string delimiter and bracket depth."""
    i = 0
    while i < len(text):
        if pending:
            end = text.find(pending, i)
            if end == -1:
                return pending, depth
            i, pending = end + len(pending), None
            continue
        char = text[i]
        if text.startswith(('"""', "'''"), i):
            pending, i = text[i:i + 3], i + 3
        elif char in "\"'":
            i = _string_end(text, i)
        elif char == "#":
            break
        else:
            depth += char in "[{"
            depth -= char in "]}"
            i += 1
    return pending, max(depth, 0)


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    i = start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if quote == '"' and text[i] == "\\" else 1
    return i + 1

"""Find the shape of the JSON a prompt asks for, when the prompt itself describes it.

Clients that do not send ``response_format: json_schema`` still ask for structured output:
instructor's JSON mode (``json_object`` plus the JSON Schema in the system prompt), its
MD_JSON mode (no format at all, the schema in the system prompt and "return the JSON within
a ```json codeblock"), LangChain's ``json_mode`` and output parsers (a schema or a list of
fields in the prompt). ``schema_in`` finds a JSON Schema written in a prompt, or builds one
from a pydantic-style field list (``name: str``, ``priority: Literal["low", "high"]``,
``- age (integer): ...``); ``asks_for_json`` and ``asks_for_fence`` read whether the prompt
wants JSON and wants it in a Markdown code block. The composer shapes its reply with them.

Bounded: the prompt is the composer's clipped view, and at most ``_MAX_TRIES`` opening braces
are tried as the start of a JSON document.
"""

from __future__ import annotations

import json
import re

_MAX_TRIES = 64
_DECODER = json.JSONDecoder()
# Keys that only a JSON Schema object has at its top level.
_SCHEMA_KEYS = frozenset({"properties", "$defs", "definitions", "$schema", "anyOf", "oneOf", "allOf"})

_JSON_WORD = re.compile(r"\bjson\b", re.I)
# A prompt that shows a schema and says JSON wants JSON when it also asks for output; "explain
# this JSON schema" does not.
_OUTPUT_VERB = re.compile(r"\b(?:return|respond|reply|output|format(?:ted)?|produce|provide|answer|conform|"
                          r"match|extract|generate)", re.I)  # fmt: skip
_FENCE = re.compile(r"```\s*json|\bcode ?block\b|\bmarkdown\b", re.I)

# "name: str", "- `age` (integer): years", "tags: list[str] = []": one field of a field list.
_FIELD_LINE = re.compile(
    r"^[ \t]*(?:[-*•][ \t]+|\d+[.)][ \t]+)?`?(?P<name>[A-Za-z_][A-Za-z0-9_]{0,63})`?[ \t]*"
    r"(?::[ \t]*(?P<colon>[^=#\n]+?)|\((?P<paren>[^)\n]+)\))[ \t]*(?:=[^\n]*|[-—:#][^\n]*)?$",
    re.M,
)
_SCALARS = {
    "str": {"type": "string"}, "string": {"type": "string"}, "text": {"type": "string"},
    "int": {"type": "integer"}, "integer": {"type": "integer"},
    "float": {"type": "number"}, "number": {"type": "number"}, "decimal": {"type": "number"},
    "bool": {"type": "boolean"}, "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"}, "datetime": {"type": "string", "format": "date-time"},
    "dict": {"type": "object"}, "object": {"type": "object"}, "any": {},
}  # fmt: skip
_WRAPPED = re.compile(r"^(?P<outer>[A-Za-z_.]+)\[(?P<inner>.*)\]$")


def schema_in(text: str) -> dict | None:
    """The JSON Schema a prompt shows or describes, or None when it shows none."""
    return _json_schema_in(text) or _field_list_in(text)


def asks_for_json(text: str) -> bool:
    """Whether the prompt asks for JSON output (a schema alone may describe anything)."""
    return bool(_JSON_WORD.search(text)) and bool(_OUTPUT_VERB.search(text))


def asks_for_fence(text: str) -> bool:
    """Whether the prompt wants the JSON inside a Markdown code block."""
    return bool(_FENCE.search(text))


def fenced(json_text: str) -> str:
    """``json_text`` in a Markdown ``json`` code block."""
    return f"```json\n{json_text}\n```"


def _json_schema_in(text: str) -> dict | None:
    position, tries = 0, 0
    while tries < _MAX_TRIES:
        start = text.find("{", position)
        if start == -1:
            return None
        tries += 1
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            position = start + 1
            continue
        schema = _as_schema(value)
        if schema is not None:
            return schema
        position = end
    return None


def _as_schema(value: object) -> dict | None:
    """``value`` when it is a JSON Schema of an object (or wraps one, as OpenAI's
    ``{"name", "schema"}`` does), else None."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("schema"), dict) and _as_schema(value["schema"]):
        return value["schema"]
    if value.keys() & _SCHEMA_KEYS or (value.get("type") in ("object", "array") and len(value) > 1):
        return value
    return None


def _field_list_in(text: str) -> dict | None:
    properties: dict[str, dict] = {}
    required: list[str] = []
    for match in _FIELD_LINE.finditer(text):
        spelled = (match.group("colon") or match.group("paren") or "").strip()
        # "(integer, required)" or "(str, optional)": the type is the first word group.
        parts = [p.strip() for p in spelled.split(",")] if match.group("paren") else [spelled]
        schema, optional = _type_schema(parts[0])
        if schema is None:
            continue
        name = match.group("name")
        properties[name] = schema
        if not optional and "optional" not in (p.lower() for p in parts[1:]):
            required.append(name)
    if len(properties) < 2:
        return None  # one "note: text" line is prose, not a field list
    return {"type": "object", "properties": properties, "required": required}


def _type_schema(spelled: str) -> tuple[dict | None, bool]:
    """A type as written in Python or in words, as a JSON Schema, and whether it is optional."""
    spelled = spelled.strip().strip("`")
    union = [part.strip() for part in _split_top(spelled, "|")]
    if len(union) > 1 and "None" in union:
        inner, _ = _type_schema(" | ".join(p for p in union if p != "None"))
        return inner, True
    lowered = spelled.lower()
    if lowered in _SCALARS:
        return dict(_SCALARS[lowered]), False
    if lowered.endswith("[]"):
        items, _ = _type_schema(spelled[:-2])
        return ({"type": "array", "items": items} if items is not None else None), False
    if lowered in ("list", "array"):
        return {"type": "array", "items": {"type": "string"}}, False
    wrapped = _WRAPPED.match(spelled)
    if not wrapped:
        return None, False
    outer = wrapped.group("outer").rsplit(".", 1)[-1].lower()
    args = _split_top(wrapped.group("inner"), ",")
    if outer == "optional":
        inner, _ = _type_schema(args[0])
        return inner, True
    if outer in ("list", "set", "sequence", "tuple"):
        items, _ = _type_schema(args[0])
        return {"type": "array", "items": items if items is not None else {}}, False
    if outer == "dict":
        return {"type": "object"}, False
    if outer == "literal":
        values = []
        for arg in args:
            try:
                values.append(json.loads(arg.strip().replace("'", '"')))
            except ValueError:
                return None, False
        return {"enum": values}, False
    return None, False


def _split_top(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts

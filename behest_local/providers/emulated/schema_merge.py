"""Fold ``$ref`` and ``allOf`` into one flat schema so a value can be built from a single dict.

Pydantic wraps references in ``allOf`` (``{"allOf": [{"$ref": ...}], "description": ...}``),
2020-12 lets ``$ref`` sit beside other keywords, and hand-written schemas intersect object
shapes with ``allOf``. ``schema_instance`` calls ``flatten`` before deciding a value's shape;
``merge`` is the intersection it uses, keyword by keyword: properties are merged recursively,
``required`` is united, bounds tighten, ``type`` and ``enum`` intersect. Keywords that cannot
be intersected exactly (two ``pattern``s) keep the first, and the caller's final validity
check catches what that loses.
"""

from __future__ import annotations

from typing import Any

from behest_local.providers.emulated.schema_check import json_equal, resolve_ref

# How many $ref / allOf layers are unwrapped before giving up on a pathological chain.
_MAX_UNWRAP = 16

_LOWER_BOUNDS = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"})
_UPPER_BOUNDS = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"})


def flatten(schema: dict, root: Any, _seen: frozenset[str] = frozenset()) -> dict:
    """``schema`` with its top-level ``$ref`` and ``allOf`` resolved and merged in.

    Nested subschemas (properties, items) are left alone; they are flattened when the value
    builder reaches them, which keeps recursive definitions finite. A reference met again
    while flattening (``{"allOf": [{"$ref": "#"}]}``) adds nothing new and is dropped.
    """
    for _ in range(_MAX_UNWRAP):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = resolve_ref(root, ref) if ref not in _seen else {}
            _seen = _seen | {ref}
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = merge(target, rest) if isinstance(target, dict) else rest
        elif isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if isinstance(part, dict):
                    merged = merge(merged, flatten(part, root, _seen))
            schema = merged
        else:
            break
    return schema


def merge(first: Any, second: Any) -> Any:
    """The intersection of two schemas, as one schema (best effort, see module docstring)."""
    if first is False or second is False:
        return False
    if not isinstance(first, dict):
        return second
    if not isinstance(second, dict):
        return first
    merged = dict(first)
    for key, value in second.items():
        if key not in merged:
            merged[key] = value
        else:
            merged[key] = _merge_keyword(key, merged[key], value)
    return merged


def _merge_keyword(key: str, mine: Any, theirs: Any) -> Any:
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (mine, theirs))
    if key in _LOWER_BOUNDS and numeric:
        return max(mine, theirs)
    if key in _UPPER_BOUNDS and numeric:
        return min(mine, theirs)
    if key == "properties" and isinstance(mine, dict) and isinstance(theirs, dict):
        return {**mine, **{name: merge(mine[name], sub) if name in mine else sub for name, sub in theirs.items()}}
    if key == "required" and isinstance(mine, list) and isinstance(theirs, list):
        return mine + [name for name in theirs if name not in mine]
    if key == "type":
        return _merge_types(mine, theirs)
    if key == "enum" and isinstance(mine, list) and isinstance(theirs, list):
        common = [option for option in mine if any(json_equal(option, other) for other in theirs)]
        return common or mine
    if key in ("additionalProperties", "items", "additionalItems", "contains", "propertyNames"):
        return merge(mine, theirs)
    if key == "uniqueItems":
        return mine is True or theirs is True
    return mine


def _merge_types(mine: Any, theirs: Any) -> Any:
    """The types allowed by both; an integer is also a number."""
    left = [mine] if isinstance(mine, str) else list(mine) if isinstance(mine, list) else []
    right = [theirs] if isinstance(theirs, str) else list(theirs) if isinstance(theirs, list) else []
    if not left or not right:
        return mine if left else theirs
    common = [t for t in left if t in right]
    common += [t for t in ("integer",) if t not in common and "integer" in left + right and "number" in left + right]
    if not common:
        return mine  # contradictory; the final validity check reports it
    return common[0] if len(common) == 1 else common

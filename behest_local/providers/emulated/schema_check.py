"""A small JSON Schema checker that lets the value generator verify its own choices.

``schema_instance`` builds values constructively, but some keywords can only be honoured by
trying a candidate and checking it: ``oneOf`` needs exactly one matching branch, ``not`` needs
none, a ``pattern`` or an ``allOf`` merge may defeat the construction. This module owns those
checks: ``conforms`` answers "is this value valid against this schema?" for the keywords that
OpenAI structured outputs and pydantic produce (draft-07 and 2020-12 spellings), and
``resolve_ref`` follows local ``$ref`` pointers for both modules. Unknown keywords pass, so a
False answer is trustworthy while a True answer is best effort. There is no I/O and no
dependency on the ``jsonschema`` package, which is a test-only dependency.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any
from urllib.parse import unquote

# Deeper checks are assumed to pass: JSON values this deep are not the emulator's concern.
_MAX_DEPTH = 64


def resolve_ref(root: Any, ref: object) -> Any:
    """The subschema a local ``$ref`` ("#/$defs/X", "#/definitions/X", "#") points to.

    Remote references and unknown anchors resolve to ``{}`` (anything), which keeps the
    generator going rather than failing on schemas it cannot fully see.
    """
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    pointer = unquote(ref[1:])
    if pointer == "":
        return root
    if not pointer.startswith("/"):
        return _find_anchor(root, pointer)
    node = root
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return {}
    return node


def _find_anchor(node: Any, anchor: str, depth: int = 0) -> Any:
    """The subschema declaring ``"$anchor": anchor`` (2020-12 plain-name fragments)."""
    if depth > _MAX_DEPTH:
        return {}
    if isinstance(node, dict):
        if node.get("$anchor") == anchor:
            return node
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return {}
    for child in children:
        found = _find_anchor(child, anchor, depth + 1)
        if found != {}:
            return found
    return {}


def num(schema: dict, key: str, default: float | None = None) -> float | None:
    """``schema[key]`` when it is a number (not a boolean), else ``default``.

    Schemas arrive from clients unchecked, so a malformed keyword is ignored, not fatal.
    """
    value = schema.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def seq(schema: dict, key: str) -> list:
    """``schema[key]`` when it is a list, else ``[]``."""
    value = schema.get(key)
    return value if isinstance(value, list) else []


def mapping(schema: dict, key: str) -> dict:
    """``schema[key]`` when it is an object, else ``{}``."""
    value = schema.get(key)
    return value if isinstance(value, dict) else {}


def json_type_of(value: Any, name: str) -> bool:
    """Whether ``value`` is of JSON Schema type ``name`` (1.0 is an integer, True is not)."""
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float))
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    return False


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def is_multiple_of(value: float, step: float) -> bool:
    """``multipleOf`` exactly as the ``jsonschema`` package decides it, float quirks included."""
    if isinstance(step, float):
        quotient = value / step
        try:
            return int(quotient) == quotient
        except (OverflowError, ValueError):
            if not math.isfinite(value):
                return False
            return (Fraction(value) / Fraction(step)).denominator == 1
    return not value % step


def pattern_matches(pattern: str, text: str) -> bool:
    """``pattern`` semantics: an unanchored search; an invalid pattern matches nothing."""
    try:
        return re.search(pattern, text) is not None
    except (re.error, RecursionError):
        return False


def conforms(value: Any, schema: Any, root: Any = None, _path: frozenset = frozenset()) -> bool:
    """Whether ``value`` is valid against ``schema`` (best effort, see the module docstring).

    Args:
        value: a JSON value.
        schema: a JSON Schema (dict or boolean).
        root: the document ``$ref`` pointers resolve against; ``schema`` itself by default.
    """
    root = schema if root is None else root
    if schema is True or schema == {}:
        return True
    if schema is False:
        return False
    # The same subschema applied again to the same value without descending into it is a
    # reference cycle ({"anyOf": [{"$ref": "#"}]}): it can add no new constraint.
    step = (id(schema), id(value))
    if not isinstance(schema, dict) or step in _path or len(_path) > _MAX_DEPTH:
        return True
    path = _path | {step}
    if "$ref" in schema and not conforms(value, resolve_ref(root, schema["$ref"]), root, path):
        return False
    return (
        _check_generic(value, schema, root, path)
        and _check_combinators(value, schema, root, path)
        and _check_number(value, schema)
        and _check_string(value, schema)
        and _check_array(value, schema, root, path)
        and _check_object(value, schema, root, path)
    )


def _check_generic(value: Any, schema: dict, root: Any, path: frozenset) -> bool:
    types = schema.get("type")
    if isinstance(types, str) and not json_type_of(value, types):
        return False
    if isinstance(types, list) and not any(json_type_of(value, t) for t in types):
        return False
    if "const" in schema and not json_equal(value, schema["const"]):
        return False
    enum = schema.get("enum")
    return not (isinstance(enum, list) and not any(json_equal(value, option) for option in enum))


def _check_combinators(value: Any, schema: dict, root: Any, path: frozenset) -> bool:
    if not all(conforms(value, sub, root, path) for sub in seq(schema, "allOf")):
        return False
    if "anyOf" in schema and not any(conforms(value, sub, root, path) for sub in seq(schema, "anyOf")):
        return False
    if "oneOf" in schema and sum(conforms(value, sub, root, path) for sub in seq(schema, "oneOf")) != 1:
        return False
    if "not" in schema and conforms(value, schema["not"], root, path):
        return False
    if "if" in schema:
        branch = "then" if conforms(value, schema["if"], root, path) else "else"
        if branch in schema and not conforms(value, schema[branch], root, path):
            return False
    return True


def _check_number(value: Any, schema: dict) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    minimum, maximum = num(schema, "minimum"), num(schema, "maximum")
    # Draft-04 spells exclusive bounds as booleans on minimum/maximum; later drafts as numbers.
    low_flag, high_flag = schema.get("exclusiveMinimum") is True, schema.get("exclusiveMaximum") is True
    if minimum is not None and (value < minimum or (low_flag and value == minimum)):
        return False
    if maximum is not None and (value > maximum or (high_flag and value == maximum)):
        return False
    low_x, high_x = num(schema, "exclusiveMinimum"), num(schema, "exclusiveMaximum")
    if (low_x is not None and value <= low_x) or (high_x is not None and value >= high_x):
        return False
    step = num(schema, "multipleOf")
    return not (step is not None and step > 0 and not is_multiple_of(value, step))


def _check_string(value: Any, schema: dict) -> bool:
    if not isinstance(value, str):
        return True
    if not num(schema, "minLength", 0) <= len(value) <= num(schema, "maxLength", math.inf):
        return False
    pattern = schema.get("pattern")
    return not (isinstance(pattern, str) and not pattern_matches(pattern, value))


def _check_array(value: Any, schema: dict, root: Any, path: frozenset) -> bool:
    if not isinstance(value, list):
        return True
    if not num(schema, "minItems", 0) <= len(value) <= num(schema, "maxItems", math.inf):
        return False
    prefix, rest = array_item_schemas(schema)
    for index, item in enumerate(value):
        sub = prefix[index] if index < len(prefix) else rest
        if not conforms(item, sub, root, path):
            return False
    if schema.get("uniqueItems") is True and any(
        json_equal(value[i], value[j]) for i in range(len(value)) for j in range(i + 1, len(value))
    ):
        return False
    if "contains" in schema:
        hits = sum(conforms(item, schema["contains"], root, path) for item in value)
        if not num(schema, "minContains", 1) <= hits <= num(schema, "maxContains", math.inf):
            return False
    return True


def array_item_schemas(schema: dict) -> tuple[list[Any], Any]:
    """The positional item schemas and the schema for the remaining items.

    2020-12 writes tuples as ``prefixItems`` + ``items``; draft-07 as ``items: [...]`` +
    ``additionalItems``. Both are read, since pydantic and hand-written schemas mix them.
    """
    if isinstance(schema.get("prefixItems"), list):
        return schema["prefixItems"], schema.get("items", True)
    if isinstance(schema.get("items"), list):
        return schema["items"], schema.get("additionalItems", True)
    return [], schema.get("items", True)


def _check_object(value: Any, schema: dict, root: Any, path: frozenset) -> bool:
    if not isinstance(value, dict):
        return True
    if any(name not in value for name in seq(schema, "required")):
        return False
    if not num(schema, "minProperties", 0) <= len(value) <= num(schema, "maxProperties", math.inf):
        return False
    properties = mapping(schema, "properties")
    patterns = mapping(schema, "patternProperties")
    for key, item in value.items():
        matched = False
        if key in properties:
            matched = True
            if not conforms(item, properties[key], root, path):
                return False
        for pattern, sub in patterns.items():
            if pattern_matches(pattern, key):
                matched = True
                if not conforms(item, sub, root, path):
                    return False
        if not matched and not conforms(item, schema.get("additionalProperties", True), root, path):
            return False
        if "propertyNames" in schema and not conforms(key, schema["propertyNames"], root, path):
            return False
    for key, needed in mapping(schema, "dependentRequired").items():
        if key in value and isinstance(needed, list) and any(name not in value for name in needed):
            return False
    return True

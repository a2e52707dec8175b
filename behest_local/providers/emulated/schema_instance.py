"""Build a JSON value that is valid against a JSON Schema and reads like an answer to the prompt.

The emulated model uses this for structured outputs (``response_format: json_schema``), for
``json_object`` replies and for tool-call arguments. ``instance_for`` owns the *shape* of the
value: it follows ``$ref`` (including recursive definitions, which stop growing after a few
levels and then take their cheapest branch), merges ``allOf``, picks ``anyOf``/``oneOf``
branches (checking that a ``oneOf`` pick matches exactly one branch), fills objects and arrays,
and honours ``const``/``enum``/``type``/``not``. Scalars come from ``schema_values``, which
makes them echo the prompt through ``Hints``. The finished value is checked with
``schema_check.conforms``; if the first build fails, simpler rebuilds are tried.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

from behest_local.providers.emulated.prompt_cues import Hints
from behest_local.providers.emulated.schema_check import (
    array_item_schemas,
    conforms,
    json_equal,
    mapping,
    num,
    pattern_matches,
    resolve_ref,
    seq,
)
from behest_local.providers.emulated.schema_merge import flatten, merge
from behest_local.providers.emulated.schema_values import boolean_for, number_for, slug, string_for, string_role

__all__ = ["Hints", "instance_for"]

# Below this nesting depth optional properties are filled and arrays get a few items; at and
# beyond it only what the schema requires is built, choosing the cheapest branches, which is
# what makes recursive schemas terminate.
_GROWTH_DEPTH = 4
# A schema that still nests this deep has no finite instance; give up with null.
_HARD_DEPTH = 48
# Typical array length when neither the schema nor the prompt says otherwise.
_DEFAULT_ITEMS = 2
_MAX_ITEMS_FROM_PROMPT = 10
# Client schemas are untrusted: a "minItems: 10**9" must not exhaust memory. Beyond this the
# value is knowingly invalid.
_MAX_ITEMS = 1000
# Alternatives tried for one anyOf/oneOf before settling for the first attempt, in the
# outermost few levels of nested branches.
_BRANCH_TRIES = 4
_RETRYING_BRANCH_LEVELS = 3
# Subschemas a cost estimate may visit (see _Builder._cost).
_COST_BUDGET = 400
# Cheapest first: the order used to pick a type when a value must stop growing.
_TYPE_COST = ("null", "boolean", "integer", "number", "string", "array", "object")


def instance_for(schema: dict | bool, *, rng: random.Random, hints: Hints) -> Any:
    """A JSON value valid against ``schema`` whose content echoes ``hints``.

    Args:
        schema: a JSON Schema (draft-07 or 2020-12 keywords); ``$ref`` pointers resolve
            against this document.
        rng: the only source of randomness, so a fixed seed gives a fixed value.
        hints: cues from the prompt (see ``Hints.from_text``).

    Returns:
        The value. For an unsatisfiable schema, the closest attempt.
    """
    first = _Builder(schema, rng, grow=True).build(schema, hints, 0)
    if conforms(first, schema):
        return first
    # Retry with fresh draws, then without optional growth: simpler values fail less.
    for grow in (True, False, False):
        retry_rng = random.Random(rng.getrandbits(64))
        candidate = _Builder(schema, retry_rng, grow=grow).build(schema, hints, 0)
        if conforms(candidate, schema):
            return candidate
    return first


class _Builder:
    """One generation pass over a schema document (holds the root for ``$ref`` lookups)."""

    def __init__(self, root: Any, rng: random.Random, *, grow: bool) -> None:
        self.root = root
        self.rng = rng
        self.grow = grow
        # anyOf/oneOf branches currently being built, one inside another. Branches can
        # recurse without nesting the value ({"anyOf": [{"$ref": "#"}, ...]}), so depth
        # alone would not stop them.
        self.open_branches = 0

    def build(self, schema: Any, hints: Hints, depth: int) -> Any:
        if depth > _HARD_DEPTH or schema is False:
            return None
        if not isinstance(schema, dict):
            return string_for({}, self.rng, hints)
        schema = flatten(schema, self.root)
        if hints.field and hints.facts:
            # A tool already reported this field's value: echo it when the schema allows.
            known, value = hints.fact()
            if known and conforms(value, schema, self.root):
                return value
        if "not" in schema:
            return self._avoiding_not(schema, hints, depth)
        return self._build_flat(schema, hints, depth)

    def _growing(self, depth: int) -> bool:
        return self.grow and depth < _GROWTH_DEPTH

    def _build_flat(self, schema: dict, hints: Hints, depth: int) -> Any:
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._enum_choice(schema["enum"], hints)
        for keyword in ("oneOf", "anyOf"):
            if seq(schema, keyword):
                return self._branch(schema, keyword, hints, depth)
        kind = self._choose_type(schema, depth)
        if kind == "object":
            return self._object(schema, hints, depth)
        if kind == "array":
            return self._array(schema, hints, depth)
        if kind in ("integer", "number"):
            return number_for(schema, self.rng, hints, integer=kind == "integer")
        if kind == "boolean":
            return boolean_for(hints)
        if kind == "string":
            return string_for(schema, self.rng, hints)
        return None

    def _avoiding_not(self, schema: dict, hints: Hints, depth: int) -> Any:
        """Build without ``not``, then switch type until the value escapes the ``not``."""
        forbidden = schema["not"]
        rest = {k: v for k, v in schema.items() if k != "not"}
        first = self._build_flat(rest, hints, depth)
        if not conforms(first, forbidden, self.root):
            return first
        for kind in _TYPE_COST:
            candidate = self._build_flat({**rest, "type": kind}, hints, depth)
            if conforms(candidate, rest, self.root) and not conforms(candidate, forbidden, self.root):
                return candidate
        return first

    def _enum_choice(self, options: list, hints: Hints) -> Any:
        """The option the prompt mentions, else the first; array items rotate through them."""
        text = hints.text.lower()
        mentioned = [
            option for option in options
            if isinstance(option, str) and option.strip() and re.search(rf"\b{re.escape(option.lower())}\b", text)
        ]
        ordered = mentioned + [option for option in options if option not in mentioned]
        return ordered[hints.item % len(ordered)]

    def _branch(self, schema: dict, keyword: str, hints: Hints, depth: int) -> Any:
        if self.open_branches > _HARD_DEPTH:
            return None
        base = {k: v for k, v in schema.items() if k != keyword}
        branches = [merge(base, b) if isinstance(b, dict) else b for b in seq(schema, keyword)]
        if self._growing(depth):
            # Meaningful first: a real value before null, in the order the schema lists them.
            order = sorted(range(len(branches)), key=lambda i: self._is_null(branches[i]))
        else:
            budget = [_COST_BUDGET]
            order = sorted(range(len(branches)), key=lambda i: self._cost(branches[i], frozenset(), budget))
        attempts: list[Any] = []
        # Deeply nested branches get one try each, or retries would multiply exponentially.
        tries = _BRANCH_TRIES if self.open_branches < _RETRYING_BRANCH_LEVELS else 1
        for index in order[:tries]:
            self.open_branches += 1
            try:
                candidate = self.build(branches[index], hints, depth)
            finally:
                self.open_branches -= 1
            attempts.append(candidate)
            if keyword == "anyOf" and conforms(candidate, branches[index], self.root):
                return candidate
            # oneOf: the value must match this branch and no other one; nudging the value
            # (34 -> 34.5) often separates overlapping branches such as number/integer.
            if keyword == "oneOf":
                for variant in (candidate, *_nudged(candidate)):
                    exclusive = sum(conforms(variant, b, self.root) for b in branches) == 1
                    if exclusive and conforms(variant, branches[index], self.root):
                        return variant
        return attempts[0] if attempts else None

    def _is_null(self, schema: Any) -> bool:
        return isinstance(schema, dict) and schema.get("type") == "null"

    def _cost(self, schema: Any, seen: frozenset, budget: list[int]) -> float:
        """How big the smallest instance of ``schema`` is, roughly; recursion costs a lot.

        ``budget`` counts visited subschemas: wide schemas would otherwise make this
        estimate exponential, and a rough answer is all branch ordering needs.
        """
        budget[0] -= 1
        if budget[0] < 0:
            return 1.0
        if schema is False:
            return 100.0
        if not isinstance(schema, dict):
            return 1.0
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return 100.0
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self._cost(merge(resolve_ref(self.root, ref), rest), seen | {ref}, budget)
        if "const" in schema or "enum" in schema:
            return 1.0
        types = schema.get("type")
        if types == "null" or (isinstance(types, list) and "null" in types):
            return 0.0
        branches = [b for key in ("anyOf", "oneOf") for b in seq(schema, key)]
        if branches:
            return min(self._cost(b, seen, budget) for b in branches)
        cost = 1.0 + sum(self._cost(s, seen, budget) for s in seq(schema, "allOf"))
        properties = mapping(schema, "properties")
        cost += sum(self._cost(properties.get(name, {}), seen, budget) for name in seq(schema, "required"))
        prefix, rest = array_item_schemas(schema)
        cost += sum(self._cost(s, seen, budget) for s in prefix)
        cost += min(num(schema, "minItems", 0) or 0, 100) * self._cost(rest, seen, budget)
        return cost

    def _choose_type(self, schema: dict, depth: int) -> str:
        declared = schema.get("type")
        if isinstance(declared, str):
            return declared
        kinds = [t for t in declared if isinstance(t, str)] if isinstance(declared, list) else []
        if not kinds:
            return _inferred_type(schema)
        if not self._growing(depth):
            return min(kinds, key=lambda t: _TYPE_COST.index(t) if t in _TYPE_COST else len(_TYPE_COST))
        return next((t for t in kinds if t != "null"), kinds[0])

    def _object(self, schema: dict, hints: Hints, depth: int) -> dict:
        properties = mapping(schema, "properties")
        required = [name for name in seq(schema, "required") if isinstance(name, str)]
        wanted = [n for n in properties if n in required or self._growing(depth)]
        wanted += [n for n in required if n not in wanted]
        max_props = num(schema, "maxProperties", math.inf)
        while len(wanted) > max_props and any(n not in required for n in wanted):
            wanted.remove(next(n for n in reversed(wanted) if n not in required))
        value: dict[str, Any] = {}
        # Siblings of the same kind take successive prompt cues: a=3, b=5 for "3 + 5".
        seen_kinds: dict[str, int] = {}
        for name in wanted:
            sub = self._property_schema(schema, name)
            kind = self._cue_kind(sub, name)
            if kind == "choice":
                # An enum follows the prompt, then the array position; siblings don't shift it.
                value[name] = self.build(sub, hints.for_field(name), depth + 1)
                continue
            offset = seen_kinds.get(kind, 0) if kind else 0
            if kind:
                seen_kinds[kind] = offset + 1
            value[name] = self.build(sub, hints.for_field(name, hints.item + offset), depth + 1)
        self._add_extra_properties(schema, value, hints, depth)
        return value

    def _property_schema(self, schema: dict, name: str) -> Any:
        properties = mapping(schema, "properties")
        if name in properties:
            return properties[name]
        for pattern, sub in mapping(schema, "patternProperties").items():
            if pattern_matches(pattern, name):
                return sub
        extra = schema.get("additionalProperties", True)
        return {} if extra is False else extra

    def _cue_kind(self, sub: Any, name: str) -> str:
        """"number" or "text" when the property consumes prompt cues in turn, "choice" for an
        enum, else ""."""
        if isinstance(sub, dict) and isinstance(sub.get("$ref"), str):
            sub = resolve_ref(self.root, sub["$ref"])
        if not isinstance(sub, dict):
            return ""
        if "enum" in sub or "const" in sub:
            return "choice"
        declared = sub.get("type")
        if isinstance(declared, list):
            declared = next((t for t in declared if t != "null"), None)
        if declared in ("integer", "number"):
            return "number"
        if declared == "string" and string_role(name)[0] in ("place", "person", "title", "query", "keyword", ""):
            return "text"
        return ""

    def _add_extra_properties(self, schema: dict, value: dict, hints: Hints, depth: int) -> None:
        """Fill ``minProperties`` (and show one entry of a free-form map) with named keys."""
        extra = schema.get("additionalProperties", True)
        if extra is False:
            return
        wanted = int(min(num(schema, "minProperties", 0) or 0, _MAX_ITEMS))
        if not value and isinstance(extra, dict) and self._growing(depth):
            wanted = max(wanted, 1)
        names = [slug(n, "_") for n in (*hints.names, *hints.keywords)] + [f"key_{i}" for i in range(wanted + 1)]
        for name in names:
            if len(value) >= wanted:
                return
            if name not in value and name not in mapping(schema, "properties"):
                value[name] = self.build(self._property_schema(schema, name), hints.for_field(name), depth + 1)

    def _array(self, schema: dict, hints: Hints, depth: int) -> list:
        prefix, rest = array_item_schemas(schema)
        count = self._item_count(schema, prefix, hints, depth)
        if rest is False:
            count = min(count, len(prefix))
        contains = schema.get("contains")
        if contains is not None and (num(schema, "minContains", 1) or 0) > 0 and not prefix:
            count = max(count, 1)
        unique = schema.get("uniqueItems") is True
        items: list[Any] = []
        retries = 0
        while len(items) < count and retries <= count * 3 + 3:
            index = len(items)
            sub = prefix[index] if index < len(prefix) else rest
            if index == 0 and contains is not None and not prefix:
                sub = merge(sub, contains)
            item = self.build(sub, hints.for_item(hints.item + index + retries), depth + 1)
            if unique and any(json_equal(item, other) for other in items):
                retries += 1
                fresh = [v for v in _variants(item, retries) if not any(json_equal(v, o) for o in items)]
                item = next((v for v in fresh if conforms(v, sub, self.root)), None)
                if item is None:
                    continue
            items.append(item)
        return items

    def _preferred_length(self, hints: Hints) -> int:
        """How many items a list should have: a small count the user wrote, or one per name."""
        small = [n for n in hints.numbers if isinstance(n, int) and 1 <= n <= _MAX_ITEMS_FROM_PROMPT]
        if small:
            return small[0]
        return min(len(hints.names), 5) if len(hints.names) > 1 else _DEFAULT_ITEMS

    def _item_count(self, schema: dict, prefix: list, hints: Hints, depth: int) -> int:
        low = int(num(schema, "minItems", 0) or 0)
        high = num(schema, "maxItems", math.inf)
        desired = len(prefix)
        if self._growing(depth):
            # Nested lists stay short so recursive trees do not grow as (names ** depth).
            preferred = self._preferred_length(hints)
            desired = max(desired, preferred if depth < 2 else min(preferred, _DEFAULT_ITEMS))
        return int(min(max(desired, low), high, _MAX_ITEMS))


def _inferred_type(schema: dict) -> str:
    """The type a schema without ``type`` most likely describes, from its other keywords."""
    if any(k in schema for k in ("properties", "required", "additionalProperties", "patternProperties",
                                  "minProperties", "maxProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _nudged(value: Any) -> tuple[Any, ...]:
    """Small changes to a scalar, tried when it matches more than one ``oneOf`` branch."""
    if isinstance(value, bool):
        return (not value,)
    if isinstance(value, (int, float)):
        return (value + 0.5, value - 0.5, value + 0.25, value + 1, value - 1)
    if isinstance(value, str):
        return (f"{value}.", value.upper(), value.lower(), f"{value} 2", "")
    return ()


def _variants(item: Any, attempt: int) -> tuple[Any, ...]:
    """Near copies of a duplicate array item, for ``uniqueItems`` (the caller checks them)."""
    if isinstance(item, bool):
        return (not item,)
    if isinstance(item, (int, float)):
        return (item + attempt, item - attempt, item + attempt / 2, item - attempt / 2)
    if isinstance(item, str):
        return (f"{item} {attempt + 1}", f"{item}{attempt + 1}", f"{item[:-1]}{attempt + 1}")
    return ()

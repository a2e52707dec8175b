"""The JSON Schema → Gemini Schema sanitiser (pitfall 17)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.providers.gemini.schema import KEPT, sanitize


def test_strips_unknown_keywords_and_rewrites_const_and_nullable():
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "additionalProperties": False, "properties": {
                  "mode": {"const": "fast"}, "note": {"type": ["string", "null"]},
                  "tags": {"type": "array", "items": {"type": "string", "minLength": 1,
                                                      "propertyNames": {}}},
                  "n": {"type": "integer", "exclusiveMinimum": 0}},
              "required": ["mode"]}
    assert sanitize(schema) == {"type": "object", "properties": {
        "mode": {"enum": ["fast"], "type": "string"}, "note": {"nullable": True, "type": "string"},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "n": {"type": "integer"}}, "required": ["mode"]}


def test_local_refs_are_inlined():
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}},
              "$defs": {"A": {"type": "object", "properties": {"x": {"type": "number"}}}}}
    assert sanitize(schema)["properties"]["a"] == {"type": "object",
                                                   "properties": {"x": {"type": "number"}}}


def test_recursive_refs_terminate():
    schema = {"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
              "$ref": "#/$defs/N"}
    assert sanitize(schema)["type"] == "object"


JSON_SCHEMA = st.recursive(
    st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["string", "number", "object", "array", ["string", "null"]]),
        "description": st.text(max_size=5), "additionalProperties": st.booleans(),
        "const": st.integers(), "$id": st.text(max_size=3), "minimum": st.integers()}),
    lambda children: st.fixed_dictionaries({}, optional={
        "properties": st.dictionaries(st.text(min_size=1, max_size=4), children, max_size=3),
        "items": children, "anyOf": st.lists(children, max_size=2),
        "oneOf": st.lists(children, max_size=2)}),
    max_leaves=10)


def _keys(schema: dict):
    for key, value in schema.items():
        yield key
        children = (value.values() if key == "properties" else [value] if key == "items"
                    else value if key == "anyOf" else [])
        for child in children:
            yield from _keys(child)


@settings(max_examples=100, deadline=None)
@given(JSON_SCHEMA)
def test_output_uses_only_gemini_keywords(schema):
    out = sanitize(schema)
    assert set(_keys(out)) <= KEPT
    assert sanitize(out) == out  # idempotent

"""Schema-valid, prompt-flavoured JSON values: hand-written, pydantic and generated schemas."""

from __future__ import annotations

import datetime as dt
import enum
import random
import re
from typing import Literal, Optional

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from behest_local.providers.emulated.schema_instance import Hints, instance_for

WEATHER_PROMPT = Hints.from_text("What's the weather in Paris? I'm 34, write to me at ana@example.org.")


def build(schema: dict | bool, hints: Hints = WEATHER_PROMPT, seed: int = 7):
    value = instance_for(schema, rng=random.Random(seed), hints=hints)
    jsonschema.validate(value, schema)
    return value


# --- pydantic models, as client SDKs send them -------------------------------------------


class Unit(str, enum.Enum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


class Address(BaseModel):
    street: str
    city: str
    postcode: Optional[str] = None


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    email: Optional[str] = None
    addresses: list[Address] = []
    unit: Unit = Unit.celsius
    mood: Literal["happy", "sad"] = "happy"
    born: dt.datetime
    tags: list[str] = Field(default_factory=list, max_length=3)


class TreeNode(BaseModel):
    label: str
    children: list[TreeNode] = []
    parent: Optional[TreeNode] = None


class Shape(BaseModel):
    kind: Literal["circle", "square"]
    size: float = Field(gt=0, lt=10, multiple_of=0.5)


class Drawing(BaseModel):
    title: str
    shapes: list[Shape] = Field(min_length=1)
    owner: Person | None


@pytest.mark.parametrize("model", [Address, Person, TreeNode, Shape, Drawing])
def test_pydantic_schemas_give_values_the_model_accepts(model: type[BaseModel]) -> None:
    value = build(model.model_json_schema())
    assert isinstance(model.model_validate(value), model)


def test_recursive_model_terminates_with_a_finite_tree() -> None:
    value = build(TreeNode.model_json_schema())
    depth, node = 0, value
    while node.get("parent"):
        node, depth = node["parent"], depth + 1
    assert depth < 10


# --- hand-written schemas: the keywords structured outputs use ----------------------------

STRICT_OPENAI_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "forecast": {"type": "array", "items": {"type": "object", "properties": {
            "day": {"type": "string", "enum": ["mon", "tue", "wed"]},
            "high": {"type": ["number", "null"]},
        }, "required": ["day", "high"], "additionalProperties": False}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["city", "forecast", "note"],
    "additionalProperties": False,
}  # fmt: skip

HAND_WRITTEN = [
    STRICT_OPENAI_SCHEMA,
    {"$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}},
                        "required": ["sku"]}},
     "type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2, "uniqueItems": True},
    {"definitions": {"n": {"type": "integer", "minimum": 50, "maximum": 60, "multipleOf": 7}},
     "type": "object", "properties": {"n": {"$ref": "#/definitions/n"}}, "required": ["n"]},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01},
    {"type": "string", "minLength": 40, "maxLength": 45},
    {"type": "string", "maxLength": 3},
    {"type": "array", "prefixItems": [{"type": "string", "format": "date"}, {"type": "integer"}], "items": False},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
               {"properties": {"b": {"type": "string", "format": "uuid"}}, "required": ["b"]}]},
    {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    {"oneOf": [{"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]},
               {"type": "object", "properties": {"kind": {"const": "b"}}, "required": ["kind"]}]},
    {"not": {"type": "string"}},
    {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 2},
    {"type": "array", "contains": {"type": "integer", "minimum": 5}, "items": {"type": "integer"}},
    {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
    {"type": ["string", "null"], "format": "email"},
    {"enum": [1, "two", None, {"three": 3}]},
    {"const": {"fixed": [1, 2]}},
    {},
    True,
    {"type": "string", "format": "date-time"},
    {"type": "string", "pattern": "^(red|green|blue)-\\d{2}$"},
]  # fmt: skip


@pytest.mark.parametrize("schema", HAND_WRITTEN, ids=lambda s: str(s)[:40])
def test_hand_written_schemas_are_satisfied(schema: dict) -> None:
    value = build(schema)
    assert jsonschema.validators.validator_for(schema)(schema).is_valid(value)


def test_draft4_boolean_exclusive_bounds() -> None:
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer",
              "minimum": 1, "exclusiveMinimum": True, "maximum": 3, "exclusiveMaximum": True}  # fmt: skip
    value = instance_for(schema, rng=random.Random(1), hints=Hints())
    jsonschema.Draft4Validator(schema).validate(value)
    assert value == 2


def test_draft7_tuple_items_and_additional_items() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array",
              "items": [{"type": "string"}, {"type": "number"}], "additionalItems": False}  # fmt: skip
    value = instance_for(schema, rng=random.Random(1), hints=WEATHER_PROMPT)
    jsonschema.Draft7Validator(schema).validate(value)
    assert isinstance(value[0], str) and isinstance(value[1], (int, float))


@pytest.mark.parametrize("pattern", ["^\\d{3}-\\d{4}$", "^[a-z]+$", "^[A-Z]{2}\\d{2}$", "^\\w+@\\w+\\.com$",
                                     "^(?:\\+1-)?\\d{3}$", "[aeiou]{3}"])  # fmt: skip
def test_simple_patterns_are_matched(pattern: str) -> None:
    value = build({"type": "string", "pattern": pattern})
    assert re.search(pattern, value)


# --- meaning: values echo the prompt ---------------------------------------------------------


def test_city_field_takes_the_city_from_the_prompt() -> None:
    value = build({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    assert value == {"city": "Paris"}


def test_email_age_and_summary_read_like_the_prompt() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string"}, "age": {"type": "integer"},
                                               "summary": {"type": "string"}},
              "required": ["email", "age", "summary"]}  # fmt: skip
    value = build(schema)
    assert value["email"] == "ana@example.org"
    assert value["age"] == 34
    assert "Paris" in value["summary"] and "lorem" not in value["summary"].lower()


def test_prompt_number_outside_the_bounds_is_not_used() -> None:
    value = build({"type": "integer", "minimum": 50, "maximum": 60}, Hints.from_text("I have 3 cats"))
    assert 50 <= value <= 60


def test_name_field_uses_a_capitalized_phrase_and_enum_follows_the_prompt() -> None:
    hints = Hints.from_text("Create a profile for Marie Curie; she prefers fahrenheit.")
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "unit": {"enum": ["celsius", "fahrenheit"]}},
              "required": ["name", "unit"]}  # fmt: skip
    assert build(schema, hints) == {"name": "Marie Curie", "unit": "fahrenheit"}


def test_sibling_numbers_take_successive_numbers_from_the_prompt() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
              "required": ["a", "b"]}  # fmt: skip
    assert build(schema, Hints.from_text("What is 3 + 5?")) == {"a": 3, "b": 5}


def test_array_of_places_lists_every_place_named() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    hints = Hints.from_text("Compare Paris, Tokyo and Lima").for_field("cities")
    assert build(schema, hints) == ["Paris", "Tokyo", "Lima"]


def test_same_seed_same_value_and_seeds_vary_random_parts() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "city": {"type": "string"}},
              "required": ["id", "city"]}  # fmt: skip
    assert build(schema, seed=3) == build(schema, seed=3)
    assert len({build(schema, seed=s)["id"] for s in range(5)}) == 5


# --- generated schemas --------------------------------------------------------------------

_FORMATS = ["date", "date-time", "time", "email", "uri", "uuid", "ipv4"]
_PATTERNS = ["^[a-z]+$", "^\\d{3}-\\d{4}$", "^[A-Z][a-z]{2,5}$", "^(yes|no)$", "x"]


@st.composite
def string_schemas(draw: st.DrawFn) -> dict:
    schema: dict = {"type": "string"}
    choice = draw(st.sampled_from(["plain", "format", "pattern", "length"]))
    if choice == "format":
        schema["format"] = draw(st.sampled_from(_FORMATS))
    elif choice == "pattern":
        schema["pattern"] = draw(st.sampled_from(_PATTERNS))
    elif choice == "length":
        low = draw(st.integers(0, 30))
        schema.update(minLength=low, maxLength=low + draw(st.integers(0, 30)))
    return schema


@st.composite
def number_schemas(draw: st.DrawFn) -> dict:
    schema: dict = {"type": draw(st.sampled_from(["integer", "number"]))}
    low = draw(st.integers(-1000, 1000))
    width = draw(st.integers(10, 500))
    if draw(st.booleans()):
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = low + width
    if draw(st.booleans()):
        schema["multipleOf"] = draw(st.sampled_from([1, 2, 5, 0.5, 0.25, 0.1]))
    return schema


leaf_schemas = st.one_of(
    string_schemas(), number_schemas(), st.just({"type": "boolean"}), st.just({"type": "null"}),
    st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), min_size=1, max_size=4, unique=True).map(
        lambda options: {"enum": options}),
    st.just({}),
)  # fmt: skip


def _composite(children: st.SearchStrategy) -> st.SearchStrategy:
    names = st.sampled_from(["city", "name", "age", "email", "summary", "tags", "count", "id", "x", "createdAt"])
    objects = st.builds(
        lambda props, strict, required_all: {
            "type": "object", "properties": props,
            "required": list(props) if required_all or strict else list(props)[: len(props) // 2],
            **({"additionalProperties": False} if strict else {}),
        },
        st.dictionaries(names, children, max_size=4), st.booleans(), st.booleans(),
    )  # fmt: skip
    arrays = st.builds(
        lambda items, low, extra: {"type": "array", "items": items, "minItems": low, "maxItems": low + extra},
        children, st.integers(0, 3), st.integers(0, 3),
    )
    nullable = children.map(lambda child: {"anyOf": [child, {"type": "null"}]})
    distinct_types = st.lists(st.sampled_from(["string", "boolean", "null", "object", "array"]), min_size=2,
                              max_size=4, unique=True)  # fmt: skip
    one_of = distinct_types.map(lambda kinds: {"oneOf": [{"type": k} for k in kinds]})
    return st.one_of(objects, arrays, nullable, one_of)


generated_schemas = st.recursive(leaf_schemas, _composite, max_leaves=10)


@settings(max_examples=60, deadline=None)
@given(generated_schemas, st.integers(0, 2**32), st.sampled_from(["", "Book a table in Lima for 4 people",
                                                                  "Email bob@x.io about the 2025-05-01 launch"]))
def test_generated_schemas_are_satisfied(schema: dict, seed: int, prompt: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    value = instance_for(schema, rng=random.Random(seed), hints=Hints.from_text(prompt))
    jsonschema.validate(value, schema)
    assert instance_for(schema, rng=random.Random(seed), hints=Hints.from_text(prompt)) == value

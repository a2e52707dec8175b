"""Structured output when the prompt describes the JSON: json_object, field lists, fenced JSON."""

from __future__ import annotations

import json
from typing import Literal, Optional

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from behest_local.providers.emulated.composer import compose
from behest_local.providers.emulated.prompt_schema import schema_in


class Ticket(BaseModel):
    customer: str
    priority: Literal["low", "medium", "high"]
    order_number: int
    tags: list[str]
    note: Optional[str] = None


TICKET_SCHEMA = Ticket.model_json_schema()
QUESTION = "Extract the ticket: Ana Lopez writes: order 4711 arrived broken, please help!"
# What instructor's JSON and MD_JSON modes put in the system prompt.
INSTRUCTOR_SYSTEM = ("As a genius expert, your task is to understand the content and provide the parsed objects "
                     f"in json that match the following json_schema:\n\n{json.dumps(TICKET_SCHEMA, indent=2)}\n\n"
                     "Make sure to return an instance of the JSON, not the schema itself")


def reply(system: str, user: str, **extra) -> str:
    request = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}], **extra}
    result = compose(request)
    assert result.tool_calls == () and isinstance(result.content, str)
    return result.content


def test_json_object_mode_returns_an_instance_of_the_schema_in_the_system_prompt() -> None:
    value = json.loads(reply(INSTRUCTOR_SYSTEM, QUESTION, response_format={"type": "json_object"}))
    ticket = Ticket.model_validate(value)
    assert ticket.customer == "Ana Lopez" and ticket.order_number == 4711 and "title" not in value


def test_asked_for_a_json_code_block_the_reply_is_fenced_schema_valid_json() -> None:
    text = reply(INSTRUCTOR_SYSTEM, QUESTION + "\n\nReturn the correct JSON response within a ```json codeblock.")
    assert text.startswith("```json\n") and text.endswith("\n```")
    Ticket.model_validate_json(text.removeprefix("```json\n").removesuffix("\n```"))


FIELD_LIST = """Reply in JSON with these fields:
- customer (str): who wrote
- priority: Literal["low", "medium", "high"]
- order_number: int
- tags: list[str]
- note: Optional[str] = None
"""


def test_a_pydantic_style_field_list_becomes_a_schema_with_enums_and_required_fields() -> None:
    schema = schema_in(FIELD_LIST)
    assert schema == {"type": "object", "required": ["customer", "priority", "order_number", "tags"], "properties": {
        "customer": {"type": "string"}, "priority": {"enum": ["low", "medium", "high"]},
        "order_number": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string"}}}
    value = json.loads(reply(FIELD_LIST, QUESTION, response_format={"type": "json_object"}))
    jsonschema.validate(value, schema)


def test_prose_with_a_colon_is_not_a_field_list_and_text_stays_text() -> None:
    assert schema_in("Note: be brief.\nTone: friendly") is None
    assert not reply("You are helpful.", "Explain what a JSON schema like {\"type\": \"object\"} is.").startswith("{")


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_schema_wrapped_in_name_and_schema_is_unwrapped(wrapped: bool) -> None:
    shown = {"name": "ticket", "schema": TICKET_SCHEMA} if wrapped else TICKET_SCHEMA
    assert schema_in(f"Return JSON matching {json.dumps(shown)} please") == TICKET_SCHEMA


enum_values = st.lists(st.text("abcdefgh", min_size=1, max_size=6), min_size=1, max_size=4, unique=True)


@settings(max_examples=60, deadline=None)
@given(enum_values, st.sampled_from(["int", "float", "bool", "str", "list[int]", "Optional[int]"]))
def test_any_described_enum_takes_one_of_its_values_and_required_fields_are_present(values, other) -> None:
    literal = ", ".join(json.dumps(v) for v in values)
    prompt = f"Answer in JSON.\nstatus: Literal[{literal}]\ncount: {other}\n"
    value = json.loads(reply(prompt, "Classify this.", response_format={"type": "json_object"}))
    assert value["status"] in values
    if not other.startswith("Optional"):
        assert "count" in value

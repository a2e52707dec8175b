"""Responses items as the gateway stores and lists them: ids, and content as parts.

Flow: ``POST /v1/responses`` keeps its request's ``input`` as ``input_items(body)``
(``GET /v1/responses/{id}/input_items`` lists them, a chained request replays them), and
``POST /v1/conversations[/{id}/items]`` checks what a client adds with
``conversation_items``. Both give every item an id and a ``status``, and a message's
string ``content`` becomes one text part, which is how OpenAI lists a plain-string
``input`` (openai-surface.md §1: ``{"id":"msg_…","type":"message","role":"user",
"content":[{"type":"input_text","text":"…"}]}``). A stored item is itself a valid input
item: replaying a chain is putting the stored items in front of ``input``, and
``responses_to_chat`` maps them like any other.
"""

from __future__ import annotations

import secrets
from typing import Any

from behest_local.dialects.checks import wrong_type
from behest_local.dialects.responses_request import check_item
from behest_local.errors import InvalidRequestError

MAX_ADDED_ITEMS = 20
"""Items one ``conversations.create`` or ``items.create`` may add (OpenAI's limit, §2)."""

_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco",
             "reasoning": "rs"}


def new_id(kind: str) -> str:
    """A fresh item id for an item of type ``kind`` (``msg_…``, ``fc_…``, ``fco_…``)."""
    return f"{_PREFIXES.get(kind, 'item')}_{secrets.token_hex(24)}"


def stored_item(item: dict) -> dict:
    """A checked input item as stored: typed, with an id (its own, if it has one), a
    ``status``, and a message's string ``content`` as one text part."""
    kind = item.get("type", "message")
    stored = {**item, "type": kind}
    if not isinstance(stored.get("id"), str) or not stored["id"]:
        stored["id"] = new_id(kind)
    if kind == "message" and isinstance(item["content"], str):
        part = "output_text" if item["role"] == "assistant" else "input_text"
        stored["content"] = [{"type": part, "text": item["content"]}]
    if kind != "reasoning":
        stored.setdefault("status", "completed")
    return stored


def input_items(body: dict) -> list[dict]:
    """A validated ``/v1/responses`` body's ``input``, as stored items."""
    value = body["input"]
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": value}]
    return [stored_item(item) for item in value]


def conversation_items(raw: Any, param: str = "items") -> list[dict]:
    """The items a client adds to a conversation, checked as ``input`` items are, stored."""
    if not isinstance(raw, list):
        raise wrong_type(param, "an array of items", raw)
    if len(raw) > MAX_ADDED_ITEMS:
        raise InvalidRequestError(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{MAX_ADDED_ITEMS}, but got an array with length {len(raw)} instead.", param=param,
            code="array_above_max_length")
    for index, item in enumerate(raw):
        check_item(item, f"{param}[{index}]")
    return [stored_item(item) for item in raw]


__all__ = ["MAX_ADDED_ITEMS", "conversation_items", "input_items", "new_id", "stored_item"]

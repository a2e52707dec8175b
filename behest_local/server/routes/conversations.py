"""The Conversations API: ``/v1/conversations`` and its items (openai-surface.md §2).

``POST /v1/conversations`` (``metadata``, up to 20 ``items``), ``GET``/``POST`` (the
metadata update)/``DELETE /v1/conversations/{id}``, and the items: ``POST .../items``
(the list of the items added), ``GET .../items`` (OpenAI's cursor page, newest first by
default), ``GET``/``DELETE .../items/{item_id}`` (a delete answers the conversation
object, as OpenAI does). A response created with ``conversation`` reads the items as its
context and appends its input and output items (``routes/responses.py``). The rows are
``stored/conversations.py``'s, keyed by the caller's project: another project's
conversation is not found.
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from behest_local.dialects.checks import check_metadata, reject_unknown, require_body_object
from behest_local.dialects.responses_items import conversation_items
from behest_local.errors import InvalidRequestError, NotFoundError
from behest_local.server.body import read_json
from behest_local.server.keys import PRINCIPAL, STORED
from behest_local.server.render import json_response
from behest_local.stored import conversations as stored
from behest_local.stored.pages import parse_page

_CREATE_FIELDS = ("metadata", "items", "safety_identifier")


def setup_conversations(app: web.Application) -> None:
    """The routes (the database is opened by ``responses.setup_responses``)."""
    app.router.add_post("/v1/conversations", create_conversation)
    app.router.add_get("/v1/conversations/{id}", get_conversation)
    app.router.add_post("/v1/conversations/{id}", update_conversation)
    app.router.add_delete("/v1/conversations/{id}", delete_conversation)
    app.router.add_post("/v1/conversations/{id}/items", add_items)
    app.router.add_get("/v1/conversations/{id}/items", list_items)
    app.router.add_get("/v1/conversations/{id}/items/{item}", get_item)
    app.router.add_delete("/v1/conversations/{id}/items/{item}", delete_item)


def _project(request: web.Request) -> str:
    return request[PRINCIPAL].project.id


def not_found(conversation_id: str) -> NotFoundError:
    return NotFoundError(f"Conversation with id '{conversation_id}' not found.")


def _checked_create(raw: object) -> tuple[dict, list[dict]]:
    body = require_body_object(raw)
    reject_unknown(body, _CREATE_FIELDS)
    check_metadata(body.get("metadata"))
    items = body.get("items")
    return body.get("metadata") or {}, [] if items is None else conversation_items(items)


def _checked_update(raw: object) -> dict:
    body = require_body_object(raw)
    reject_unknown(body, ("metadata",))
    if body.get("metadata") is None:
        raise InvalidRequestError("Missing required parameter: 'metadata'.", param="metadata",
                                  code="missing_required_parameter")
    check_metadata(body["metadata"])
    return body["metadata"]


def _checked_items(raw: object) -> list[dict]:
    body = require_body_object(raw)
    reject_unknown(body, ("items",))
    if body.get("items") is None:
        raise InvalidRequestError("Missing required parameter: 'items'.", param="items",
                                  code="missing_required_parameter")
    return conversation_items(body["items"])


async def create_conversation(request: web.Request) -> web.Response:
    metadata, items = await read_json(request, _checked_create)
    conversation_id = "conv_" + secrets.token_hex(24)
    conversation = await request.app[STORED].run(stored.create, _project(request),
                                                 conversation_id, int(time.time()), metadata,
                                                 items)
    return json_response(conversation)


async def get_conversation(request: web.Request) -> web.Response:
    conversation_id = request.match_info["id"]
    conversation = await request.app[STORED].run(stored.get, _project(request),
                                                 conversation_id)
    if conversation is None:
        raise not_found(conversation_id)
    return json_response(conversation)


async def update_conversation(request: web.Request) -> web.Response:
    metadata = await read_json(request, _checked_update)
    conversation_id = request.match_info["id"]
    conversation = await request.app[STORED].run(stored.update, _project(request),
                                                 conversation_id, metadata)
    if conversation is None:
        raise not_found(conversation_id)
    return json_response(conversation)


async def delete_conversation(request: web.Request) -> web.Response:
    conversation_id = request.match_info["id"]
    if not await request.app[STORED].run(stored.delete, _project(request), conversation_id):
        raise not_found(conversation_id)
    return json_response({"id": conversation_id, "object": "conversation.deleted",
                          "deleted": True})


async def add_items(request: web.Request) -> web.Response:
    items = await read_json(request, _checked_items)
    conversation_id = request.match_info["id"]
    added = await request.app[STORED].run(stored.add_items, _project(request), conversation_id,
                                          items)
    if added is None:
        raise not_found(conversation_id)
    return json_response(added)


async def list_items(request: web.Request) -> web.Response:
    conversation_id = request.match_info["id"]
    page = await request.app[STORED].run(stored.items_page, _project(request), conversation_id,
                                         parse_page(request.query))
    if page is None:
        raise not_found(conversation_id)
    return json_response(page)


async def get_item(request: web.Request) -> web.Response:
    conversation_id, item_id = request.match_info["id"], request.match_info["item"]
    state, project = request.app[STORED], _project(request)
    item = await state.run(stored.get_item, project, conversation_id, item_id)
    if item is None:
        if await state.run(stored.get, project, conversation_id) is None:
            raise not_found(conversation_id)
        raise NotFoundError(f"Item with id '{item_id}' not found.")
    return json_response(item)


async def delete_item(request: web.Request) -> web.Response:
    conversation_id, item_id = request.match_info["id"], request.match_info["item"]
    state, project = request.app[STORED], _project(request)
    conversation = await state.run(stored.get, project, conversation_id)
    if conversation is None:
        raise not_found(conversation_id)
    if not await state.run(stored.delete_item, project, conversation_id, item_id):
        raise NotFoundError(f"Item with id '{item_id}' not found.")
    return json_response(conversation)

"""Conversations: the queries ``server/routes/conversations.py`` runs on the store's thread.

A conversation is a row (id, ``created_at``, ``metadata``) and its items, rows of
``items`` owned by its id in the order they were added: by ``conversations.create``,
``items.create``, and every response created with ``conversation`` (its input items, then
its output). Each function takes the connection and the caller's project first; another
project's conversation is not found.
"""

from __future__ import annotations

import json
import sqlite3

from behest_local.errors import InvalidRequestError
from behest_local.stored.database import count_items, room
from behest_local.stored.pages import Page, item_page


def view(row: tuple) -> dict:
    """The ``conversation`` object of a ``(id, created_at, metadata)`` row."""
    return {"id": row[0], "object": "conversation", "created_at": row[1],
            "metadata": json.loads(row[2])}


def create(conn: sqlite3.Connection, project: str, conversation_id: str, created_at: int,
           metadata: dict, items: list[dict]) -> dict:
    room(conn, project, len(items))
    conn.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)",
                 (project, conversation_id, created_at, json.dumps(metadata)))
    append(conn, project, conversation_id, items)
    return view((conversation_id, created_at, json.dumps(metadata)))


def get(conn: sqlite3.Connection, project: str, conversation_id: str) -> dict | None:
    row = conn.execute("SELECT id, created_at, metadata FROM conversations WHERE project = ? "
                       "AND id = ?", (project, conversation_id)).fetchone()
    return view(row) if row else None


def update(conn: sqlite3.Connection, project: str, conversation_id: str, metadata: dict
           ) -> dict | None:
    conn.execute("UPDATE conversations SET metadata = ? WHERE project = ? AND id = ?",
                 (json.dumps(metadata), project, conversation_id))
    return get(conn, project, conversation_id)


def delete(conn: sqlite3.Connection, project: str, conversation_id: str) -> bool:
    """Delete the conversation and its items (they can no longer be reached); False if
    there was none."""
    if not conn.execute("DELETE FROM conversations WHERE project = ? AND id = ?",
                        (project, conversation_id)).rowcount:
        return False
    removed = conn.execute("DELETE FROM items WHERE project = ? AND owner = ?",
                           (project, conversation_id)).rowcount
    count_items(conn, project, -removed)
    return True


def append(conn: sqlite3.Connection, project: str, conversation_id: str, items: list[dict]
           ) -> bool:
    """Add ``items`` at the end of the conversation; False if it does not exist (a
    response's end finds it deleted meanwhile: nothing is added)."""
    if get(conn, project, conversation_id) is None:
        return False
    conn.executemany("INSERT INTO items (project, owner, id, item) VALUES (?, ?, ?, ?)",
                     [(project, conversation_id, item["id"], json.dumps(item)) for item in items])
    count_items(conn, project, len(items))
    return True


def add_items(conn: sqlite3.Connection, project: str, conversation_id: str, items: list[dict]
              ) -> dict | None:
    """``items.create``: the list of the items added; None when there is no conversation."""
    if get(conn, project, conversation_id) is None:
        return None
    room(conn, project, len(items))
    append(conn, project, conversation_id, items)
    return {"object": "list", "data": items, "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None, "has_more": False}


def items_page(conn: sqlite3.Connection, project: str, conversation_id: str, page: Page
               ) -> dict | None:
    if get(conn, project, conversation_id) is None:
        return None
    return item_page(conn, project, conversation_id, page)


def all_items(conn: sqlite3.Connection, project: str, conversation_id: str, limit: int
              ) -> list[dict] | None:
    """Every item, oldest first (a response's context); None when there is no such
    conversation; a 400 past ``limit`` items."""
    if get(conn, project, conversation_id) is None:
        return None
    rows = conn.execute("SELECT item FROM items WHERE project = ? AND owner = ? ORDER BY seq "
                        "LIMIT ?", (project, conversation_id, limit + 1)).fetchall()
    if len(rows) > limit:
        raise InvalidRequestError(
            f"Conversation {conversation_id!r} holds more than {limit:,} items, the local "
            "limit for one request's context. Delete items, or start a new conversation.",
            param="conversation", code="context_length_exceeded")
    return [json.loads(item) for item, in rows]


def get_item(conn: sqlite3.Connection, project: str, conversation_id: str, item_id: str
             ) -> dict | None:
    row = conn.execute("SELECT item FROM items WHERE project = ? AND owner = ? AND id = ? "
                       "ORDER BY seq LIMIT 1", (project, conversation_id, item_id)).fetchone()
    return json.loads(row[0]) if row else None


def delete_item(conn: sqlite3.Connection, project: str, conversation_id: str, item_id: str
                ) -> bool:
    removed = conn.execute("DELETE FROM items WHERE project = ? AND owner = ? AND id = ?",
                           (project, conversation_id, item_id)).rowcount
    count_items(conn, project, -removed)
    return removed > 0

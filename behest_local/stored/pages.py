"""OpenAI's cursor pages over stored items: ``after``/``limit``/``order`` in, a list out.

A list is ``{"object": "list", "data": [...], "first_id", "last_id", "has_more"}``
(openai-surface.md §0): the SDK asks for the next page with ``after=<last_id>`` and stops
when ``has_more`` is false. Items keep their insertion order in the ``items`` table's
``seq``; ``order`` defaults to ``desc`` (newest first), as OpenAI's item lists do.
``parse_page`` checks the query (400s naming the parameter), ``item_page`` runs it on
the store's thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import NamedTuple

from behest_local.errors import InvalidRequestError

DEFAULT_LIMIT, MAX_LIMIT = 20, 100


class Page(NamedTuple):
    after: str | None = None
    limit: int = DEFAULT_LIMIT
    order: str = "desc"


def parse_page(query: Mapping[str, str]) -> Page:
    """The page a list request asks for; 400 for a bad ``limit`` or ``order``."""
    raw = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequestError(
                f"Invalid 'limit': expected an integer between 1 and {MAX_LIMIT}, but got "
                f"{raw!r} instead.", param="limit", code="invalid_value")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError(f"Invalid 'order': expected 'asc' or 'desc', but got {order!r} "
                                  "instead.", param="order", code="invalid_value")
    return Page(query.get("after") or None, limit, order)


def item_page(conn: sqlite3.Connection, project: str, owner: str, page: Page) -> dict:
    """One page of ``owner``'s items (a response's input, a conversation's items)."""
    where, args = "project = ? AND owner = ?", [project, owner]
    if page.after is not None:
        row = conn.execute("SELECT seq FROM items WHERE project = ? AND owner = ? AND id = ?",
                           (project, owner, page.after)).fetchone()
        if row is None:
            raise InvalidRequestError(f"Invalid 'after': no item with id '{page.after}' in "
                                      "this list.", param="after", code="invalid_value")
        where += " AND seq > ?" if page.order == "asc" else " AND seq < ?"
        args.append(row[0])
    rows = conn.execute(f"SELECT item FROM items WHERE {where} ORDER BY seq "
                        f"{page.order.upper()} LIMIT ?", (*args, page.limit + 1)).fetchall()
    data = [json.loads(item) for item, in rows[:page.limit]]
    return {"object": "list", "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(rows) > page.limit}

"""Stored responses: the queries ``server/routes/responses.py`` runs on the store's thread.

Each function takes the connection first (``StoredState.run`` calls it inside one
transaction) and the caller's project second: a response of another project is not
found. A response is kept as its whole object (``body``, what ``GET`` returns) plus its
request's input items (rows of ``items`` owned by its id); ``previous`` links the chain
that ``chain`` walks back to rebuild a conversation for ``previous_response_id``.
"""

from __future__ import annotations

import json
import sqlite3

from behest_local.errors import InvalidRequestError
from behest_local.stored import conversations
from behest_local.stored.database import count_items
from behest_local.stored.pages import Page, item_page

MAX_CONTEXT_ITEMS = 10_000
"""Items one request may bring in through ``previous_response_id`` or ``conversation``."""
UNFINISHED = ("queued", "in_progress")
"""A background response's statuses while it runs: anything else is final."""


def save(conn: sqlite3.Connection, project: str, response: dict, inputs: list[dict] | None,
         conversation: str | None = None, appended: list[dict] | None = None) -> None:
    """Store ``response`` (replacing an earlier state of it), with its input items when
    given (the first time only), and append ``appended`` to ``conversation`` (if it still
    exists). A final state ends its background run: the run's spec is dropped."""
    if response["status"] not in UNFINISHED:
        conn.execute("DELETE FROM runs WHERE project = ? AND id = ?", (project, response["id"]))
    output = response.get("output") or []
    old = conn.execute("SELECT outputs FROM responses WHERE project = ? AND id = ?",
                       (project, response["id"])).fetchone()
    conn.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (project, response["id"], response["created_at"], response["status"],
                  response.get("previous_response_id"), len(output), json.dumps(response)))
    delta = len(output) - (old[0] if old else 0)
    if inputs:
        conn.executemany("INSERT INTO items (project, owner, id, item) VALUES (?, ?, ?, ?)",
                         [(project, response["id"], item["id"], json.dumps(item))
                          for item in inputs])
        delta += len(inputs)
    count_items(conn, project, delta)
    if conversation is not None and appended:
        conversations.append(conn, project, conversation, appended)


def save_run(conn: sqlite3.Connection, project: str, response: dict, inputs: list[dict],
             spec: dict) -> None:
    """Store a background response as it starts, with what its run needs to start again
    after a restart (``spec``, JSON: ``routes/responses_runs.Run``)."""
    save(conn, project, response, inputs)
    conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)",
                 (project, response["id"], json.dumps(spec)))


def runs_to_resume(conn: sqlite3.Connection) -> list[dict]:
    """The specs of the background runs a stop interrupted (their response unfinished)."""
    return [json.loads(spec) for spec, in conn.execute(
        f"SELECT r.spec FROM runs r JOIN responses s USING (project, id) WHERE s.status IN "
        f"({', '.join('?' for _ in UNFINISHED)}) ORDER BY s.created_at", UNFINISHED)]


def get(conn: sqlite3.Connection, project: str, response_id: str) -> dict | None:
    row = conn.execute("SELECT body FROM responses WHERE project = ? AND id = ?",
                       (project, response_id)).fetchone()
    return json.loads(row[0]) if row else None


def delete(conn: sqlite3.Connection, project: str, response_id: str) -> bool:
    """Delete the response and its input items; False if there was none."""
    row = conn.execute("DELETE FROM responses WHERE project = ? AND id = ? RETURNING outputs",
                       (project, response_id)).fetchone()
    if row is None:
        return False
    conn.execute("DELETE FROM runs WHERE project = ? AND id = ?", (project, response_id))
    inputs = conn.execute("DELETE FROM items WHERE project = ? AND owner = ?",
                          (project, response_id)).rowcount
    count_items(conn, project, -(row[0] + inputs))
    return True


def input_page(conn: sqlite3.Connection, project: str, response_id: str, page: Page
               ) -> dict | None:
    """A page of the response's input items; None when there is no such response."""
    if not conn.execute("SELECT 1 FROM responses WHERE project = ? AND id = ?",
                        (project, response_id)).fetchone():
        return None
    return item_page(conn, project, response_id, page)


def chain(conn: sqlite3.Connection, project: str, response_id: str) -> list[dict] | None:
    """The items of ``response_id`` and the responses it chains onto, oldest first: each
    one's input items, then its output. None when ``response_id`` is not stored; a
    deleted response earlier in the chain ends it there. Past ``MAX_CONTEXT_ITEMS``, 400."""
    turns: list[list[dict]] = []
    total, current = 0, response_id
    while current is not None:
        row = conn.execute("SELECT previous, body FROM responses WHERE project = ? AND id = ?",
                           (project, current)).fetchone()
        if row is None:
            if not turns:
                return None
            break
        inputs = [json.loads(item) for item, in conn.execute(
            "SELECT item FROM items WHERE project = ? AND owner = ? ORDER BY seq",
            (project, current))]
        turn = inputs + (json.loads(row[1]).get("output") or [])
        total += len(turn)
        if total > MAX_CONTEXT_ITEMS:
            raise InvalidRequestError(
                f"The chain of 'previous_response_id' {response_id!r} holds more than "
                f"{MAX_CONTEXT_ITEMS:,} items, the local limit for one request's context. "
                "Start a new chain with the turns that matter in 'input'.",
                param="previous_response_id", code="context_length_exceeded")
        turns.append(turn)
        current = row[0]
    return [item for turn in reversed(turns) for item in turn]


def interrupt_unfinished(conn: sqlite3.Connection, message: str) -> int:
    """Mark every background response left queued or in progress with no run to resume
    it (``runs_to_resume`` has none: an older gateway's, or its spec is gone) as failed
    with ``message``; how many there were."""
    rows = conn.execute(f"SELECT project, body FROM responses s WHERE status IN "
                        f"({', '.join('?' for _ in UNFINISHED)}) AND NOT EXISTS (SELECT 1 "
                        "FROM runs r WHERE r.project = s.project AND r.id = s.id)",
                        UNFINISHED).fetchall()
    for project, body in rows:
        response = json.loads(body)
        response.update(status="failed", error={"code": "server_error", "message": message})
        conn.execute("UPDATE responses SET status = 'failed', body = ? WHERE project = ? "
                     "AND id = ?", (json.dumps(response), project, response["id"]))
    return len(rows)

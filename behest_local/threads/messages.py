"""What a thread keeps of a message, and how a stored message is shown.

Shared by the store (``store.py``, which writes and lists messages) and the turn
(``turn.py``, which decides what a chat request adds to its thread), so neither imports
the other for it.

A stored message may hold a 20 MiB text, and the store's thread runs its JSON: encoding it
in one ``json.dumps`` would hold the GIL (and so the event loop) ~60 ms, so it is encoded a
piece at a time (``json_text.encoded``), and a listed message is the stored text with its
fields around it (``view_text``), not decoded and encoded again.
"""

from __future__ import annotations

import json

from behest_local.json_text import encoded

SYSTEM_ROLES = frozenset({"system", "developer"})
_KEPT = ("role", "content", "name", "tool_calls", "tool_call_id")


def normalize(message: dict) -> dict:
    """The parts of a message a thread keeps (the model-visible ones), without nulls."""
    return {k: message[k] for k in _KEPT if message.get(k) is not None}


def message_view(row_id: int, message: dict, created_at: str) -> dict:
    """A stored message as ``GET /v1/threads/{id}/messages`` shows it."""
    return {"id": f"msg_{row_id}", "object": "thread.message", **message,
            "created_at": created_at}


def view_text(row_id: int, stored: str, created_at: str) -> str:
    """``message_view`` as JSON, made around the message's stored JSON text."""
    inner = stored.strip()[1:-1].strip()
    return (f'{{"id": "msg_{row_id}", "object": "thread.message"{", " if inner else ""}{inner}, '
            f'"created_at": {json.dumps(created_at)}}}')


__all__ = ["SYSTEM_ROLES", "encoded", "message_view", "normalize", "view_text"]

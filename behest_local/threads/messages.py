"""What a thread keeps of a message, and how a stored message is shown.

Shared by the store (``store.py``, which writes and lists messages) and the turn
(``turn.py``, which decides what a chat request adds to its thread), so neither imports
the other for it.
"""

from __future__ import annotations

SYSTEM_ROLES = frozenset({"system", "developer"})
_KEPT = ("role", "content", "name", "tool_calls", "tool_call_id")


def normalize(message: dict) -> dict:
    """The parts of a message a thread keeps (the model-visible ones), without nulls."""
    return {k: message[k] for k in _KEPT if message.get(k) is not None}


def message_view(row_id: int, message: dict, created_at: str) -> dict:
    """A stored message as ``GET /v1/threads/{id}/messages`` shows it."""
    return {"id": f"msg_{row_id}", "object": "thread.message", **message,
            "created_at": created_at}

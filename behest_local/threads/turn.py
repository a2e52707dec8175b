"""One chat turn in a thread: the history goes in, the new messages and the reply come out.

``server/routes/behest.begin_turn`` loads the thread's history and builds a :class:`Turn`;
the chat handler sends ``turn.body`` (history prepended) to the provider, and either
``turn.record(completion)`` or iterates the stream through ``turn.tap(chunks)``, which
assembles the streamed reply. The new messages and the reply are stored together, only
when the provider's answer completed: a failed or abandoned turn leaves the thread as it
was, so a retry does not duplicate the user's message.

Prepending follows "next turn: just include the same X-Thread-Id" (reference §1.5):
``[client's system messages] + history + [client's other messages]``. A client that
resends the whole conversation anyway (it starts with the stored history) is sent as is
and only its new tail is stored, so neither the model nor the thread sees turns twice.
System messages are never stored (the project prompt and the client's are per request).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from behest_local.printable import printable
from behest_local.threads.messages import SYSTEM_ROLES, normalize

if TYPE_CHECKING:
    from behest_local.threads.store import ThreadKey, ThreadStore

log = logging.getLogger("behest_local.threads")

REPLY_MAX_CHARS = 8 * 1024 * 1024
"""The longest streamed reply a thread keeps. The stream itself is relayed whole; past this
the assembled copy is dropped (and the turn not stored, as a failed one is not), so an
upstream that streams without end cannot grow the gateway's memory through a thread."""

@dataclass(slots=True)
class _Reply:
    """The assistant message of a stream, assembled from ``choices[0].delta``s."""

    content: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict] = field(default_factory=dict)
    size: int = 0
    """Characters assembled so far; past ``REPLY_MAX_CHARS`` the reply is given up."""

    @property
    def too_long(self) -> bool:
        return self.size > REPLY_MAX_CHARS

    def add(self, chunk: dict) -> None:
        if self.too_long:
            return
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self.content.append(delta["content"])
                self.size += len(delta["content"])
            for call in delta.get("tool_calls") or ():
                slot = self.tool_calls.setdefault(call.get("index", 0), {
                    "id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                slot["id"] = call.get("id") or slot["id"]
                fn = call.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
                self.size += len(fn.get("arguments") or "")
        if self.too_long:
            self.content.clear()
            self.tool_calls.clear()

    def message(self) -> dict:
        out: dict[str, Any] = {"role": "assistant", "content": "".join(self.content) or None}
        if self.tool_calls:
            out["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return out


@dataclass(slots=True)
class Turn:
    """A chat request's part in a thread; with no store (no ``X-Thread-Id``) a no-op."""

    body: dict
    """The chat body to send upstream: history prepended when in a thread."""
    store: ThreadStore | None = None
    key: ThreadKey | None = None
    new: list[dict] = field(default_factory=list)
    """The client's messages of this turn, to store with the reply."""

    @classmethod
    def start(cls, store: ThreadStore, key: ThreadKey, body: dict,
              history: list[dict]) -> Turn:
        messages = body["messages"]
        systems = [m for m in messages if m.get("role") in SYSTEM_ROLES]
        rest = [m for m in messages if m.get("role") not in SYSTEM_ROLES]
        normalized = [normalize(m) for m in rest]
        if history and normalized[:len(history)] == history:  # the client resent it all
            return cls(body, store, key, normalized[len(history):])
        return cls(dict(body, messages=[*systems, *history, *rest]), store, key, normalized)

    def record(self, completion: dict) -> None:
        """Store the turn after a non-streamed completion."""
        if self.store is None or self.key is None:
            return
        choices = completion.get("choices") or [{}]
        reply = normalize(choices[0].get("message") or {"role": "assistant", "content": None})
        self.store.append_soon(self.key, [*self.new, reply])

    def tap(self, chunks: AsyncIterator[dict]) -> AsyncIterator[dict]:
        """``chunks`` unchanged; in a thread, the assembled reply is stored at the end."""
        if self.store is None:
            return chunks
        return self._tap(chunks)

    async def _tap(self, chunks: AsyncIterator[dict]) -> AsyncIterator[dict]:
        reply = _Reply()
        async for chunk in chunks:
            reply.add(chunk)
            yield chunk
        # Reached only when the provider's stream ended normally (not on error or cancel).
        if self.store is None or self.key is None:
            return
        if reply.too_long:
            log.warning("a streamed reply in thread %r passed %s characters: relayed, but not "
                        "stored in the thread (its turn is left out, as a failed one is)",
                        printable(self.key.thread), f"{REPLY_MAX_CHARS:,}")
            return
        self.store.append_soon(self.key, [*self.new, reply.message()])

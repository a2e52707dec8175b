"""Read a chat request's ``messages`` into the few facts the emulated model answers from.

The composer never walks raw messages itself. This module owns that walk, over the bounded
view of the request (``bounds.bounded_request``): it joins the
system and developer instructions, finds the last user message (the one to answer) and the
earlier ones, and collects the trailing ``tool`` results together with the names of the
functions that produced them (looked up through the assistant's ``tool_calls`` ids). It
accepts every content shape a validated request may carry (string, None, list of parts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from behest_local.providers.emulated.bounds import CHARS, clip
from behest_local.providers.emulated.prompt_cues import message_text

_INSTRUCTION_ROLES = frozenset({"system", "developer"})
_RESULT_ROLES = frozenset({"tool", "function"})


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One tool message the client sent back.

    Attributes:
        name: the function that produced it ("tool" when the call id is unknown).
        content: its text.
    """

    name: str
    content: str

    def parsed(self) -> object:
        """The content as JSON when it is JSON, else the text itself."""
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError):
            return self.content


@dataclass(frozen=True, slots=True)
class Conversation:
    """What the emulated model needs to know about a chat so far.

    Attributes:
        instructions: system and developer messages, joined by newlines.
        user: the last user message's text ("" when there is none).
        earlier_users: the texts of previous user messages, oldest first.
        transcript: every earlier message text (user and assistant), oldest first, for
            requests such as "summarize the above".
        tool_results: the tool messages at the end of the conversation, in order.
        has_images: whether the last user message carries image parts.
    """

    instructions: str = ""
    user: str = ""
    earlier_users: tuple[str, ...] = ()
    transcript: tuple[str, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    has_images: bool = False

    @property
    def ends_with_tool_results(self) -> bool:
        """True when the client just returned tool output and expects an answer from it."""
        return bool(self.tool_results)


def read_conversation(messages: object) -> Conversation:
    """The ``Conversation`` in a request's ``messages`` (tolerant of any shape)."""
    items = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    call_names = _tool_call_names(items)
    instructions = [message_text(m.get("content")) for m in items if m.get("role") in _INSTRUCTION_ROLES]
    users = [m for m in items if m.get("role") == "user"]
    last_user = users[-1] if users else None

    results: list[ToolResult] = []
    for message in reversed(items):
        if message.get("role") not in _RESULT_ROLES:
            break
        call_id = message.get("tool_call_id")
        name = message.get("name") or (call_names.get(call_id) if isinstance(call_id, str) else None)
        results.append(ToolResult(name if isinstance(name, str) else "tool", message_text(message.get("content"))))
    results.reverse()

    transcript = [
        message_text(m.get("content"))
        for m in items
        if m is not last_user and m.get("role") in ("user", "assistant")
    ]
    content = last_user.get("content") if last_user else None
    has_images = isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("image_url", "input_image") for p in content
    )
    # A view (``bounds.bounded_request``) bounds each text and their total; joined, they
    # are bounded again.
    return Conversation(
        instructions=clip("\n".join(t for t in instructions if t), CHARS),
        user=clip(message_text(content), CHARS),
        earlier_users=tuple(message_text(m.get("content")) for m in users[:-1]),
        transcript=tuple(t for t in transcript if t.strip()),
        tool_results=tuple(results),
        has_images=has_images,
    )


def _tool_call_names(messages: list[dict]) -> dict[str, str]:
    """Map each assistant tool-call id to its function name."""
    names: dict[str, str] = {}
    for message in messages:
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(call.get("id"), str) and isinstance(function.get("name"), str):
                names[call["id"]] = function["name"]
    return names

"""Read a chat request's ``messages`` into the few facts the emulated model answers from.

The composer never walks raw messages itself. This module owns that walk, over the bounded
view of the request (``bounds.bounded_request``): it joins the
system and developer instructions, finds the last user message (the one to answer) and the
earlier ones, and collects the trailing ``tool`` results together with the names of the
functions that produced them (looked up through the assistant's ``tool_calls`` ids), and
the calls the assistant made since the last user message with their results (``calls``), which
``tool_plan`` reads so an agent loop moves forward instead of repeating itself. It accepts
every content shape a validated request may carry (string, None, list of parts).
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
class MadeCall:
    """One function call the assistant already made in this turn of the conversation.

    Attributes:
        name: the function's name.
        arguments: the arguments as canonical JSON (sorted keys, compact), so calls that a
            client re-serialised with other spacing still compare equal.
        result: the text of the tool message that answered it, or None when none did.
    """

    name: str
    arguments: str
    result: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes two calls the same call: the function and its arguments."""
        return self.name, self.arguments


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
        calls: the assistant's function calls after the last user message, oldest first.
    """

    instructions: str = ""
    user: str = ""
    earlier_users: tuple[str, ...] = ()
    transcript: tuple[str, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    has_images: bool = False
    calls: tuple[MadeCall, ...] = ()

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
        calls=_calls_since(items, last_user),
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


def canonical_arguments(arguments: object) -> str:
    """Function-call arguments as canonical JSON text (the text itself when not JSON)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            return arguments
    try:
        return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return str(arguments)


def _calls_since(messages: list[dict], last_user: dict | None) -> tuple[MadeCall, ...]:
    """The assistant's calls after ``last_user`` (all of them when there is none), answered
    or not, in order."""
    start = next((i + 1 for i in range(len(messages) - 1, -1, -1) if messages[i] is last_user), 0)
    made: list[MadeCall] = []
    results: dict[str, str] = {}
    for message in messages[start:]:
        call_id = message.get("tool_call_id")
        if message.get("role") in _RESULT_ROLES and isinstance(call_id, str):
            results[call_id] = message_text(message.get("content"))
    for message in messages[start:]:
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                continue
            call_id = call.get("id")
            result = results.get(call_id) if isinstance(call_id, str) else None
            made.append(MadeCall(function["name"], canonical_arguments(function.get("arguments")), result))
    return tuple(made)

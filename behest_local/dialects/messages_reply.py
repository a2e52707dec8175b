"""``/v1/messages`` answer side, whole: a chat completion as an Anthropic ``Message``.

``from_chat_completion`` builds the non-streamed reply (anthropic-ingress.md §3): text,
then ``tool_use`` blocks (``input`` parsed from the call's arguments; ``{}`` for none),
``stop_reason`` mapped from ``finish_reason`` (``messages_wire.STOP_REASONS``), usage with
``input_tokens`` excluding cached tokens. The stream side (``messages_stream``) builds the
same message event by event from the same helpers, so a streamed reply accumulates to the
non-streamed one.

Two things chat cannot say are worked out here, for both sides:

* **Stop sequences** (``StopWatch``): the gateway cuts the text at the first match itself
  and reports ``stop_reason: "stop_sequence"`` with the sequence that matched; a stream
  holds back only as many characters as the longest sequence minus one.
* **Thinking**: a chat reply's ``reasoning_content`` (or ``reasoning``) becomes a
  ``thinking`` block when the request asked for thinking. The emulated model has none, so
  ``emulated_thinking`` derives a short, deterministic one from the request. Signatures
  are a hash of the thinking text: stable, and recognisable as the gateway's own.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence

from behest_local.dialects.messages_wire import STOP_REASONS, native_usage

REASONING_FIELDS = ("reasoning_content", "reasoning")
"""Chat message/delta fields that carry a model's reasoning (non-standard, widely sent)."""


class StopWatch:
    """Finds the first of ``sequences`` in text fed piece by piece (see the module doc)."""

    __slots__ = ("sequences", "hold", "pending", "matched")

    def __init__(self, sequences: Sequence[str]) -> None:
        self.sequences = tuple(s for s in sequences if s)
        self.hold = max(map(len, self.sequences), default=1) - 1
        self.pending = ""
        self.matched: str | None = None

    def feed(self, text: str) -> str:
        """The part of ``pending + text`` that is safe to send; sets ``matched`` (and keeps
        nothing after the match) when a sequence appears."""
        text = self.pending + text
        cut, matched = first_match(text, self.sequences)
        if matched is not None:
            self.pending, self.matched = "", matched
            return text[:cut]
        keep = min(self.hold, len(text))
        self.pending = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep]

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return text


def first_match(text: str, sequences: Sequence[str]) -> tuple[int, str | None]:
    """Where the earliest of ``sequences`` starts in ``text``, and which (ties: the first
    listed)."""
    best, found = len(text), None
    for sequence in sequences:
        at = text.find(sequence, 0, best + len(sequence))
        if at != -1 and (at < best or found is None):
            best, found = at, sequence
    return best, found


def signature(thinking: str) -> str:
    """A ``thinking`` block's signature: a stable hash of its text, base64 like Anthropic's."""
    digest = hashlib.sha256(b"behest-local thinking\n" + thinking.encode()).digest()
    return base64.b64encode(b"BL" + digest).decode()


def emulated_thinking(chat: dict) -> str:
    """What the emulated model "thought": a deterministic note on the last user turn."""
    asked = ""
    for message in reversed(chat.get("messages") or ()):
        if message.get("role") in ("user", "tool"):
            content = message.get("content")
            asked = content if isinstance(content, str) else " ".join(
                p.get("text", "") for p in content or () if isinstance(p, dict))
            break
    asked = " ".join(asked.split())
    if len(asked) > 160:
        asked = asked[:157] + "..."
    if chat.get("tools"):
        plan = "Decide whether one of the tools answers this, then reply."
    else:
        plan = "Answer it directly and concisely."
    return f"The user wrote: \"{asked}\". {plan}" if asked else plan


def reasoning_of(message: dict) -> str:
    for name in REASONING_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def tool_input(arguments: object) -> dict:
    """A tool call's arguments as a ``tool_use.input`` object (``{}`` if empty or not one)."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def message_shell(message_id: str, model: str) -> dict:
    """A Message without content, stop reason or usage: what ``message_start`` carries."""
    return {"id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None}


def usage_of(chat_usage: dict | None) -> tuple[int, int, int]:
    """``(prompt, completion, cached)`` tokens of a chat ``usage`` (zeros when absent)."""
    usage = chat_usage or {}
    details = usage.get("prompt_tokens_details") or {}
    return (usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0,
            details.get("cached_tokens") or 0)


def from_chat_completion(completion: dict, *, message_id: str, model: str,
                         stop_sequences: Sequence[str] = (), thinking: str | None = None,
                         count: Callable[[str], int] | None = None,
                         cache: tuple[int, int] | None = None) -> dict:
    """The Message for a chat completion. ``thinking``: the block to lead with (None: the
    reply's own reasoning, if any, when thinking was asked for; ``""``: none).
    ``count`` recounts the output when a stop sequence cut the text. ``cache``: the
    prompt tokens read from and written to the cache (``messages_cache``), when the
    gateway plays the cache itself."""
    choice = (completion.get("choices") or [{}])[0]
    chat = choice.get("message") or {}
    finish = choice.get("finish_reason") or "stop"
    content: list[dict] = []
    thought = reasoning_of(chat) if thinking is None else thinking
    if thought:
        content.append({"type": "thinking", "thinking": thought,
                        "signature": signature(thought)})
    text = chat.get("content") if isinstance(chat.get("content"), str) else ""
    prompt, output, cached = usage_of(completion.get("usage"))
    matched = None
    if stop_sequences and text:
        cut, matched = first_match(text, stop_sequences)
        if matched is not None:
            text = text[:cut]
            if count is not None:
                output = count(text)
    if text:
        content.append({"type": "text", "text": text, "citations": None})
    if matched is None:
        for call in chat.get("tool_calls") or ():
            function = call.get("function") or {}
            content.append({"type": "tool_use", "id": call.get("id"),
                            "name": function.get("name"),
                            "input": tool_input(function.get("arguments"))})
    reply = message_shell(message_id, model)
    reply.update(content=content, stop_reason="stop_sequence" if matched is not None
                 else STOP_REASONS.get(finish, "end_turn"),
                 stop_sequence=matched, usage=native_usage(prompt, output, *(cache or (cached, 0))))
    return reply

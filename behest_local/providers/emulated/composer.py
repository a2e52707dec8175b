"""The emulated model's brain: turn a chat request into one deterministic reply.

``compose`` is the only entry point the emulated provider uses. It reads the conversation,
lets ``tool_plan`` decide whether this turn is a tool call, otherwise writes a text answer
(``answers``, or ``tool_use.answer_from_results`` right after tool output), and finally shapes
the text to ``response_format``: JSON valid against a ``json_schema`` (``schema_instance``) or
a JSON object for ``json_object``. The provider then applies ``stop``/``max_tokens``, streams
the reply with ``tokens.split_tokens`` and wraps it into OpenAI objects.

Bounded reading: the composer reads the view of the request that ``bounds.bounded_request``
makes (long strings clipped to head and tail, long lists to their ends, a budget of values
and characters in all), once per request (``read_request``) for all of its choices, so the
event-loop time of a reply does not grow with the size of the prompt.

Determinism: all randomness comes from one ``random.Random`` seeded by a SHA-256 of the
canonical JSON of the fields that define the question (``messages``, ``tools``,
``tool_choice``, ``response_format``, ``seed``) plus ``choice_index``; for a request the
view cut, of the view's fields and the digest of what was cut. The same request gives the
same reply on every run and machine; each of the ``n`` choices gets its own phrasing.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from dataclasses import dataclass
from typing import Any

from behest_local.providers.emulated.answers import answer_text
from behest_local.providers.emulated.bounds import CHARS, bounded_request, clip
from behest_local.providers.emulated.conversation import Conversation, read_conversation
from behest_local.providers.emulated.prompt_cues import Hints, field_words
from behest_local.providers.emulated.prompt_schema import asks_for_fence, asks_for_json, fenced, schema_in
from behest_local.providers.emulated.schema_check import mapping
from behest_local.providers.emulated.schema_instance import instance_for
from behest_local.providers.emulated.schema_values import string_role
from behest_local.providers.emulated.tool_plan import plan_calls
from behest_local.providers.emulated.tool_use import answer_from_results, result_facts

# The request fields that decide what the reply says; model, temperature, stream and the
# like change how it is delivered, not its content.
_SEED_FIELDS = ("messages", "tools", "tool_choice", "response_format", "seed")
_CALL_ID_ALPHABET = string.ascii_letters + string.digits
_CALL_ID_LENGTH = 24

# "return JSON with keys name and age", 'fields "title", "year"': the key list after the noun.
_KEY_LIST = re.compile(r"\b(?:keys?|fields?|properties|attributes|entries)\b\s*(?:named|called|like|such as)?\s*:?\s*"
                       r"(?P<list>[^.?!\n]+)", re.I)  # fmt: skip
_JSON_SKETCH_KEY = re.compile(r"[\"'](?P<key>[A-Za-z_][\w ]{0,30})[\"']\s*:")
_NUMERIC_KEYS = frozenset({"age", "count", "number", "quantity", "amount", "total", "price", "cost", "year",
                           "score", "rating", "temperature", "height", "weight", "population", "size",
                           "duration", "length", "width", "percent", "percentage", "id"})  # fmt: skip
_LIST_KEYS = frozenset({"tags", "items", "keywords", "list", "steps", "ingredients", "examples", "options",
                        "skills", "names", "points", "ideas", "reasons", "sources", "authors"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call in an assistant reply.

    Attributes:
        id: "call_" followed by 24 letters and digits, derived from the request's seed.
        name: the function's name.
        arguments: the arguments as compact JSON text.
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What the emulated model says for one choice.

    Attributes:
        content: the text (or JSON text) of the reply; None when it only calls tools.
        tool_calls: the function calls, in order.
    """

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Reading:
    """What the composer reads from one request, once for all of its choices.

    Attributes:
        request: the bounded view of the request (the request itself when within bounds).
        conversation: its messages, read (``conversation.read_conversation``).
        digest: SHA-256 of what the view cut (``b""`` when nothing).
    """

    request: dict
    conversation: Conversation
    digest: bytes = b""


def read_request(request: dict) -> Reading:
    """The bounded reading of a validated chat request (see the module docstring)."""
    view, digest = bounded_request(request)
    return Reading(view, read_conversation(view.get("messages")), digest)


def compose(request: dict, *, choice_index: int = 0, reading: Reading | None = None) -> Reply:
    """The emulated model's reply to a validated OpenAI chat completions request.

    Args:
        request: the request body (``messages`` and optional ``tools``, ``tool_choice``,
            ``parallel_tool_calls``, ``response_format``, ``seed`` ...).
        choice_index: which of the ``n`` choices this is; each gets its own phrasing.
        reading: ``read_request(request)``, when the caller composes several choices.

    Returns:
        Tool calls (``content`` None) or a text reply shaped by ``response_format``.
    """
    reading = reading or read_request(request)
    request, conversation = reading.request, reading.conversation
    rng = _rng_for(request, choice_index, reading.digest)
    calls = plan_calls(request, conversation, rng, choice_index)
    if calls:
        return Reply(None, tuple(ToolCall(_call_id(rng), name, _compact(args)) for name, args in calls))
    if conversation.ends_with_tool_results:
        text = answer_from_results(conversation, rng)
    else:
        text = answer_text(conversation, rng)
    return Reply(_shaped(text, request.get("response_format"), conversation, rng))


def seed_material(request: dict, choice_index: int) -> bytes:
    """The canonical bytes a reply's randomness is derived from (exposed for tests and docs)."""
    fields = {key: request.get(key) for key in _SEED_FIELDS}
    fields["choice_index"] = choice_index
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _rng_for(request: dict, choice_index: int, digest: bytes = b"") -> random.Random:
    digest = hashlib.sha256(seed_material(request, choice_index) + digest).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _call_id(rng: random.Random) -> str:
    return "call_" + "".join(rng.choice(_CALL_ID_ALPHABET) for _ in range(_CALL_ID_LENGTH))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _shaped(text: str, response_format: object, conversation: Conversation, rng: random.Random) -> str:
    """``text`` as the requested output format: itself, a JSON object, or schema-valid JSON.

    Without a JSON format the prompt may still ask for JSON of a shape it describes
    (instructor's MD_JSON, LangChain's output parsers): then the reply is that JSON, in a
    Markdown code block when the prompt asks for one.
    """
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in ("json_schema", "json_object"):
        prompt = _prompt_text(conversation)
        schema = schema_in(prompt) if asks_for_json(prompt) else None
        if schema is None:
            return text
        value = _compact(instance_for(schema, rng=rng, hints=_hints(text, conversation)))
        return fenced(value) if asks_for_fence(prompt) else value
    hints = _hints(text, conversation)
    if kind == "json_schema":
        schema = mapping(response_format, "json_schema").get("schema")
        if isinstance(schema, (dict, bool)):
            return _compact(instance_for(schema, rng=rng, hints=hints))
        return _compact({"answer": text})  # a schema-less json_schema: any JSON is valid
    return _compact(_json_object(text, conversation, hints, rng))


def _hints(text: str, conversation: Conversation) -> Hints:
    return Hints.from_text(_cue_text(conversation), answer=text, facts=result_facts(conversation))


def _prompt_text(conversation: Conversation) -> str:
    """Where a prompt describes the JSON it wants: the instructions and the last user message."""
    return clip(f"{conversation.instructions}\n{conversation.user}", CHARS)


def _cue_text(conversation: Conversation) -> str:
    """The prompt that generated values echo: the user's message plus any tool output."""
    return clip("\n".join([conversation.user, *(r.content for r in conversation.tool_results)]), CHARS)


def _json_object(text: str, conversation: Conversation, hints: Hints, rng: random.Random) -> dict:
    """An instance of the schema the prompt shows, else an object with the keys the prompt
    asks for, else ``{"answer": text}``."""
    prompt = _prompt_text(conversation)
    schema = schema_in(prompt)
    if schema is not None:
        value = instance_for(schema, rng=rng, hints=hints)
        if isinstance(value, dict):
            return value
    keys = requested_keys(prompt)
    if not keys:
        return {"answer": text}
    schema = {"type": "object", "properties": {k: _guess_schema(k) for k in keys}, "required": keys}
    value = instance_for(schema, rng=rng, hints=hints)
    return value if isinstance(value, dict) else {"answer": text}


def requested_keys(prompt: str) -> list[str]:
    """The JSON keys a prompt names ("with keys name and age" -> ["name", "age"])."""
    sketch = [m.group("key").strip() for m in _JSON_SKETCH_KEY.finditer(prompt)]
    if sketch:
        return list(dict.fromkeys(sketch))
    match = _KEY_LIST.search(prompt)
    if not match:
        return []
    keys = []
    for part in re.split(r",|\band\b|\bor\b|&|;", match.group("list")):
        words = part.strip().strip("`\"'“”").split()
        while words and words[0].lower() in ("a", "an", "the"):
            words.pop(0)
        if 0 < len(words) <= 3 and all(re.fullmatch(r"[\w-]+", w) for w in words):
            keys.append("_".join(w.strip("`\"'") for w in words))
    return list(dict.fromkeys(keys))


def _guess_schema(key: str) -> dict:
    """A likely schema for a key the prompt named, judged by its name."""
    words = field_words(key)
    if set(words) & _NUMERIC_KEYS:
        return {"type": "integer" if "price" not in words and "cost" not in words else "number"}
    if words[:1] in (["is"], ["has"], ["can"]) or set(words) & {"valid", "enabled", "active", "success"}:
        return {"type": "boolean"}
    if set(words) & _LIST_KEYS:
        return {"type": "array", "items": {"type": "string"}}
    if string_role(key)[0] == "date":
        return {"type": "string", "format": "date"}
    return {"type": "string"}

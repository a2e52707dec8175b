"""The prompt script of the fake upstreams: directives parsed from the last user message.

Every fake answers the same way for the same prompt, whatever its dialect: ``parse`` reads
the directives (``DIRECTIVES``; the grammar is in ``fakes/__init__``) and ``plan`` turns them and the request's
tools and token limit into a ``Plan``: the reply text, cut at the token limit, the tool
calls with arguments made from each tool's JSON schema, and usage counts. The dialect
modules only render a ``Plan`` in their own wire format. Pure, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from behest_local.providers.tokens import count_tokens, split_tokens

DIRECTIVES: dict[str, str] = {
    "[tool]": "reply with one tool call (to the first declared tool, or get_weather when "
              "none is declared), arguments built from the tool's JSON schema",
    "[tools N]": "N parallel tool calls, cycling through the declared tools (default 2)",
    "[error S]": "answer HTTP status S with the provider's native error body (e.g. 401, 429 "
                 "with Retry-After, 500, Anthropic's 529 overloaded_error)",
    "[fail N]": "streams: after N frames send the provider's native mid-stream error (OpenAI "
                "data: {\"error\"…}, Anthropic event: error, Gemini raw JSON, Cohere "
                "message-end ERROR, OpenRouter finish_reason: \"error\") and end the body",
    "[truncate N]": "streams: close the connection after N frames, with no terminator",
    "[slow MS]": "wait MS milliseconds between frames (default 50); non-streamed replies "
                 "wait once before answering",
    "[hold N]": "streams: after N frames wait until the test sets state.release; "
                "non-streamed replies wait before answering. A client that disconnects while "
                "held sets state.disconnected",
    "[filter]": "end with the provider's content-filter reason (Anthropic refusal, Gemini "
                "SAFETY, OpenAI content_filter)",
    "[cached N]": "report N cached prompt tokens (included in the prompt count)",
    "[think N]": "report N reasoning tokens (Gemini thoughtsTokenCount, OpenAI "
                 "reasoning_tokens)",
}
"""The prompt directives, as written, and what each does: the one declaration that
``parse`` (through ``DIRECTIVE``) and ``behest-local fake-upstream --help`` read."""

DIRECTIVE = re.compile(
    r"\[(" + "|".join(d[1:-1].split()[0] for d in DIRECTIVES) + r")(?:\s+(\d+))?\]",
    re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Script:
    prompt: str
    """The last user message with the directives removed."""
    tool_calls: int = 0
    error: int | None = None
    fail_after: int | None = None
    truncate_after: int | None = None
    slow_ms: int = 0
    hold_after: int | None = None
    filtered: bool = False
    cached: int = 0
    reasoning: int = 0


def parse(text: str) -> Script:
    values: dict = {}
    for match in DIRECTIVE.finditer(text):
        name, number = match.group(1).lower(), match.group(2)
        n = int(number) if number is not None else None
        if name == "tool":
            values["tool_calls"] = n or 1
        elif name == "tools":
            values["tool_calls"] = n or 2
        elif name == "error":
            values["error"] = n or 500
        elif name == "fail":
            values["fail_after"] = n or 0
        elif name == "truncate":
            values["truncate_after"] = n or 0
        elif name == "slow":
            values["slow_ms"] = n if n is not None else 50
        elif name == "hold":
            values["hold_after"] = n or 0
        elif name == "filter":
            values["filtered"] = True
        elif name == "cached":
            values["cached"] = n or 0
        elif name == "think":
            values["reasoning"] = n or 0
    prompt = " ".join(DIRECTIVE.sub(" ", text).split())
    return Script(prompt=prompt, **values)


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict


@dataclass(frozen=True, slots=True)
class Plan:
    """What the fake says, dialect-neutral."""

    script: Script
    pieces: list[str] = field(default_factory=list)
    """The reply text as stream pieces (token-sized; they concatenate to ``text``)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop: str = "stop"
    """``stop``, ``length``, ``tool_calls`` or ``filter`` (each dialect names them its way)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def reply_text(provider: str, prompt: str) -> str:
    said = prompt if len(prompt) <= 80 else prompt[:77] + "..."
    return f"Hello from the fake {provider} upstream. You said: {said}" if said else \
        f"Hello from the fake {provider} upstream."


def plan(provider: str, script: Script, *, tools: list[tuple[str, dict]], max_tokens: int | None,
         prompt_text: str) -> Plan:
    """The reply for ``script``. ``tools`` are ``(name, JSON schema)`` pairs as declared."""
    prompt_tokens = count_tokens(prompt_text) + script.cached
    if script.tool_calls:
        declared = tools or [("get_weather", {"type": "object", "properties": {
            "city": {"type": "string"}}, "required": ["city"]})]
        calls = [ToolCall(declared[i % len(declared)][0],
                          sample_arguments(declared[i % len(declared)][1]))
                 for i in range(script.tool_calls)]
        tokens = sum(count_tokens(c.name) + count_tokens(str(c.arguments)) for c in calls)
        return Plan(script, [], calls, "tool_calls", prompt_tokens, tokens + script.reasoning)
    pieces = split_tokens(reply_text(provider, script.prompt))
    stop = "filter" if script.filtered else "stop"
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces, stop = pieces[:max_tokens], "length"
    return Plan(script, pieces, [], stop, prompt_tokens, len(pieces) + script.reasoning)


def sample_arguments(schema: dict) -> dict:
    """A deterministic instance of an object schema (its required properties, or all)."""
    value = _sample(schema, "")
    return value if isinstance(value, dict) else {"value": value}


def _sample(schema: object, name: str, depth: int = 0) -> object:
    if not isinstance(schema, dict) or depth > 6:
        return "example"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        keys = schema.get("required") or list(props)
        return {k: _sample(props.get(k), k, depth + 1) for k in keys}
    if kind == "array":
        return [_sample(schema.get("items"), name, depth + 1)]
    if kind == "integer":
        return 3
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return "Paris" if any(w in name.lower() for w in ("city", "location", "place")) else "example"


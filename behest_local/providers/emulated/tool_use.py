"""Decide which tools the emulated model calls and with what arguments; read their results back.

Agent frameworks need the emulated model to take part in the tool loop: call a function when
the request points at one, then answer from what the function returned. This module owns both
halves. ``plan_calls`` applies ``tool_choice`` (none / auto / required / a named function / an
allowed-tools list), ranks tools by word overlap between the user's message and each tool's
name, description and parameters, splits "Paris and Tokyo" into parallel calls when
``parallel_tool_calls`` allows, and fills arguments through ``schema_instance``.
``answer_from_results`` turns the trailing tool messages into a sentence per result. The
composer wraps the planned calls into ``ToolCall`` objects with ids.
"""

from __future__ import annotations

import random
import re
from typing import Any

from behest_local.providers.emulated.answers import is_direct_message
from behest_local.providers.emulated.arithmetic import format_number
from behest_local.providers.emulated.conversation import Conversation, ToolResult
from behest_local.providers.emulated.prompt_cues import Hints, collapse, field_words, keywords, topic_of
from behest_local.providers.emulated.schema_check import mapping
from behest_local.providers.emulated.schema_instance import instance_for
from behest_local.providers.emulated.schema_values import string_role

_MAX_PARALLEL_CALLS = 4
_MAX_FACTS = 8
# Openings of a message that asks for something to be done or looked up.
_REQUEST = re.compile(
    r"^\W*(?:please|can you|could you|would you|what|who|where|when|why|how|which|is|are|do|does|get|find|"
    r"show|tell|give|check|look|search|book|send|create|make|list|fetch|set|add|remove|update|delete|"
    r"calculate|convert|translate|call|run|use)\b",
    re.I,
)
_SEVERAL = re.compile(r"\band\b|,|&|\bvs\.?\b|\bversus\b|\bor\b", re.I)
# Parameters whose value is one named thing, the kind a request can list several of.
_ENTITY_ROLES = frozenset({"place", "person", "title", "query"})


def function_tools(tools: object) -> list[dict]:
    """The ``function`` definitions among a request's ``tools`` (other kinds are ignored)."""
    functions = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        is_function = isinstance(tool, dict) and tool.get("type", "function") == "function"
        if is_function and isinstance(function, dict) and isinstance(function.get("name"), str):
            functions.append(function)
    return functions


def _policy(tool_choice: object, functions: list[dict]) -> tuple[str, list[dict]]:
    """``tool_choice`` as a mode ("none", "auto", "required") and the functions it allows."""
    if tool_choice in ("none", "auto", "required"):
        return str(tool_choice), functions
    if not isinstance(tool_choice, dict):
        return "auto", functions
    kind = tool_choice.get("type")
    if kind == "allowed_tools":
        allowed = mapping(tool_choice, "allowed_tools")
        listed = allowed.get("tools") if isinstance(allowed.get("tools"), list) else []
        names = {mapping(t, "function").get("name") or t.get("name") for t in listed if isinstance(t, dict)}
        mode = allowed.get("mode") if allowed.get("mode") in ("auto", "required") else "auto"
        return mode, [f for f in functions if f["name"] in names] or functions
    named = mapping(tool_choice, "function").get("name") or mapping(tool_choice, "custom").get("name")
    if isinstance(named, str):
        chosen = [f for f in functions if f["name"] == named] or [{"name": named}]
        return "required", chosen[:1]
    return "auto", functions


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in keywords(text)}


def rank_tools(functions: list[dict], text: str, hints: Hints) -> list[tuple[float, dict]]:
    """Functions with their relevance to ``text``, best first (ties keep the request's order)."""
    wanted = _stems(text)
    ranked = []
    for position, function in enumerate(functions):
        properties = mapping(mapping(function, "parameters"), "properties")
        name_words = {_stem(w) for w in field_words(function["name"])}
        other_words = _stems(str(function.get("description") or ""))
        for prop_name, prop in properties.items():
            other_words |= {_stem(w) for w in field_words(prop_name)}
            if isinstance(prop, dict):
                other_words |= _stems(str(prop.get("description") or ""))
        score = 3 * len(wanted & name_words) + len(wanted & (other_words - name_words))
        # A place ("in Paris") or a person named in the message fits a tool that takes one.
        roles = {string_role(p)[0] for p in properties}
        if (hints.places and "place" in roles) or (hints.people and "person" in roles):
            score += 0.5
        ranked.append((score, -position, function))
    ranked.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [(score, function) for score, _, function in ranked]


def plan_calls(request: dict, conversation: Conversation, rng: random.Random) -> list[tuple[str, dict]]:
    """The ``(function name, arguments)`` calls to make, or ``[]`` to answer in text."""
    functions = function_tools(request.get("tools"))
    if not functions and not isinstance(request.get("tool_choice"), dict):
        return []
    mode, candidates = _policy(request.get("tool_choice", "auto"), functions)
    if mode == "none" or not candidates:
        return []
    # After tool results the model answers, unless the client insists on another call.
    if conversation.ends_with_tool_results and mode != "required":
        return []
    user = conversation.user
    hints = Hints.from_text(user)
    ranked = rank_tools(candidates, user, hints)
    best_score, best = ranked[0]
    if mode == "auto" and not _worth_calling(best_score, best, len(candidates), user, hints):
        return []
    if request.get("parallel_tool_calls", True) is not False and _splits_into_several(best, user, hints):
        count = min(len(hints.names), _MAX_PARALLEL_CALLS)
        return [(best["name"], _arguments(best, hints.focused_on(i), rng)) for i in range(count)]
    return [(best["name"], _arguments(best, hints, rng))]


def _worth_calling(score: float, function: dict, tool_count: int, user: str, hints: Hints) -> bool:
    if not user.strip() or is_direct_message(user):
        return False
    if score >= 1:
        return True
    # A lone tool is worth a try for a question or request it could plausibly serve.
    if tool_count != 1 or not _REQUEST.match(user):
        return False
    # ... but only when the message can supply its arguments (or it needs none).
    return score > 0 or not mapping(function, "parameters").get("required")


def _splits_into_several(function: dict, user: str, hints: Hints) -> bool:
    """ "Weather in Paris and Tokyo" with a one-city tool means one call per city."""
    if len(hints.names) < 2 or not _SEVERAL.search(user):
        return False
    properties = mapping(mapping(function, "parameters"), "properties")
    entity_params = [name for name in properties if string_role(name)[0] in _ENTITY_ROLES]
    return len(entity_params) == 1


def _arguments(function: dict, hints: Hints, rng: random.Random) -> dict:
    """Arguments valid against the function's ``parameters`` (``{}`` when it has none)."""
    parameters = function.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        return {}
    schema = parameters if "type" in parameters else {"type": "object", **parameters}
    arguments = instance_for(schema, rng=rng, hints=hints)
    return arguments if isinstance(arguments, dict) else {}


def result_facts(conversation: Conversation) -> tuple[tuple[str, Any], ...]:
    """``(key, value)`` pairs from JSON tool results, for filling same-named fields."""
    facts: list[tuple[str, Any]] = []
    for result in conversation.tool_results:
        value = result.parsed()
        if isinstance(value, dict):
            facts += list(value.items())
            facts += [(k, v) for nested in value.values() if isinstance(nested, dict) for k, v in nested.items()]
    return tuple(facts)


def answer_from_results(conversation: Conversation, rng: random.Random) -> str:
    """A text answer that reports what the trailing tool results say."""
    lead = rng.choice(("Here's what I found.", "Based on the tool results:", "I checked with the tools."))
    described = [_describe(result, rng) for result in conversation.tool_results]
    topic = topic_of(conversation.user)
    close = rng.choice((f" That answers your question about {topic}.", f" So, regarding {topic}: see above."))
    return " ".join([lead, *described]) + (close if topic else "")


def _describe(result: ToolResult, rng: random.Random) -> str:
    value = result.parsed()
    name = result.name
    if isinstance(value, dict) and "error" in value:
        error = value["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        return f"{name} reported an error: {_show(message)}."
    if isinstance(value, dict):
        facts = _facts(value, "")[:_MAX_FACTS]
        if not facts:
            return f"{name} returned an empty result."
        return rng.choice((f"According to {name}, {', '.join(facts)}.", f"{name} returned {', '.join(facts)}."))
    if isinstance(value, list):
        shown = ", ".join(_show(_label(item)) for item in value[:3])
        more = f" and {len(value) - 3} more" if len(value) > 3 else ""
        return f"{name} returned {len(value)} result{'s' if len(value) != 1 else ''}" + (
            f": {shown}{more}." if value else ".")
    text = collapse(str(value))
    if not text:
        return f"{name} returned nothing."
    return f'{name} returned: "{text[:200]}{"…" if len(text) > 200 else ""}".'


def _facts(value: dict, prefix: str) -> list[str]:
    """ "temperature: 18" style facts from a JSON object, one nested level deep."""
    facts = []
    for key, item in value.items():
        label = f"{prefix}{' '.join(field_words(str(key))) or key}"
        if isinstance(item, dict) and not prefix:
            facts += _facts(item, f"{label} ")
        elif isinstance(item, list):
            facts.append(f"{label}: {', '.join(_show(_label(x)) for x in item[:3]) or 'none'}")
        elif not isinstance(item, dict):
            facts.append(f"{label}: {_show(item)}")
    return facts


def _label(item: Any) -> Any:
    """What to call a list element: its name or title when it is an object."""
    if isinstance(item, dict):
        return next((item[k] for k in ("name", "title", "id", "label") if k in item), f"{len(item)} fields")
    return item


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, (int, float)):
        return format_number(value)
    text = collapse(str(value))
    return text if len(text) <= 80 else f"{text[:79]}…"

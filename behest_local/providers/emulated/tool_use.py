"""Which tools fit a request, their arguments, and what their results say.

The tool half of the emulated model below the agent-loop decisions (``tool_plan``):
``function_tools`` reads a request's ``tools``, ``rank_tools`` ranks them by word overlap
between the user's message and each tool's name, description and parameters,
``arguments_for`` fills arguments valid against a tool's ``parameters`` through
``schema_instance``, ``result_facts`` turns this turn's tool results into facts that
same-named fields echo, and ``answer_from_results`` turns the trailing tool messages into a
sentence per result.
"""

from __future__ import annotations

import random
from typing import Any

from behest_local.providers.emulated.arithmetic import format_number
from behest_local.providers.emulated.conversation import Conversation, ToolResult
from behest_local.providers.emulated.prompt_cues import Hints, collapse, field_words, keywords, topic_of
from behest_local.providers.emulated.schema_check import mapping
from behest_local.providers.emulated.schema_instance import instance_for
from behest_local.providers.emulated.schema_values import string_role

_MAX_FACTS = 8
# The verbs a function name starts with that say "look up": ``get_population`` gets a population.
_FETCH_VERBS = frozenset({"get", "fetch", "lookup", "look", "find", "search", "query", "read", "retrieve",
                          "load", "calc", "calculate", "compute", "check", "list", "count"})  # fmt: skip


def function_tools(tools: object) -> list[dict]:
    """The ``function`` definitions among a request's ``tools`` (other kinds are ignored)."""
    functions = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        is_function = isinstance(tool, dict) and tool.get("type", "function") == "function"
        if is_function and isinstance(function, dict) and isinstance(function.get("name"), str):
            functions.append(function)
    return functions


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """The content words of ``text``, stemmed ("cities" and "city" are not merged; "runs" and "run" are)."""
    return {_stem(w) for w in keywords(text)}


def name_stems(function: dict) -> set[str]:
    """The stemmed words of a function's name ("get_weather" -> {"get", "weather"})."""
    return {_stem(w) for w in field_words(function["name"])}


def rank_tools(functions: list[dict], text: str, hints: Hints) -> list[tuple[float, dict]]:
    """Functions with their relevance to ``text``, best first (ties keep the request's order)."""
    wanted = stems(text)
    ranked = []
    for position, function in enumerate(functions):
        properties = mapping(mapping(function, "parameters"), "properties")
        name_words = name_stems(function)
        other_words = stems(str(function.get("description") or ""))
        for prop_name, prop in properties.items():
            other_words |= {_stem(w) for w in field_words(prop_name)}
            if isinstance(prop, dict):
                other_words |= stems(str(prop.get("description") or ""))
        score = 3 * len(wanted & name_words) + len(wanted & (other_words - name_words))
        # A place ("in Paris") or a person named in the message fits a tool that takes one.
        roles = {string_role(p)[0] for p in properties}
        if (hints.places and "place" in roles) or (hints.people and "person" in roles):
            score += 0.5
        ranked.append((score, -position, function))
    ranked.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [(score, function) for score, _, function in ranked]


def arguments_for(function: dict, hints: Hints, rng: random.Random) -> dict:
    """Arguments valid against the function's ``parameters`` (``{}`` when it has none)."""
    parameters = function.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        return {}
    schema = parameters if "type" in parameters else {"type": "object", **parameters}
    arguments = instance_for(schema, rng=rng, hints=hints)
    return arguments if isinstance(arguments, dict) else {}


def result_facts(conversation: Conversation) -> tuple[tuple[str, Any], ...]:
    """``(key, value)`` pairs from the tool results of this turn, for filling same-named fields.

    A JSON object gives its keys (and those of objects nested in it); a bare value is named
    after what its function gets: ``get_population`` returning ``2100000`` is the fact
    ``("population", 2100000)``, so a ``final_result(population=...)`` echoes it.
    """
    answered = [ToolResult(c.name, c.result) for c in conversation.calls if c.result is not None]
    facts: list[tuple[str, Any]] = []
    for result in answered or conversation.tool_results:
        value = result.parsed()
        if isinstance(value, dict):
            facts += list(value.items())
            facts += [(k, v) for nested in value.values() if isinstance(nested, dict) for k, v in nested.items()]
        elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
            words = field_words(result.name)
            while len(words) > 1 and words[0] in _FETCH_VERBS:
                words.pop(0)
            facts.append(("_".join(words), value))
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

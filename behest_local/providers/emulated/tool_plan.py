"""Decide whether a turn calls tools, which ones and with what arguments: the agent loop's side.

Agent frameworks loop until the model stops calling tools (or calls the one that ends the
loop), so the emulated model must move a conversation forward the way a real model does.
``plan_calls`` owns that decision, from the request's ``tools``, ``tool_choice`` and
``parallel_tool_calls`` and the calls already made since the last user message
(``Conversation.calls``):

* ``tool_choice``: ``none`` never calls, a named function is always called, ``auto`` calls
  when a tool fits, ``required`` always calls on the first turn;
* the *work* a request needs is planned from the user's message alone, so the same call is
  planned with the same arguments on every turn: tools the user names ("use mul"), else the
  best-ranked tool, one call per place or person it lists ("Paris and Tokyo"), plus other
  tools matched by other words of the request ("the weather and the population");
  independent calls go out together unless ``parallel_tool_calls`` is false or the message
  orders them ("then"), when they go one per turn;
* a call whose result is already in the history is not made again; when the work is done
  the model calls the *finishing* tool (``final_result``, a tool named like a class such as
  LangChain's ``Weather``, or one whose description says it gives the final answer) with
  arguments drawn from the results; under ``required`` without one, the matching tool not
  called yet; otherwise it answers from the results in text;
* the loop guard: whatever the client asks (a named ``tool_choice`` sent again and again),
  a conversation never holds more than ``LOOP_GUARD`` identical consecutive calls after its
  last user message; the next turn answers in text.
"""

from __future__ import annotations

import hashlib
import random
import re

from behest_local.providers.emulated.answers import is_direct_message
from behest_local.providers.emulated.bounds import CHARS, clip
from behest_local.providers.emulated.conversation import Conversation, canonical_arguments
from behest_local.providers.emulated.prompt_cues import Hints, field_words
from behest_local.providers.emulated.schema_check import mapping
from behest_local.providers.emulated.schema_values import string_role
from behest_local.providers.emulated.tool_use import (
    arguments_for,
    function_tools,
    name_stems,
    rank_tools,
    result_facts,
    stems,
)

LOOP_GUARD = 3
"""At most this many identical consecutive calls (same function, same arguments) per turn."""

_MAX_PARALLEL_CALLS = 4
# Openings of a message that asks for something to be done or looked up.
_REQUEST = re.compile(
    r"^\W*(?:please|can you|could you|would you|what|who|where|when|why|how|which|is|are|do|does|get|find|"
    r"show|tell|give|check|look|search|book|send|create|make|list|fetch|set|add|remove|update|delete|"
    r"calculate|convert|translate|call|run|use)\b",
    re.I,
)
_SEVERAL = re.compile(r"\band\b|,|&|\bvs\.?\b|\bversus\b|\bor\b", re.I)
# Words that order the steps of a request: each waits for the result of the one before.
_SEQUENCE = re.compile(r"\bthen\b|\bafterwards?\b|\bthe result\b|\bthat result\b|\bits result\b|"
                       r"\bfollowed by\b|\bnext\b", re.I)  # fmt: skip
# A tool result that hands a call back to be made again.
_RETRY = re.compile(r"\berror\b|\binvalid\b|\bvalidation\b|\btry again\b|\bretry\b", re.I)
# Parameters whose value is one named thing, the kind a request can list several of.
_ENTITY_ROLES = frozenset({"place", "person", "title", "query"})
# A name with one of these words ends the job; one made only of the weak ones does too
# ("result", "output"), but "get_search_results" does not.
_FINISHING_WORDS = frozenset({"final", "answer", "respond", "submit", "finish"})
_OUTPUT_WORDS = _FINISHING_WORDS | {"result", "response", "output", "reply", "structured", "the", "give"}
_FINISHING_DESCRIPTION = re.compile(
    r"\bfinal\b|\brespond(?:s|ing)? to the user\b|\bends? (?:this|the) conversation\b", re.I)
# A class-like name (LangChain's ToolStrategy, LlamaIndex and instructor name the output tool
# after the pydantic model): "Weather", "CityInfo".
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")


def is_finishing(function: dict, *, by_class_name: bool = True) -> bool:
    """Whether calling ``function`` delivers the answer rather than fetching something;
    ``by_class_name``: whether a class-like name alone says so (see ``_class_names_finish``)."""
    name = function["name"]
    words = set(field_words(name))
    if (by_class_name and _CLASS_NAME.fullmatch(name)) or words & _FINISHING_WORDS or (words and words <= _OUTPUT_WORDS):
        return True
    return bool(_FINISHING_DESCRIPTION.search(str(function.get("description") or "")))


def _class_names_finish(functions: list[dict]) -> bool:
    """Whether a class-like name marks an output tool among ``functions``: yes when it
    stands out (LangChain's ``Weather`` beside ``get_weather``) or is alone; no when every
    tool is named so, a toolset's own convention (Claude Code's ``Agent``, ``Bash``,
    ``Read`` ...), where it would make the model call ``Agent`` to answer "What is 2+2?"."""
    return len(functions) < 2 or not all(_CLASS_NAME.fullmatch(f["name"]) for f in functions)


def named_in(text: str, functions: list[dict]) -> list[dict]:
    """The functions whose exact name the text mentions ("use mul", "call get_weather"), in
    the order the text mentions them."""
    found = []
    for function in functions:
        match = re.search(rf"(?<![\w]){re.escape(function['name'])}(?![\w])", text, re.I)
        if match:
            found.append((match.start(), function))
    return [function for _, function in sorted(found, key=lambda entry: entry[0])]


def tool_policy(tool_choice: object, functions: list[dict]) -> tuple[str, list[dict]]:
    """``tool_choice`` as a mode ("none", "auto", "required", "forced") and the functions
    it allows; "forced" is a named function, the one function in the list."""
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
        return "forced", chosen[:1]
    return "auto", functions


def plan_calls(request: dict, conversation: Conversation, rng: random.Random,
               choice_index: int = 0) -> list[tuple[str, dict]]:
    """The ``(function name, arguments)`` calls to make this turn, or ``[]`` to answer in text."""
    functions = function_tools(request.get("tools"))
    if not functions and not isinstance(request.get("tool_choice"), dict):
        return []
    mode, candidates = tool_policy(request.get("tool_choice", "auto"), functions)
    if mode == "none" or not candidates:
        return []
    if mode == "forced":
        return _guarded([(candidates[0]["name"], _finishing_arguments(candidates[0], conversation, rng))],
                        conversation)
    return _guarded(_next_calls(mode, candidates, request, conversation, rng, choice_index), conversation)


def _next_calls(mode: str, candidates: list[dict], request: dict, conversation: Conversation,
                rng: random.Random, choice_index: int) -> list[tuple[str, dict]]:
    by_class_name = _class_names_finish(candidates)
    finishing = [f for f in candidates if is_finishing(f, by_class_name=by_class_name)]
    workers = [f for f in candidates if not is_finishing(f, by_class_name=by_class_name)]
    user = conversation.user
    hints = Hints.from_text(user)
    work, ordered = _work(workers, request, hints, choice_index, user)
    remaining = _not_done(work, conversation)
    if remaining:
        one_at_a_time = ordered or request.get("parallel_tool_calls", True) is False
        return remaining[:1] if one_at_a_time else remaining[:_MAX_PARALLEL_CALLS]
    answered = any(c.result is not None for c in conversation.calls)
    # A finishing call the client accepted is done; one it sent back with an error (pydantic-ai's
    # "validation error ... fix the errors and try again") is to be made again, corrected.
    finishing = [f for f in finishing if not any(
        c.name == f["name"] and c.result is not None and not _RETRY.search(c.result) for c in conversation.calls)]
    if finishing and (mode == "required" or answered or not workers):
        best = rank_tools(finishing, user, hints)[0][1]
        return [(best["name"], _finishing_arguments(best, conversation, rng))]
    if mode == "required" and not answered:
        best = rank_tools(candidates, user, hints)[0][1]
        return [(best["name"], arguments_for(best, hints, _stable_rng(request, best["name"], 0, choice_index)))]
    if mode == "required":
        # No tool says it finishes: the one the request matches that was not called yet
        # ("weather_report" beside "get_weather") delivers the answer, once.
        called = {c.name for c in conversation.calls}
        fresh = [f for score, f in rank_tools(workers, user, hints) if score >= 1 and f["name"] not in called]
        if fresh:
            return [(fresh[0]["name"], _finishing_arguments(fresh[0], conversation, rng))]
    return []


def _work(workers: list[dict], request: dict, hints: Hints, choice_index: int,
          user: str) -> tuple[list[tuple[str, dict]], bool]:
    """The fetching calls the user's message asks for, and whether they must run in order."""
    if not workers or not user.strip():
        return [], False

    def call(function: dict, index: int, focus: Hints) -> tuple[str, dict]:
        return function["name"], arguments_for(function, focus, _stable_rng(request, function["name"], index,
                                                                            choice_index))

    named = named_in(user, workers)
    if named:
        return [call(f, 0, hints) for f in named], bool(_SEQUENCE.search(user))
    ranked = rank_tools(workers, user, hints)
    best_score, best = ranked[0]
    if not _worth_calling(best_score, best, len(workers), user):
        return [], False
    if _splits_into_several(best, user, hints):
        count = min(len(hints.names), _MAX_PARALLEL_CALLS)
        return [call(best, i, hints.focused_on(i)) for i in range(count)], False
    work = [call(best, 0, hints)]
    if _SEVERAL.search(user):
        # "the weather and the population of Paris": each tool matched by words of its own.
        wanted = stems(user)
        covered = name_stems(best) & wanted
        for score, function in ranked[1:]:
            own = (name_stems(function) & wanted) - covered
            if score >= 3 and own and len(work) < _MAX_PARALLEL_CALLS:
                work.append(call(function, 0, hints))
                covered |= own
    return work, bool(_SEQUENCE.search(user))


def _not_done(work: list[tuple[str, dict]], conversation: Conversation) -> list[tuple[str, dict]]:
    """The planned calls without a result in the history yet.

    A call made with the very same arguments is done. So is one made to the same function
    with other arguments (the client's own call, an earlier phrasing): each such answered
    call counts for one planned call of its function, in order, as a model that already
    holds the weather in Paris does not ask again because it would have added a unit.
    """
    answered = [c.key for c in conversation.calls if c.result is not None]
    planned = [(name, canonical_arguments(args)) for name, args in work]
    unmatched = list(answered)
    open_calls = []
    for position, key in enumerate(planned):
        if key in unmatched:
            unmatched.remove(key)
        else:
            open_calls.append(position)
    remaining = []
    for position in open_calls:
        name = work[position][0]
        other = next((key for key in unmatched if key[0] == name), None)
        if other is None:
            remaining.append(work[position])
        else:
            unmatched.remove(other)
    return remaining


def _worth_calling(score: float, function: dict, tool_count: int, user: str) -> bool:
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


def _finishing_arguments(function: dict, conversation: Conversation, rng: random.Random) -> dict:
    """Arguments that deliver the answer: echo the request and the facts the tools returned."""
    results = [c.result for c in conversation.calls if c.result is not None]
    cues = clip("\n".join([conversation.user, *results]), CHARS)
    return arguments_for(function, Hints.from_text(cues, facts=result_facts(conversation)), rng)


def _stable_rng(request: dict, name: str, index: int, choice_index: int) -> random.Random:
    """Randomness for a planned call that depends only on what stays fixed across the turns of
    an agent loop (the user's message, the function, the seed), so a call planned again after
    its result came back has the very same arguments and is recognised as done."""
    material = f"{request.get('seed')}\x00{choice_index}\x00{name}\x00{index}\x00"
    messages = request.get("messages")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"] \
        if isinstance(messages, list) else []
    material += canonical_arguments(users[-1].get("content") if users else "")
    digest = hashlib.sha256(material.encode("utf-8", "surrogatepass")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _guarded(calls: list[tuple[str, dict]], conversation: Conversation) -> list[tuple[str, dict]]:
    """``calls`` without the one that would make ``LOOP_GUARD`` + 1 identical calls in a row."""
    if not calls or len(conversation.calls) < LOOP_GUARD:
        return calls
    last = conversation.calls[-1].key
    run = 0
    for made in reversed(conversation.calls):
        if made.key != last:
            break
        run += 1
    if run < LOOP_GUARD:
        return calls
    return [(name, args) for name, args in calls if (name, canonical_arguments(args)) != last]

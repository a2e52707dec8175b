"""The agent loop's side of the emulated model: tool_choice, no repeats, finishing, the loop guard."""

from __future__ import annotations

import json

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.providers.emulated.composer import compose
from behest_local.providers.emulated.tool_plan import LOOP_GUARD, is_finishing, named_in


def tool(name: str, description: str = "", **properties: dict) -> dict:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": list(properties),
                       "additionalProperties": False}}}


GET_POPULATION = tool("get_population", "Get the population of a city.", city={"type": "string"})
FINAL_RESULT = tool("final_result", "The final response which ends this conversation",
                    city={"type": "string"}, population={"type": "integer"})
GET_WEATHER = tool("get_weather", "Get the weather for a city.", city={"type": "string"})
WEATHER_MODEL = tool("Weather", "Weather report.", city={"type": "string"}, temperature={"type": "number"})
ADD = tool("add", "Add two numbers.", a={"type": "integer"}, b={"type": "integer"})
MUL = tool("mul", "Multiply two numbers.", a={"type": "integer"}, b={"type": "integer"})
GET_TIME = tool("get_time", "Get the local time in a city.", city={"type": "string"})


def run_loop(question: str, tools: list[dict], execute, max_turns: int = 8, **extra) -> tuple[list, dict]:
    """Drive the emulated model like an agent framework: call, execute, send back, repeat.

    Returns the calls made per turn and the final reply (the first turn without a call,
    or the turn whose call is a finishing tool, which a framework takes as the answer).
    """
    messages: list[dict] = [{"role": "user", "content": question}]
    turns = []
    for turn in range(max_turns):
        reply = compose({"messages": messages, "tools": tools, **extra})
        calls = [(c.name, json.loads(c.arguments)) for c in reply.tool_calls]
        turns.append(calls)
        finishing = [c for c in reply.tool_calls if is_finishing(_function(tools, c.name))]
        if not calls or finishing:
            return turns, {"text": reply.content, "final": finishing and json.loads(finishing[0].arguments)}
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls]})
        messages += [{"role": "tool", "tool_call_id": c.id, "content": execute(c.name, json.loads(c.arguments))}
                     for c in reply.tool_calls]
    raise AssertionError(f"no answer after {max_turns} turns: {turns}")


def _function(tools: list[dict], name: str) -> dict:
    return next(t["function"] for t in tools if t["function"]["name"] == name)


# --- the loop of issue 19 --------------------------------------------------------------------


def test_required_with_a_final_result_tool_fetches_once_then_finishes_with_the_fetched_fact() -> None:
    turns, answer = run_loop("What is the population of Paris?", [GET_POPULATION, FINAL_RESULT],
                             lambda name, args: "2100000", tool_choice="required")
    assert turns == [[("get_population", {"city": "Paris"})],
                     [("final_result", {"city": "Paris", "population": 2100000})]]


def test_required_with_a_class_named_output_tool_finishes_with_it() -> None:
    # LangChain's create_agent(response_format=ToolStrategy(Weather)).
    turns, answer = run_loop("What's the weather in Paris?", [GET_WEATHER, WEATHER_MODEL],
                             lambda name, args: '{"temperature": 21.5, "condition": "sunny"}',
                             tool_choice="required")
    assert [name for calls in turns for name, _ in calls] == ["get_weather", "Weather"]
    assert answer["final"] == {"city": "Paris", "temperature": 21.5}


def test_auto_answers_in_text_once_the_result_is_in() -> None:
    turns, answer = run_loop("What's the weather in Paris?", [GET_WEATHER], lambda name, args: "sunny, 21C")
    assert len(turns) == 2 and turns[-1] == [] and "sunny" in answer["text"]


def test_required_with_only_a_finishing_tool_calls_it_at_once() -> None:
    turns, answer = run_loop("What is the population of Paris?", [FINAL_RESULT], lambda *a: "", tool_choice="required")
    assert [name for name, _ in turns[0]] == ["final_result"]
    jsonschema.validate(answer["final"], FINAL_RESULT["function"]["parameters"])


def test_a_call_made_with_other_arguments_counts_as_done() -> None:
    messages = [{"role": "user", "content": "What's the weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                    "name": "get_weather", "arguments": '{"city": "Paris, France"}'}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    assert compose({"messages": messages, "tools": [GET_WEATHER], "tool_choice": "required"}).tool_calls == ()


# --- tool_choice --------------------------------------------------------------------------------


def test_a_named_tool_choice_is_called_even_after_its_result_came_back() -> None:
    messages = [{"role": "user", "content": "What's the weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                    "name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    choice = {"type": "function", "function": {"name": "get_weather"}}
    reply = compose({"messages": messages, "tools": [GET_WEATHER, GET_TIME], "tool_choice": choice})
    assert [c.name for c in reply.tool_calls] == ["get_weather"]


def test_none_never_calls_even_a_tool_the_user_names() -> None:
    request = {"messages": [{"role": "user", "content": "use mul on 3 and 4"}], "tools": [ADD, MUL], "tool_choice": "none"}
    assert compose(request).tool_calls == ()


# --- named tools, parallel and ordered calls ------------------------------------------------------


def test_a_tool_the_user_names_is_called_with_the_numbers_given() -> None:
    reply = compose({"messages": [{"role": "user", "content": "Use mul to multiply 6 by 7"}], "tools": [ADD, MUL]})
    [call] = reply.tool_calls
    assert call.name == "mul" and sorted(json.loads(call.arguments).values()) == [6, 7]


def test_named_tools_are_found_in_the_order_written() -> None:
    functions = [ADD["function"], MUL["function"], GET_WEATHER["function"]]
    assert [f["name"] for f in named_in("call mul, then add; not addition", functions)] == ["mul", "add"]


def test_ordered_steps_go_one_per_turn_and_each_runs_once() -> None:
    turns, answer = run_loop("Use add to add 2 and 3, then use mul to multiply the result by 4",
                             [ADD, MUL], lambda name, args: "5" if name == "add" else "20")
    assert [[name for name, _ in calls] for calls in turns] == [["add"], ["mul"], []]


def test_independent_tools_are_called_in_parallel_unless_disabled() -> None:
    question = "What's the weather and the local time in Paris?"
    reply = compose({"messages": [{"role": "user", "content": question}], "tools": [GET_WEATHER, GET_TIME]})
    assert sorted(c.name for c in reply.tool_calls) == ["get_time", "get_weather"]
    turns, _ = run_loop(question, [GET_WEATHER, GET_TIME], lambda *a: "ok", parallel_tool_calls=False)
    assert [len(calls) for calls in turns] == [1, 1, 0]


def test_places_split_into_one_call_each_and_sequentially_without_parallel_calls() -> None:
    turns, _ = run_loop("What's the weather in Paris and Tokyo?", [GET_WEATHER], lambda *a: "ok",
                        parallel_tool_calls=False)
    assert turns == [[("get_weather", {"city": "Paris"})], [("get_weather", {"city": "Tokyo"})], []]


# --- what counts as finishing ------------------------------------------------------------------


def test_finishing_tools_are_recognised_by_name_class_name_or_description() -> None:
    finishing = ["final_result", "Weather", "CityInfo", "submit_answer", "respond", "output"]
    fetching = ["get_weather", "get_search_results", "mul", "search_docs"]
    assert all(is_finishing({"name": name}) for name in finishing)
    assert not any(is_finishing({"name": name}) for name in fetching)
    assert is_finishing({"name": "done", "description": "Give the final answer to the user."})


def test_a_toolset_named_like_classes_is_not_taken_for_output_tools() -> None:
    # Claude Code offers Agent, Bash, Read ... with tool_choice auto: "What is 2+2?" needs none.
    tools = [{"type": "function", "function": {"name": name, "description": description,
                                               "parameters": {"type": "object", "properties": {
                                                   "prompt": {"type": "string"}}}}}
             for name, description in (("Agent", "Launch a new agent for complex tasks"),
                                       ("Bash", "Run a shell command"),
                                       ("Read", "Read a file from the local filesystem"))]
    turns, _ = run_loop("What is 2+2?", tools, lambda *a: "ok")
    assert turns == [[]]


# --- the loop guard ----------------------------------------------------------------------------


def test_a_forced_call_is_never_repeated_more_than_the_guard_allows() -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    messages: list[dict] = [{"role": "user", "content": "What's the weather in Paris?"}]
    for turn in range(LOOP_GUARD):
        messages += [{"role": "assistant", "content": None, "tool_calls": [{"id": f"c{turn}", "type": "function",
                      "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
                     {"role": "tool", "tool_call_id": f"c{turn}", "content": "sunny"}]
    reply = compose({"messages": messages, "tools": [GET_WEATHER], "tool_choice": choice})
    assert reply.tool_calls == () and reply.content


tool_names = st.sampled_from(["get_weather", "get_time", "search_docs", "final_result", "Report", "add", "mul"])
questions = st.sampled_from([
    "What's the weather in Paris?", "Use add on 2 and 3, then mul by 4", "search the docs for limits and the time",
    "Hello", "What's the weather in Paris and Tokyo and Rome?", "call final_result", ""])


@settings(max_examples=150, deadline=None)
@given(st.lists(tool_names, min_size=1, max_size=5, unique=True), questions,
       st.sampled_from(["auto", "required", None]), st.booleans(), st.integers(0, 5))
def test_any_agent_loop_ends_within_a_few_turns(names, question, choice, parallel, seed) -> None:
    tools = [tool(name, "", city={"type": "string"}) for name in names]
    extra = {"parallel_tool_calls": parallel, "seed": seed, **({"tool_choice": choice} if choice else {})}
    turns, _ = run_loop(question, tools, lambda name, args: json.dumps({"ok": name}), max_turns=8, **extra)
    made = [(name, json.dumps(args, sort_keys=True)) for calls in turns for name, args in calls]
    assert len(made) == len(set(made)), f"a call was repeated: {turns}"


def _after_final_result(result: str) -> dict:
    fetch = {"id": "c0", "type": "function", "function": {"name": "get_population", "arguments": '{"city":"Paris"}'}}
    final = {"id": "c1", "type": "function", "function": {"name": "final_result",
                                                           "arguments": '{"city":"Paris","population":1}'}}
    return {"messages": [{"role": "user", "content": "What is the population of Paris?"},
                         {"role": "assistant", "content": None, "tool_calls": [fetch]},
                         {"role": "tool", "tool_call_id": "c0", "content": "2100000"},
                         {"role": "assistant", "content": None, "tool_calls": [final]},
                         {"role": "tool", "tool_call_id": "c1", "content": result}],
            "tools": [GET_POPULATION, FINAL_RESULT]}


def test_a_finishing_call_the_client_accepted_is_not_made_again() -> None:
    assert compose(_after_final_result("Final result processed.")).tool_calls == ()


def test_a_finishing_call_sent_back_with_a_validation_error_is_made_again() -> None:
    retry = "1 validation error: population must be positive. Fix the errors and try again."
    assert [c.name for c in compose({**_after_final_result(retry), "tool_choice": "required"}).tool_calls] == [
        "final_result"]


def test_required_without_a_finishing_tool_delivers_with_the_matching_tool_not_called_yet() -> None:
    report = tool("weather_report", "A weather report.", city={"type": "string"}, temperature={"type": "number"})
    turns, answer = run_loop("What's the weather in Paris?", [GET_WEATHER, report],
                             lambda name, args: '{"temperature": 18}', tool_choice="required")
    assert turns == [[("get_weather", {"city": "Paris"})],
                     [("weather_report", {"city": "Paris", "temperature": 18})], []]

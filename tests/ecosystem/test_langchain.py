"""LangChain: bind_tools round trip, with_structured_output in its three methods, create_agent."""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel

pytest.importorskip("langchain_openai", reason="langchain and langchain-openai are in the test extras")

from langchain.agents import create_agent  # noqa: E402
from langchain.agents.structured_output import ProviderStrategy, ToolStrategy  # noqa: E402
from langchain_core.messages import HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

from tests.ecosystem.agentic import MODEL  # noqa: E402


class Weather(BaseModel):
    """A weather report for one city."""

    city: str
    temperature: float


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return '{"temperature": 21.5, "condition": "sunny"}'


@pytest.fixture
def llm(agentic):
    # Our own HTTP client, closed after the test (ChatOpenAI's default one stays open).
    with httpx.Client() as http_client:
        yield ChatOpenAI(model=MODEL, base_url=agentic.base_url, api_key=agentic.key, max_retries=0,
                         http_client=http_client)


def test_bind_tools_round_trip_ends_in_a_text_answer_from_the_result(llm, agentic) -> None:
    bound = llm.bind_tools([get_weather])
    messages = [HumanMessage("What's the weather in Paris?")]
    first = bound.invoke(messages)
    [call] = first.tool_calls
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Paris"})
    messages += [first, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    final = bound.invoke(messages)
    assert final.tool_calls == [] and "sunny" in final.content
    assert agentic.model_calls() == 2


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_with_structured_output_returns_the_model_in_one_call(llm, agentic, method) -> None:
    prompt = "What's the weather in Paris?"
    if method == "json_mode":  # the schema is the prompt's job in JSON mode
        prompt += " Answer in JSON with the keys city and temperature."
    report = llm.with_structured_output(Weather, method=method).invoke(prompt)
    assert isinstance(report, Weather) and report.city == "Paris"
    assert agentic.model_calls() == 1


@pytest.mark.parametrize("strategy", [ToolStrategy, ProviderStrategy])
def test_create_agent_fetches_once_then_returns_the_structured_response(llm, agentic, strategy) -> None:
    agent = create_agent(llm, tools=[get_weather], response_format=strategy(Weather))
    state = agent.invoke({"messages": [{"role": "user", "content": "What's the weather in Paris?"}]},
                         {"recursion_limit": 10})
    assert state["structured_response"] == Weather(city="Paris", temperature=21.5)
    assert agentic.model_calls() == 2

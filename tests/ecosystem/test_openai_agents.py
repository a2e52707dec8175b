"""The OpenAI Agents SDK on chat completions: a tool, a typed ``output_type``, streamed too."""

from __future__ import annotations

import openai
import pytest
from pydantic import BaseModel

pytest.importorskip("agents", reason="openai-agents is in the test extras")

from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool  # noqa: E402

from tests.ecosystem.agentic import MODEL  # noqa: E402


class Weather(BaseModel):
    city: str
    temperature: float


@function_tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return '{"temperature": 21.5, "condition": "sunny"}'


@pytest.fixture
async def model(agentic):
    async with openai.AsyncOpenAI(base_url=agentic.base_url, api_key=agentic.key, max_retries=0) as client:
        yield OpenAIChatCompletionsModel(model=MODEL, openai_client=client)


# No traces go to OpenAI's servers from a test.
OFFLINE = RunConfig(tracing_disabled=True)


async def test_a_tool_then_a_text_answer_from_its_result(model, agentic) -> None:
    agent = Agent(name="weather", instructions="Answer weather questions.", model=model, tools=[get_weather])
    result = await Runner.run(agent, "What's the weather in Paris?", run_config=OFFLINE, max_turns=4)
    assert "sunny" in result.final_output
    assert agentic.model_calls() == 2


async def test_a_tool_then_the_typed_output(model, agentic) -> None:
    agent = Agent(name="weather", model=model, tools=[get_weather], output_type=Weather)
    result = await Runner.run(agent, "What's the weather in Paris?", run_config=OFFLINE, max_turns=4)
    assert result.final_output == Weather(city="Paris", temperature=21.5)
    assert agentic.model_calls() == 2


async def test_the_streamed_run_ends_with_the_same_typed_output(model, agentic) -> None:
    agent = Agent(name="weather", model=model, tools=[get_weather], output_type=Weather)
    run = Runner.run_streamed(agent, "What's the weather in Paris?", run_config=OFFLINE, max_turns=4)
    kinds = {event.type async for event in run.stream_events()}
    assert "raw_response_event" in kinds
    assert run.final_output == Weather(city="Paris", temperature=21.5)
    assert agentic.model_calls() == 2

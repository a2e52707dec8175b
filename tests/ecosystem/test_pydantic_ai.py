"""pydantic-ai: a tool plus a structured ``output_type`` (the final_result tool), streamed too."""

from __future__ import annotations

import openai
import pytest
from pydantic import BaseModel

pytest.importorskip("pydantic_ai", reason="pydantic-ai-slim[openai] is in the test extras")

from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402
from pydantic_ai.usage import UsageLimits  # noqa: E402

from tests.ecosystem.agentic import MODEL  # noqa: E402


class CityPopulation(BaseModel):
    city: str
    population: int


@pytest.fixture
async def agent(agentic):
    # Our own client, closed after the test: the provider's default one stays open.
    async with openai.AsyncOpenAI(base_url=agentic.base_url, api_key=agentic.key, max_retries=0) as client:
        yield population_agent(client)


def population_agent(client: openai.AsyncOpenAI) -> Agent:
    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, output_type=CityPopulation)

    @agent.tool_plain
    def get_population(city: str) -> int:
        """Get the population of a city."""
        return 2_102_650 if city == "Paris" else 0

    return agent


async def test_a_tool_then_the_structured_output_in_two_calls(agent, agentic) -> None:
    result = await agent.run("What is the population of Paris?", usage_limits=UsageLimits(request_limit=4))
    assert result.output == CityPopulation(city="Paris", population=2_102_650)
    assert agentic.model_calls() == 2


async def test_the_streamed_run_ends_with_the_same_typed_output(agent, agentic) -> None:
    async with agent.run_stream("What is the population of Paris?", usage_limits=UsageLimits(request_limit=4)) as run:
        outputs = [output async for output in run.stream_output(debounce_by=None)]
    assert outputs[-1] == CityPopulation(city="Paris", population=2_102_650)
    assert agentic.model_calls() == 2

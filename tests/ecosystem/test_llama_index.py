"""LlamaIndex: FunctionAgent with a tool, chat_with_tools with a named tool, structured_predict."""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel

pytest.importorskip("llama_index.llms.openai", reason="llama-index-llms-openai is installed by .ci/run")

from llama_index.core.agent.workflow import FunctionAgent  # noqa: E402
from llama_index.core.prompts import PromptTemplate  # noqa: E402
from llama_index.core.tools import FunctionTool  # noqa: E402
from llama_index.llms.openai import OpenAI  # noqa: E402

from tests.ecosystem.agentic import MODEL  # noqa: E402

# llama-index-workflows lists a FunctionAgent's steps with inspect.getmembers, which reads
# every attribute, pydantic's deprecated ones (``__fields__``, ``model_computed_fields`` on
# the instance ...) too: their warnings are attributed to the inspect module.
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning:inspect")


class Weather(BaseModel):
    """A weather report for one city."""

    city: str
    temperature: float


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return '{"temperature": 21.5, "condition": "sunny"}'


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@pytest.fixture
async def llm(agentic):
    # Our own HTTP client, closed after the test (the default one stays open).
    async with httpx.AsyncClient() as http_client:
        yield OpenAI(model=MODEL, api_base=agentic.base_url, api_key=agentic.key, max_retries=0,
                     async_http_client=http_client)


async def test_function_agent_calls_the_tool_then_answers_from_it(llm, agentic) -> None:
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(get_weather)], llm=llm)
    response = await agent.run("What's the weather in Paris?")
    assert "sunny" in str(response)
    assert [call.tool_name for call in response.tool_calls] == ["get_weather"]
    assert agentic.model_calls() == 2


async def test_chat_with_tools_calls_the_tool_the_user_names(llm, agentic) -> None:
    tools = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(multiply)]
    response = await llm.achat_with_tools(tools, user_msg="Use multiply to multiply 6 by 7")
    [call] = llm.get_tool_calls_from_response(response, error_on_no_tool_call=True)
    assert call.tool_name == "multiply" and sorted(call.tool_kwargs.values()) == [6, 7]
    assert agentic.model_calls() == 1


async def test_structured_predict_returns_the_model(llm, agentic) -> None:
    report = await llm.astructured_predict(Weather, PromptTemplate("What's the weather in {city}?"), city="Paris")
    assert isinstance(report, Weather) and report.city == "Paris"
    assert agentic.model_calls() == 1

"""The Vercel AI SDK (Node): generateText with multi-step tools, generateObject, streamObject."""

from __future__ import annotations

import pytest

from tests.node_clients import require_node_packages, run_node


@pytest.fixture
def run(agentic):
    require_node_packages("ai", "@ai-sdk/openai", "zod")

    def scenario(name: str) -> dict:
        return run_node("vercel_agent.mjs", {"BEHEST_BASE_URL": agentic.base_url, "BEHEST_API_KEY": agentic.key,
                                             "SCENARIO": name})

    return scenario


def test_generate_text_calls_the_tool_then_answers_from_its_result(run, agentic) -> None:
    result = run("multiStepTools")
    assert result["calls"] == [["weather", {"city": "Paris"}]]
    assert result["steps"] == 2 and "sunny" in result["text"]
    assert agentic.model_calls() == 2


@pytest.mark.parametrize("scenario", ["generateObject", "streamObject"])
def test_objects_are_valid_against_the_zod_schema_in_one_call(run, agentic, scenario) -> None:
    result = run(scenario)
    report = result["object"]
    assert report["city"] == "Paris" and isinstance(report["temperature"], (int, float))
    assert report["condition"] in ("sunny", "cloudy", "rainy")
    if scenario == "streamObject":
        assert result["partials"] > 1
    assert agentic.model_calls() == 1

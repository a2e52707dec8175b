"""The fake upstreams' prompt script: directive grammar and the dialect-neutral plan."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from behest_local.fakes.script import Script, parse, plan, sample_arguments


def test_every_directive():
    script = parse("Hi [tool] [error 529] [fail 2] [truncate 3] [slow 20] [hold 1] [filter] "
                   "[cached 4] [think 5] there")
    assert script == Script(prompt="Hi there", tool_calls=1, error=529, fail_after=2,
                            truncate_after=3, slow_ms=20, hold_after=1, filtered=True, cached=4,
                            reasoning=5)


def test_defaults_and_case():
    assert parse("[TOOLS] [Slow] [error]") == Script(prompt="", tool_calls=2, slow_ms=50,
                                                     error=500)


@given(st.text(alphabet=st.characters(blacklist_characters="[]"), max_size=60))
def test_text_without_directives_is_only_normalised(text):
    assert parse(text) == Script(prompt=" ".join(text.split()))


def test_plan_text_is_cut_at_the_token_limit():
    whole = plan("x", parse("Hello"), tools=[], max_tokens=None, prompt_text="Hello")
    cut = plan("x", parse("Hello"), tools=[], max_tokens=3, prompt_text="Hello")
    assert whole.stop == "stop" and cut.stop == "length"
    assert whole.text.startswith(cut.text) and len(cut.pieces) == cut.completion_tokens == 3


def test_plan_tool_calls_cycle_declared_tools():
    tools = [("a", {"type": "object", "properties": {"n": {"type": "integer"}}}),
             ("b", {"type": "object", "properties": {"on": {"type": "boolean"}}})]
    result = plan("x", parse("[tools 3]"), tools=tools, max_tokens=None, prompt_text="")
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("a", {"n": 3}), ("b", {"on": True}), ("a", {"n": 3})]
    assert result.stop == "tool_calls" and result.text == ""


def test_sample_arguments_follow_the_schema():
    schema = {"type": "object", "required": ["city", "days", "units", "tags", "opt"],
              "properties": {"city": {"type": "string"}, "days": {"type": "number"},
                             "units": {"enum": ["c", "f"]}, "tags": {"type": "array",
                                                                     "items": {"type": "string"}},
                             "opt": {"type": ["null", "object"], "properties": {}}}}
    assert sample_arguments(schema) == {"city": "Paris", "days": 1.5, "units": "c",
                                        "tags": ["example"], "opt": {}}

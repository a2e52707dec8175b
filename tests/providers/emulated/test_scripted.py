"""Scripted replies pin the emulated model's answers; suspended projects are refused."""

from __future__ import annotations

import json

from behest_local.config import ProjectConfig, ScriptedReply, ToolCallReply
from behest_local.providers.emulated.scripted import find_rule, last_user_text
from tests.conftest import TEST_SETTINGS, with_settings

RULES = (
    ScriptedReply(match="(?i)refund", reply="Refunds take 5 business days."),
    ScriptedReply(match="weather", tool_call=ToolCallReply(name="get_weather",
                                                           arguments={"city": "Paris"})),
    ScriptedReply(match="overload", emulate="status=429; retry_after=2"),
    ScriptedReply(match="flaky", emulate="drop_after=2"),  # drops streams only
)
SETTINGS = with_settings(projects=(
    ProjectConfig(name="local", id="local", scripted=RULES, system_prompt="Be terse."),
    ProjectConfig(name="off", id="off", status="suspended")))
CHAT = "/v1/chat/completions"


def ask(text: str, **extra) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "earlier"},
                                            {"role": "assistant", "content": "ok"},
                                            {"role": "user", "content": text}], **extra}


def test_rules_match_the_last_user_message_first_rule_wins():
    assert last_user_text([{"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "b"}]}]) == "a\nb"
    assert find_rule(RULES, ask("I want a REFUND")["messages"]) is RULES[0]
    assert find_rule(RULES, [{"role": "user", "content": "refund"},
                             {"role": "user", "content": "hello"}]) is None
    assert find_rule((), ask("refund")["messages"]) is None


async def test_a_pinned_reply_streamed_and_not(make_gateway_client):
    client = await make_gateway_client(SETTINGS)
    resp = await client.post(CHAT, json=ask("refund please"), headers=client.key)
    body = await resp.json()
    assert body["choices"][0]["message"]["content"] == "Refunds take 5 business days."
    assert body["choices"][0]["finish_reason"] == "stop" and body["usage"]["completion_tokens"] > 0
    resp = await client.post(CHAT, json=ask("refund please", stream=True,
                                            stream_options={"include_usage": True}),
                             headers=client.key)
    events = [line[6:] for line in (await resp.text()).splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Refunds take 5 business days." and chunks[-1]["usage"]["total_tokens"] > 0


async def test_a_pinned_tool_call(make_gateway_client):
    client = await make_gateway_client(SETTINGS)
    body = await (await client.post(CHAT, json=ask("weather?"), headers=client.key)).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    again = await (await client.post(CHAT, json=ask("weather?"), headers=client.key)).json()
    assert again["choices"][0]["message"]["tool_calls"][0]["id"] == call["id"]  # deterministic


async def test_a_pinned_failure_and_the_header_winning(make_gateway_client):
    client = await make_gateway_client(SETTINGS)
    resp = await client.post(CHAT, json=ask("overload"), headers=client.key)
    assert resp.status == 429 and resp.headers["Retry-After"] == "2"
    resp = await client.post(CHAT, json=ask("overload"),
                             headers={**client.key, "x-behest-emulate": "status=503"})
    assert resp.status == 503
    # emulate alone keeps the emulated model's own answer
    resp = await client.post(CHAT, json=ask("flaky: tell me about rivers"), headers=client.key)
    assert resp.status == 200 and "rivers" in (await resp.text()).lower()


async def test_a_suspended_project_is_refused(make_gateway_client):
    client = await make_gateway_client(SETTINGS)
    key, _ = client.gateway.keys.create("off")
    resp = await client.post(CHAT, json=ask("hi"), headers={"Authorization": f"Bearer {key}"})
    body = await resp.json()
    assert resp.status == 403 and body["error"]["code"] == "forbidden"
    assert "suspended" in body["error"]["message"]


async def test_without_rules_nothing_changes(make_gateway_client):
    client = await make_gateway_client(TEST_SETTINGS)
    body = await (await client.post(CHAT, json=ask("refund"), headers=client.key)).json()
    assert body["choices"][0]["message"]["content"] != "Refunds take 5 business days."

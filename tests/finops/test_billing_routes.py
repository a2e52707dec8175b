"""Billing holds on every route: chat, ``/v1/responses`` and ``/v1/completions`` (served
through chat). A stream is billed for what was sent, whether the client leaves, the
upstream drops the connection or an error ends it; a complete stream is billed the
provider's usage, once; a reply or stream whose provider reports no usage is counted.

Project ``local`` answers "long" prompts with ``LONG`` (``LONG_TOKENS`` tokens); the emulator's
``drop_after=N`` / ``error_after=N`` end a chat stream after N chunks: the role chunk and
N - 1 tokens."""

from __future__ import annotations

import contextlib
import json

import aiohttp
import pytest

from behest_local.finops.meter import estimate_prompt_tokens
from behest_local.policy.routing import EMULATED
from behest_local.server.routes.usage import USAGE
from tests.finops.usage_support import CHAT, LONG_SETTINGS, LONG_TOKENS

PROMPT = "a long one"
BODIES = {
    CHAT: {"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}],
           "max_tokens": 400},
    "/v1/responses": {"model": "gpt-4o", "input": PROMPT, "max_output_tokens": 400},
    "/v1/completions": {"model": "gpt-4o", "prompt": PROMPT, "max_tokens": 400},
}
ROUTES = list(BODIES)


class Unreported:
    """A provider that reports no usage (some OpenAI-compatible servers): the emulated
    model's replies and streams, without it."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, inner.name

    async def complete(self, call) -> dict:
        reply = await self.inner.complete(call)
        reply.pop("usage", None)
        return reply

    async def stream(self, call):
        async for chunk in self.inner.stream(call):
            if not chunk.get("usage"):
                yield chunk


async def billed(client, exchange_id: str) -> tuple[int, int, int]:
    """(status, prompt tokens, completion tokens) of the exchange's usage record."""
    await client.wait_end(exchange_id)
    rows = await client.server.app[USAGE].store.run(lambda conn: conn.execute(
        "SELECT status, prompt_tokens, completion_tokens FROM usage WHERE exchange_id = ?",
        [exchange_id]).fetchall())
    assert len(rows) == 1, f"{exchange_id} was not billed"
    return rows[0]


async def stream(client, path: str, emulate: str, **extra):
    body = {**BODIES[path], "stream": True, **extra}
    return await client.post(path, json=body,
                             headers={**client.key, "x-behest-emulate": emulate})


@pytest.mark.parametrize("path", ROUTES)
async def test_a_stream_the_client_leaves_is_billed_for_what_was_sent(gateway, path):
    client = await gateway(LONG_SETTINGS)
    resp = await stream(client, path, "tokens_per_second=400")
    for _ in range(6):
        await resp.content.readline()
    resp.close()
    status, prompt, completion = await billed(client, resp.headers["X-Request-Id"])
    assert status == 499 and prompt > 0 and 0 < completion < LONG_TOKENS


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("cut", ["drop_after=20", "error_after=20"])
async def test_a_stream_cut_upstream_is_billed_for_the_tokens_relayed(gateway, path, cut):
    client = await gateway(LONG_SETTINGS)
    resp = await stream(client, path, cut)
    # drop_after: the connection breaks without a terminating chunk
    with contextlib.suppress(aiohttp.ClientPayloadError):
        await resp.read()
    status, prompt, completion = await billed(client, resp.headers["X-Request-Id"])
    # a drop keeps the 200 already sent; an in-stream error records the upstream's 500
    assert status == (200 if cut.startswith("drop") else 500)
    assert prompt > 0 and completion == 19  # every token relayed before the cut


@pytest.mark.parametrize("path", ROUTES)
async def test_a_complete_stream_is_billed_the_providers_usage(gateway, path):
    client = await gateway(LONG_SETTINGS)
    whole = await client.post(path, json=BODIES[path], headers=client.key)
    reported = (await whole.json())["usage"]
    resp = await stream(client, path, "tokens_per_second=0")
    await resp.read()
    status, prompt, completion = await billed(client, resp.headers["X-Request-Id"])
    if path == "/v1/responses":
        reported = {"prompt_tokens": reported["input_tokens"],
                    "completion_tokens": reported["output_tokens"]}
    assert (status, prompt, completion) == (
        200, reported["prompt_tokens"], reported["completion_tokens"]) and completion == LONG_TOKENS


async def test_a_stream_of_several_prompts_is_billed_for_all_of_them(gateway):
    client = await gateway(LONG_SETTINGS)
    resp = await stream(client, "/v1/completions", "tokens_per_second=0",
                        prompt=[PROMPT, "another long one"],
                        stream_options={"include_usage": True})
    events = [json.loads(line[6:]) for line in (await resp.text()).splitlines()
              if line.startswith("data: {")]
    sent = events[-1]["usage"]
    assert await billed(client, resp.headers["X-Request-Id"]) == (
        200, sent["prompt_tokens"], sent["completion_tokens"])
    assert sent["completion_tokens"] == 2 * LONG_TOKENS


async def test_a_stream_of_several_prompts_cut_in_the_second_bills_the_first_in_full(gateway):
    client = await gateway(LONG_SETTINGS)
    resp = await stream(client, "/v1/completions", "tokens_per_second=400",
                        prompt=[PROMPT, "another long one"])
    while True:  # until the second prompt's choice (index 1) has begun
        line = await resp.content.readline()
        assert line, "the stream ended before the second prompt"
        if line.startswith(b"data: {") and json.loads(line[6:])["choices"][0]["index"] == 1:
            break
    resp.close()
    status, prompt, completion = await billed(client, resp.headers["X-Request-Id"])
    assert status == 499 and LONG_TOKENS < completion < 2 * LONG_TOKENS


def reported(path: str, usage: dict) -> tuple[int, int]:
    """(prompt, completion) tokens of a response's ``usage``, in either dialect."""
    if path == "/v1/responses":
        return usage["input_tokens"], usage["output_tokens"]
    return usage["prompt_tokens"], usage["completion_tokens"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
async def test_a_reply_without_the_providers_usage_is_counted(gateway, path, streamed):
    client = await gateway()  # the emulated model, deterministic for one prompt
    body = {**BODIES[path], "stream": streamed}
    usual = await client.post(path, json={**body, "stream": False}, headers=client.key)
    _, completion = reported(path, (await usual.json())["usage"])
    providers = client.gateway.providers
    providers[EMULATED] = Unreported(providers[EMULATED])
    resp = await client.post(path, json=body, headers=client.key)
    await resp.read()
    prompt = estimate_prompt_tokens([{"role": "user", "content": PROMPT}])
    assert await billed(client, resp.headers["X-Request-Id"]) == (200, prompt, completion)
    assert completion > 20


async def test_a_completion_of_several_prompts_without_usage_counts_each(gateway):
    client = await gateway()
    providers = client.gateway.providers
    providers[EMULATED] = Unreported(providers[EMULATED])
    body = BODIES["/v1/completions"]
    one = await client.post("/v1/completions", json=body, headers=client.key)
    two = await client.post("/v1/completions", json={**body, "prompt": [PROMPT, PROMPT]},
                            headers=client.key)
    _, prompt, completion = await billed(client, one.headers["X-Request-Id"])
    assert prompt > 0 and completion > 0
    assert await billed(client, two.headers["X-Request-Id"]) == (
        200, 2 * prompt, 2 * completion)

"""A stream the client leaves is billed for what was sent, on every streamed route, seen as a
user sees it: the official openai SDK breaks out of ``responses``, ``completions`` and chat
streams after a few events, and ``GET /v1/usage`` on the live gateway shows the tokens sent
so far, more than none and fewer than the whole reply."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

PROMPT = "Write a long essay about rivers"
PACED = {"x-behest-emulate": "tokens_per_second=50"}  # over a second a reply: running when cut


def create(client: openai.OpenAI, route: str, *, stream: bool, user: str):
    headers = {**PACED, "X-End-User-Id": user}
    if route == "responses":
        return client.responses.create(model="gpt-4o", input=PROMPT, max_output_tokens=400,
                                       stream=stream, extra_headers=headers)
    if route == "completions":
        return client.completions.create(model="gpt-4o", prompt=PROMPT, max_tokens=400,
                                         stream=stream, extra_headers=headers)
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": PROMPT}], max_tokens=400,
        stream=stream, extra_headers=headers)


def usage_of(live, user: str) -> dict:
    resp = httpx.get(live.base_url + "/usage", params={"user_id": user},
                     headers={"Authorization": f"Bearer {live.key}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["totals"]


@pytest.mark.parametrize("route", ["responses", "completions", "chat"])
def test_a_stream_the_sdk_breaks_out_of_is_billed_for_what_was_sent(live, route):
    client = openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)
    whole_user, cut_user = f"whole-{uuid.uuid4().hex}", f"cut-{uuid.uuid4().hex}"
    create(client, route, stream=False, user=whole_user)
    whole = usage_of(live, whole_user)["completion_tokens"]
    stream = create(client, route, stream=True, user=cut_user)
    for seen, _event in enumerate(stream, 1):
        if seen == 5:
            break
    stream.close()
    live.recorder.wait_end(stream.response.headers["x-request-id"])
    totals = usage_of(live, cut_user)
    assert totals["requests"] == 1 and totals["prompt_tokens"] > 0
    assert 0 < totals["completion_tokens"] < whole

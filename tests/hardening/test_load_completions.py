"""Hardening (issue 17, item 1): a list of prompts is capped and handled in linear time.

``/v1/completions`` rendered the whole prompt list again for every prompt (20,000 prompts,
a 100 KB body, stalled ``/healthz`` for ~10 s). Now the prompts are rendered once, and a
list holds at most 2,048 prompts, as OpenAI allows; more is a 400 naming ``prompt``.
Token-id prompts are checked at C speed, so a long token array costs no per-token Python.
"""

from __future__ import annotations

import pytest

from behest_local.dialects import completions as legacy
from behest_local.errors import InvalidRequestError

URL = "/v1/completions"
MODEL = "gpt-3.5-turbo-instruct"


class CountingList(list):
    """A prompt list that counts how often it is walked."""

    walks = 0

    def __iter__(self):
        CountingList.walks += 1
        return super().__iter__()


@pytest.mark.parametrize("prompt", [["hello"] * 2049, [[7, 8]] * 2049],
                         ids=["strings", "token-arrays"])
async def test_more_than_2048_prompts_is_a_400_naming_prompt(gateway_client, prompt):
    resp = await gateway_client.post(URL, json={"model": MODEL, "prompt": prompt},
                                     headers=gateway_client.headers_auth)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["param"] == "prompt" and error["type"] == "invalid_request_error"
    assert "2048" in error["message"] and "2049" in error["message"]


async def test_2048_prompts_are_answered_each_with_its_own_choice(gateway_client):
    prompts = [f"Say {i}" for i in range(2048)]
    resp = await gateway_client.post(URL, json={"model": MODEL, "prompt": prompts, "echo": True,
                                                "max_tokens": 2},
                                     headers=gateway_client.headers_auth)
    assert resp.status == 200
    choices = (await resp.json())["choices"]
    assert [c["index"] for c in choices] == list(range(2048))
    assert all(c["text"].startswith(prompts[c["index"]]) for c in choices)


@pytest.mark.parametrize("prompt", [["hello"] * 2048, [[1212, 318]] * 2048],
                         ids=["strings", "token-arrays"])
def test_the_prompt_list_is_walked_a_few_times_not_once_per_prompt(prompt):
    body = legacy.validate_completions_request({"model": MODEL, "prompt": CountingList(prompt),
                                                "echo": True})
    CountingList.walks = 0
    texts = legacy.prompts(body)
    for index, text in enumerate(texts):
        legacy.to_chat_request(body, index, prompt=text)
        legacy.CompletionsStreamTranslator(request=body, completion_id="c", created=0, model=MODEL,
                                           prompt_index=index, prompt=text)
        legacy.from_chat_completion({"choices": []}, request=body, completion_id="c", created=0,
                                    prompt_index=index, prompt=text)
    assert CountingList.walks <= 3


@pytest.mark.parametrize("prompt, param", [
    ([7] * 100_000 + [-1], "prompt[100000]"),
    ([7] * 100_000 + [True], "prompt"),
    ([[7] * 50_000, [7] * 49_999 + [-3]], "prompt[1][49999]"),
    ([[7], [7, 1.5]], "prompt[1]"),
])
def test_a_bad_token_in_a_long_array_is_named(prompt, param):
    with pytest.raises(InvalidRequestError) as info:
        legacy.validate_completions_request({"model": MODEL, "prompt": prompt})
    assert info.value.param == param

"""Guidance for a newcomer's likely slips: an unknown model name, a doubled ``/v1``.

A model name no provider knows is answered offline, with a warning.

In the default offline mode the emulated model answers any model name, so a typo
(``gtp-4o``) would otherwise go unnoticed until production. The response carries
``x-behest-warning`` with the closest known name, the exchange holds the same text
(``Exchange.warning``: the TUI shows it) and the request log line ends with it. Read with
the openai SDK's ``with_raw_response``, as a user's code would. A base URL that already
ends in ``/v1`` given to a client that adds its own gets a 404 saying so.
"""

from __future__ import annotations

import openai
import pytest

from behest_local.exchange.events import Routed
from behest_local.observe.headless import format_line

HI = [{"role": "user", "content": "Hello"}]
WARNING = "unknown model 'gtp-4o'; did you mean 'gpt-4o'?"


@pytest.fixture
def client(live) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)


def _exchange(live, request_id: str):
    live.recorder.wait_end(request_id)
    return next(x for x in list(live.gateway.store.recent) if x.id == request_id)


def test_an_unknown_model_is_answered_with_a_warning_naming_the_closest(client, live):
    raw = client.chat.completions.with_raw_response.create(model="gtp-4o", messages=HI)
    completion = raw.parse()
    assert raw.http_response.status_code == 200 and completion.choices[0].message.content
    assert completion.model == "gtp-4o"  # answered as asked, not silently renamed
    assert raw.headers["x-behest-warning"] == WARNING
    exchange = _exchange(live, raw.headers["x-request-id"])
    assert exchange.warning == WARNING  # for the TUI
    assert format_line(exchange).endswith(f"  warning: {WARNING}  {exchange.id}")
    routed = next(e for e in live.recorder.events
                  if isinstance(e, Routed) and e.exchange_id == exchange.id)
    assert "no provider serves 'gtp-4o'" in routed.reason


def test_a_streamed_answer_carries_the_warning_in_its_headers(client):
    raw = client.chat.completions.with_raw_response.create(model="gtp-4o", messages=HI,
                                                           stream=True)
    assert raw.headers["x-behest-warning"] == WARNING
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)


def test_known_and_unspecified_models_carry_no_warning(client):
    for model in ("gpt-4o", "claude-sonnet-4-20250514", "default", "my-vendor/any-model"):
        raw = client.chat.completions.with_raw_response.create(model=model, messages=HI)
        assert "x-behest-warning" not in raw.headers, model


def test_an_unknown_embeddings_model_is_warned_about_too(client):
    raw = client.embeddings.with_raw_response.create(model="text-embeding-3-small",
                                                     input="hi")
    assert raw.headers["x-behest-warning"] == \
        "unknown model 'text-embeding-3-small'; did you mean 'text-embedding-3-small'?"


def test_a_hostile_or_far_off_name_is_quoted_safely_in_the_header(client):
    raw = client.chat.completions.with_raw_response.create(model="q\u202e\x1bzz\u00e9",
                                                           messages=HI)
    warning = raw.headers["x-behest-warning"]
    assert warning.isascii() and "\x1b" not in warning
    assert warning.startswith("unknown model 'q\\u202e\\x1bzz\\xe9'; no provider serves it")
    long = client.chat.completions.with_raw_response.create(model="x" * 5000, messages=HI)
    assert len(long.headers["x-behest-warning"]) < 200


def test_a_doubled_v1_says_the_base_url_already_ends_in_v1(live):
    """The v1.5 SDK appends /v1/… itself (reference §2.3): BEHEST_BASE_URL copied from an
    OpenAI example, ending in /v1, makes it call /v1/v1/…; the 404 says what to change."""
    import httpx
    from behest import Behest, BehestError

    with httpx.Client(timeout=30) as http, pytest.raises(BehestError) as info:
        Behest(key=live.key, base_url=live.url + "/v1",
               http_client=http).chat.completions.create(messages=HI)
    assert info.value.status == 404
    message = str(info.value)
    assert "/v1/v1/" in message and "your base URL already ends in /v1" in message
    assert f"BEHEST_BASE_URL without /v1 ({live.url})" in message
    with openai.OpenAI(api_key=live.key, base_url=live.base_url + "/v1",
                       max_retries=0) as doubled, pytest.raises(openai.NotFoundError) as info:
        doubled.chat.completions.create(model="gpt-4o", messages=HI)
    assert info.value.body["code"] == "unknown_url"  # OpenAI's error JSON on an OpenAI route
    assert "your base URL already ends in /v1" in info.value.body["message"]
    assert f"want it with /v1 ({live.url}/v1)" in info.value.body["message"]

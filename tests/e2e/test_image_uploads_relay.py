"""``/v1/images/edits`` and ``/v1/images/variations`` relayed to OpenAI when the vault holds
its key: the openai SDK on the gateway, the gateway on the fake OpenAI, which records each
upload's parts (``fakes/openai_media.py``). Without a key they stay emulated
(``test_images_sdk.py`` draws them)."""

from __future__ import annotations

import warnings

import openai
import pytest

from behest_local.exchange.events import ExchangeFinished, Routed
from tests.e2e.test_audio_relay import fields_of, files_of
from tests.e2e.test_images_sdk import _decoded, _png
from tests.trace_support import EventWaiter


@pytest.fixture
async def up(byok):
    up = await byok("openai")
    up.waiter = EventWaiter()
    up.gateway.store.subscribe(up.waiter)
    return up


async def test_an_edit_with_two_images_and_a_mask_is_resent_part_for_part(up):
    first, second, mask = _png(), _png(colour=(0, 90, 200, 255)), _png(colour=(0, 0, 0, 0))
    response = await up.sdk.images.with_raw_response.edit(
        model="gpt-image-1", image=[("one.png", first, "image/png"),
                                    ("two.webp", second, "image/webp")],
        mask=("mask.png", mask, "image/png"), prompt="a blue sky", n=2, size="1024x1024",
        quality="low", input_fidelity="high")
    edited = response.parse()
    assert [_decoded(d.b64_json).size for d in edited.data] == [(1, 1), (1, 1)]  # the fake's
    sent = up.state.requests[-1]
    assert (sent.path, sent.auth_ok) == ("/v1/images/edits", True)
    assert files_of(sent) == [("image[]", "one.png", "image/png", first),
                              ("image[]", "two.webp", "image/webp", second),
                              ("mask", "mask.png", "image/png", mask)]
    assert sorted(fields_of(sent)) == sorted([
        ("model", "gpt-image-1"), ("prompt", "a blue sky"), ("n", "2"),
        ("size", "1024x1024"), ("quality", "low"), ("input_fidelity", "high")])
    request_id = response.headers["x-request-id"]
    routed = next(e for e in up.recorder.events if isinstance(e, Routed)
                  and e.exchange_id == request_id)
    assert (routed.provider, routed.model) == ("openai", "gpt-image-1")
    done = await up.waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                                and e.exchange_id == request_id)
    assert (done.prompt_tokens, done.completion_tokens) == (9, 272)  # the upstream's usage


async def test_a_streamed_edit_is_relayed_event_by_event(up):
    stream = await up.sdk.images.edit(model="gpt-image-1", image=("in.png", _png()),
                                      prompt="a hat", stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == ["image_edit.completed"]
    assert _decoded(events[0].b64_json).size == (1, 1)  # the fake's
    sent = up.state.requests[-1]
    assert ("stream", "true") in fields_of(sent) and sent.headers["Accept"] == \
        "text/event-stream"


async def test_a_variation_is_relayed_with_its_image_and_fields(up):
    image = _png()
    with warnings.catch_warnings():  # SDK 2.x marks variations deprecated (DALL·E 2 only)
        warnings.simplefilter("ignore", DeprecationWarning)
        response = await up.sdk.images.with_raw_response.create_variation(
            image=("in.png", image, "image/png"), model="dall-e-2", n=3, size="256x256",
            response_format="b64_json")
    varied = response.parse()
    assert len(varied.data) == 3
    request_id = response.headers["x-request-id"]
    done = await up.waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                                and e.exchange_id == request_id)
    # DALL·E's reply carries no usage: the images it returned are what is billed.
    assert (done.prompt_tokens, done.completion_tokens) == (0, 3)
    sent = up.state.requests[-1]
    assert sent.path == "/v1/images/variations"
    assert files_of(sent) == [("image", "in.png", "image/png", image)]
    assert sorted(fields_of(sent)) == sorted([("model", "dall-e-2"), ("n", "3"),
                                              ("size", "256x256"),
                                              ("response_format", "b64_json")])


@pytest.mark.parametrize("status, error", [(400, openai.BadRequestError),
                                           (429, openai.RateLimitError),
                                           (500, openai.InternalServerError)])
async def test_an_upstream_error_on_an_edit_is_an_openai_error_with_its_status(up, status,
                                                                               error):
    with pytest.raises(error) as caught:
        await up.sdk.images.edit(model="gpt-image-1", image=("in.png", _png()),
                                 prompt=f"a hat [error {status}]")
    assert caught.value.status_code == status and caught.value.body["message"]


async def test_without_a_key_edits_and_variations_stay_emulated(live):
    client = openai.AsyncOpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)
    async with client:
        edited = await client.images.edit(model="gpt-image-1", image=("in.png", _png()),
                                          prompt="a hat", size="1024x1024", quality="low")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            varied = await client.images.create_variation(image=("in.png", _png()),
                                                          size="256x256",
                                                          response_format="b64_json")
    assert _decoded(edited.data[0].b64_json).size == (1024, 1024)  # drawn, not the fake's
    assert _decoded(varied.data[0].b64_json).size == (256, 256)
    routed = [e for e in live.recorder.events if isinstance(e, Routed)][-2:]
    assert [e.provider for e in routed] == ["emulated", "emulated"]

"""``POST /v1/moderations`` through the openai SDK: emulated offline, relayed with a key.

Offline, a small keyword model answers (``providers/emulated/moderation.py``): every
category of ``omni-moderation-latest`` in all three maps, deterministic, an obvious case
flagged, a neutral sentence passed, image parts applied to the image-capable categories.
With an OpenAI key in the vault the call goes to (fake) OpenAI as sent.
"""

from __future__ import annotations

import openai
import pytest

from behest_local.exchange.events import Routed
from behest_local.providers.emulated.moderation import CATEGORIES, IMAGE_CATEGORIES

PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42"
         "mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==")


@pytest.fixture
def client(live) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)


def _wire(result) -> dict:
    return result.model_dump(by_alias=True)


def test_a_violent_sentence_is_flagged_and_a_neutral_one_passes(client):
    response = client.moderations.create(
        input=["I will kill you and stab your family.", "The weather is lovely today."])
    assert response.model == "omni-moderation-latest" and response.id.startswith("modr-")
    violent, neutral = response.results
    assert violent.flagged and violent.categories.violence
    assert violent.categories.harassment_threatening
    assert violent.category_scores.violence > 0.5
    assert not neutral.flagged
    assert not any(_wire(neutral.categories).values())
    assert max(_wire(neutral.category_scores).values()) < 0.01


def test_a_developers_kill_and_shoot_are_not_violence(client):
    response = client.moderations.create(input=[
        "How do I kill a zombie process?", "Kill all the worker threads, then shoot a screenshot.",
        "He murdered the family."])
    process, threads, murder = response.results
    assert not process.flagged and not threads.flagged
    assert murder.flagged and murder.categories.violence


def test_every_category_is_in_all_three_maps_with_its_wire_spelling(client):
    response = client.moderations.create(input="hello there", model="omni-moderation-latest")
    raw = response.results[0]
    for field in ("categories", "category_scores", "category_applied_input_types"):
        assert set(_wire(getattr(raw, field))) == set(CATEGORIES), field
    assert all(kinds == ["text"] for kinds in _wire(raw.category_applied_input_types).values())


def test_the_same_input_scores_the_same_every_time(client):
    first = client.moderations.create(input="a quiet walk in the park")
    second = client.moderations.create(input="a quiet walk in the park")
    assert _wire(first.results[0]) == _wire(second.results[0])


def test_text_and_image_parts_give_one_result_with_image_applied_where_it_can_be(client):
    response = client.moderations.create(input=[
        {"type": "text", "text": "look at this"},
        {"type": "image_url", "image_url": {"url": PIXEL}}])
    assert len(response.results) == 1
    applied = _wire(response.results[0].category_applied_input_types)
    for name, kinds in applied.items():
        assert kinds == (["text", "image"] if name in IMAGE_CATEGORIES else ["text"]), name


def test_text_moderation_models_send_the_omni_categories_as_null(client):
    response = client.moderations.create(input="fine", model="text-moderation-latest")
    categories = _wire(response.results[0].categories)
    assert categories["illicit"] is None and categories["illicit/violent"] is None


def test_the_emulate_header_pins_a_verdict(client):
    response = client.moderations.create(
        input="a neutral sentence", extra_headers={"x-behest-emulate": "flag=sexual|hate"})
    result = response.results[0]
    assert result.flagged and result.categories.sexual and result.categories.hate
    assert not result.categories.violence


@pytest.mark.parametrize("body, param", [
    ({}, "input"),
    ({"input": 3}, "input"),
    ({"input": []}, "input"),
    ({"input": [{"type": "video", "url": "x"}]}, "input[0]"),
    ({"input": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]},
     "input[0].image_url.url"),
    ({"input": [{"type": "image_url", "image_url": {"url": PIXEL}}],
      "model": "text-moderation-latest"}, "input"),
])
def test_bad_bodies_are_openai_400s_naming_the_field(client, body, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/moderations", body=body, cast_to=object)
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param


def test_an_unknown_flag_category_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(input="x", extra_headers={"x-behest-emulate": "flag=rude"})
    assert "rude" in caught.value.message


async def test_with_an_openai_key_moderation_goes_to_openai_as_sent(byok):
    up = await byok("openai")
    response = await up.sdk.moderations.create(input=["fake-flag", "kill"])
    assert response.id.startswith("modr-fake-")
    assert [r.flagged for r in response.results] == [True, False]  # the fake's verdicts
    sent = up.state.requests[-1]
    assert sent.auth_ok and sent.body == {"input": ["fake-flag", "kill"]}
    routed = [e for e in up.recorder.events if isinstance(e, Routed)][-1]
    assert (routed.provider, routed.model) == ("openai", "omni-moderation-latest")


async def test_a_model_openai_does_not_moderate_with_is_emulated_even_with_a_key(byok):
    up = await byok("openai")
    response = await up.sdk.moderations.create(input="kill", model="my-moderator")
    assert response.results[0].flagged and not response.id.startswith("modr-fake-")
    routed = [e for e in up.recorder.events if isinstance(e, Routed)][-1]
    assert routed.provider == "emulated"

"""Guardrails on the routes that are not chat-shaped: embeddings, image prompts (generations
and edits) and speech input, with the openai SDK against a running gateway.

Relayed to the fake OpenAI upstream, which records what it got: a masked or redacted value
never reaches it, a block is a 451 that never reaches it, shadow sends the text as it was.
Without an OpenAI key the emulated models answer: a block is the same 451, and a masked
DALL·E 3 prompt comes back as ``revised_prompt`` with its placeholder (nothing in an image
to restore a value in). Moderations are not guarded: they classify the text as sent.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from types import MappingProxyType

import openai
import pytest
from PIL import Image

from behest_local.config import ProjectConfig
from behest_local.exchange.events import ExchangeFinished, GuardrailTriggered
from behest_local.observe.record import build_record
from tests.conftest import TEST_SETTINGS
from tests.e2e import test_guardrails_sdk
from tests.e2e.test_guardrails_sdk import CARD, EMAIL, NAME, PROJECTS, PROMPT
from tests.trace_support import start_gateway

gateway = test_guardrails_sdk.gateway  # the live gateway and fake upstream, as a fixture here

MASKED = "My name is <PERSON_1>, write <EMAIL_ADDRESS_1>"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (200, 30, 30, 255)).save(out, "PNG")
    return out.getvalue()


async def embed(sdk, text):
    return await sdk.embeddings.create(model="text-embedding-3-small", input=text)


async def generate(sdk, text):
    return await sdk.images.generate(model="gpt-image-1", prompt=text)


async def edit(sdk, text):
    return await sdk.images.edit(model="gpt-image-1", prompt=text,
                                 image=("in.png", png(), "image/png"))


async def speak(sdk, text):
    return await sdk.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input=text)


def sent(fake, field: str) -> str:
    """The text field the fake got last (JSON body, or an upload's form part)."""
    body = fake.requests[-1].body
    if isinstance(body, list):  # an upload's parts
        return next(p[1] for p in body if len(p) == 2 and p[0] == field)
    return json.dumps(body[field])


CALLS = {"embeddings": (embed, "input"), "generations": (generate, "prompt"),
         "edits": (edit, "prompt"), "speech": (speak, "input")}


@pytest.mark.parametrize("route", CALLS)
async def test_masked_and_redacted_values_never_reach_the_upstream(gateway, route):
    _running, sdks, _keys, fake, _waiter, _home = gateway
    call, field = CALLS[route]
    await call(sdks["masked"], PROMPT)
    got = sent(fake, field)
    assert NAME not in got and EMAIL not in got and MASKED in got
    await call(sdks["redacted"], PROMPT)
    assert "My name is <PERSON>, write <EMAIL_ADDRESS>" in sent(fake, field)


async def test_every_string_of_an_embeddings_list_is_masked_and_token_arrays_go_as_they_are(
        gateway):
    _running, sdks, _keys, fake, _waiter, _home = gateway
    await sdks["masked"].embeddings.create(model="text-embedding-3-small",
                                           input=[PROMPT, "nothing here", f"Call me {NAME}"])
    # one value, one placeholder, across the inputs of a request
    assert fake.requests[-1].body["input"] == [MASKED, "nothing here", "Call me <PERSON_1>"]
    await sdks["masked"].embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]])
    assert fake.requests[-1].body["input"] == [[1, 2, 3]]


@pytest.mark.parametrize("route", CALLS)
@pytest.mark.parametrize("text, code", [(f"pay with {CARD}", "pii_blocked"),
                                        ("draw the forbidden phrase", "content_blocked")])
async def test_a_block_is_a_451_that_never_reaches_the_upstream(gateway, route, text, code):
    _running, sdks, _keys, fake, _waiter, _home = gateway
    before = len(fake.requests)
    with pytest.raises(openai.APIStatusError) as info:
        await CALLS[route][0](sdks["blocked"], text)
    assert (info.value.status_code, info.value.code) == (451, code)
    assert CARD not in info.value.response.text
    assert len(fake.requests) == before


async def test_shadow_sends_the_text_as_it_was_and_records_what_it_found(gateway):
    _running, sdks, _keys, fake, waiter, _home = gateway
    raw = await sdks["shadow"].embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=PROMPT)
    assert fake.requests[-1].body["input"] == PROMPT
    request_id = raw.headers["X-Request-Id"]
    await waiter.wait(lambda e, _x: isinstance(e, ExchangeFinished)
                      and e.exchange_id == request_id)
    found = [e for e, _x in waiter.seen
             if isinstance(e, GuardrailTriggered) and e.exchange_id == request_id]
    assert [(e.guard, e.mode, dict(e.counts)) for e in found] == [
        ("pii", "shadow", {"PERSON": 1, "EMAIL_ADDRESS": 1})]


async def test_traces_of_guarded_media_requests_hold_no_value(gateway):
    running, sdks, _keys, _fake, waiter, _home = gateway
    ids = []
    for route in ("embeddings", "generations", "speech"):
        call = {"embeddings": sdks["shadow"].embeddings.with_raw_response.create,
                "generations": sdks["masked"].images.with_raw_response.generate,
                "speech": sdks["masked"].audio.speech.with_raw_response.create}[route]
        args = {"embeddings": {"model": "text-embedding-3-small", "input": PROMPT},
                "generations": {"model": "gpt-image-1", "prompt": PROMPT},
                "speech": {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": PROMPT}}
        ids.append((await call(**args[route])).headers["X-Request-Id"])
    for request_id in ids:
        await waiter.wait(lambda e, _x, r=request_id: isinstance(e, ExchangeFinished)
                          and e.exchange_id == r)
    records = json.dumps([build_record(running.gateway.store.find(i)) for i in ids],
                         ensure_ascii=False)
    assert NAME not in records and EMAIL not in records
    assert "pii enforce: PERSON×1, EMAIL_ADDRESS×1 → MASK" in records


async def test_moderations_are_not_guarded_they_classify_the_text_as_sent(gateway):
    _running, sdks, _keys, fake, _waiter, _home = gateway
    await sdks["masked"].moderations.create(model="omni-moderation-latest", input=PROMPT)
    assert fake.requests[-1].body["input"] == PROMPT


@pytest.fixture
async def emulated(tmp_path):
    """A gateway without an OpenAI key: the emulated models answer every route."""
    settings = replace(TEST_SETTINGS, providers=MappingProxyType({}), projects=tuple(
        ProjectConfig(name=pid, id=pid, guardrails=g) for pid, g in PROJECTS.items()))
    running, _ = await start_gateway(tmp_path / "home", replace(
        settings, projects=(ProjectConfig(name="local", id="local"), *settings.projects)))
    keys = {pid: running.gateway.keys.create(pid)[0] for pid in PROJECTS}
    sdks = {pid: openai.AsyncOpenAI(api_key=key, base_url=running.url + "/v1", max_retries=0)
            for pid, key in keys.items()}
    try:
        yield sdks
    finally:
        for sdk in sdks.values():
            await sdk.close()
        await running.close()


@pytest.mark.parametrize("route", CALLS)
async def test_the_emulated_models_answer_a_block_with_the_same_451(emulated, route):
    with pytest.raises(openai.APIStatusError) as info:
        await CALLS[route][0](emulated["blocked"], f"pay with {CARD}")
    assert (info.value.status_code, info.value.code) == (451, "pii_blocked")
    assert info.value.body["details"] == {"entities": {"CREDIT_CARD": 1}}


async def test_an_emulated_image_is_made_from_the_masked_prompt(emulated):
    reply = await emulated["masked"].images.generate(model="dall-e-3", prompt=PROMPT,
                                                     response_format="b64_json")
    assert reply.data[0].revised_prompt == MASKED
    spoken = await emulated["masked"].audio.speech.create(model="tts-1", voice="alloy",
                                                          input=PROMPT)
    assert spoken.content  # the voice speaks the placeholder: nothing to restore in audio

"""``POST /v1/images/generations`` through the openai SDK: real images offline, relayed
with a key.

Offline the gateway draws a placeholder (``providers/emulated/images.py``); every image
is decoded with Pillow and checked for its size and format. ``url`` images are fetched
from the gateway's own ``/images/…`` path without credentials, as an ``<img>`` would.
"""

from __future__ import annotations

import base64
import io
import urllib.request
import warnings

import openai
import pytest
from PIL import Image

from behest_local.exchange.events import Routed


@pytest.fixture
def client(live) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)


def _decoded(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


@pytest.mark.parametrize("size", ["1024x1024", "1536x1024", "1024x1536"])
def test_gpt_image_returns_a_decodable_png_of_the_requested_size(client, size):
    response = client.images.generate(model="gpt-image-1", prompt="a lighthouse at dawn",
                                      size=size, quality="low")
    image = _decoded(response.data[0].b64_json)
    assert image.format == "PNG" and f"{image.width}x{image.height}" == size
    assert response.size == size and response.quality == "low"
    assert response.output_format == "png" and response.background == "opaque"
    assert response.usage.output_tokens == (272 if size == "1024x1024" else 408)
    assert response.usage.input_tokens > 0


@pytest.mark.parametrize("fmt, pil", [("jpeg", "JPEG"), ("webp", "WEBP"), ("png", "PNG")])
def test_each_output_format_is_that_format(client, fmt, pil):
    response = client.images.generate(model="gpt-image-1", prompt="a cat", output_format=fmt,
                                      output_compression=80)
    assert _decoded(response.data[0].b64_json).format == pil


def test_a_transparent_background_has_an_alpha_channel(client):
    response = client.images.generate(model="gpt-image-1", prompt="a logo",
                                      background="transparent")
    image = _decoded(response.data[0].b64_json)
    assert image.mode == "RGBA" and image.getextrema()[3][0] == 0


def test_the_same_prompt_draws_the_same_image_and_n_draws_distinct_ones(client):
    kwargs = dict(model="gpt-image-1", prompt="two foxes", quality="low")
    first = client.images.generate(n=2, **kwargs)
    again = client.images.generate(n=2, **kwargs)
    assert [d.b64_json for d in first.data] == [d.b64_json for d in again.data]
    assert first.data[0].b64_json != first.data[1].b64_json


def test_dall_e_2_defaults_to_a_url_the_gateway_serves_without_credentials(client, live):
    response = client.images.generate(prompt="a small house", size="256x256")
    url = response.data[0].url
    assert url.startswith(live.base_url.rsplit("/v1", 1)[0] + "/images/")
    assert response.usage is None and response.size is None  # GPT image models only
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(reply.read()))
    assert image.size == (256, 256)


def test_an_unknown_image_url_is_a_404(live):
    url = live.base_url.rsplit("/v1", 1)[0] + "/images/nope.png"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=10)
    caught.value.close()  # the error holds the response (and its socket) open
    assert caught.value.code == 404


def test_dall_e_3_revises_the_prompt_and_makes_one_image(client):
    response = client.images.generate(model="dall-e-3", prompt="a tree", size="1792x1024",
                                      response_format="b64_json")
    assert _decoded(response.data[0].b64_json).size == (1792, 1024)
    assert response.data[0].revised_prompt == "a tree"
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="dall-e-3", prompt="a tree", n=2)
    assert caught.value.body["param"] == "n"


@pytest.mark.parametrize("kwargs, param", [
    ({"model": "gpt-image-1"}, "prompt"),
    ({"prompt": "x", "model": "gpt-image-1", "size": "300x300"}, "size"),
    ({"prompt": "x", "model": "dall-e-2", "output_format": "png"}, "output_format"),
    ({"prompt": "x", "model": "gpt-image-1", "response_format": "url"}, "response_format"),
    ({"prompt": "x", "model": "gpt-image-1", "output_format": "jpeg",
      "background": "transparent"}, "background"),
    ({"prompt": "x", "model": "gpt-image-1", "output_format": "gif"}, "output_format"),
    ({"prompt": "x", "model": "gpt-image-1", "n": 11}, "n"),
    ({"prompt": "x", "model": "gpt-image-1", "output_compression": 101}, "output_compression"),
    ({"prompt": "x", "model": "stable-diffusion"}, "model"),
    ({"prompt": "x" * 1001, "model": "dall-e-2"}, "prompt"),
])
def test_bad_requests_are_openai_400s_naming_the_parameter(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/images/generations", body=kwargs, cast_to=object)
    assert caught.value.status_code == 400 and caught.value.body["param"] == param


async def test_with_an_openai_key_images_go_to_openai_as_sent(byok):
    up = await byok("openai")
    response = await up.sdk.images.generate(model="gpt-image-1", prompt="a boat", n=2)
    assert [_decoded(d.b64_json).size for d in response.data] == [(1, 1), (1, 1)]  # the fake's
    sent = up.state.requests[-1]
    assert sent.auth_ok and sent.body == {"model": "gpt-image-1", "prompt": "a boat", "n": 2}
    routed = [e for e in up.recorder.events if isinstance(e, Routed)][-1]
    assert (routed.provider, routed.model) == ("openai", "gpt-image-1")


def _vary(client, **kwargs):
    """``images.create_variation``, which SDK 2.x marks deprecated (DALL·E 2 only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return client.images.create_variation(**kwargs)


def _png(size=(64, 64), colour=(200, 30, 30, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, colour).save(out, "PNG")
    return out.getvalue()


def test_an_edit_keeps_the_original_where_the_mask_is_opaque(client):
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 64))  # left half transparent: edit it
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    response = client.images.edit(model="gpt-image-1", image=("in.png", _png()),
                                  mask=("mask.png", buffer.getvalue()), prompt="a blue sky",
                                  size="1024x1024", quality="low")
    image = _decoded(response.data[0].b64_json).convert("RGB")
    assert image.size == (1024, 1024)
    assert image.getpixel((1000, 1000)) == (200, 30, 30)  # kept: the mask is opaque there
    assert image.getpixel((10, 1000)) != (200, 30, 30)  # edited
    assert response.usage.output_tokens == 272


def test_dall_e_2_edits_and_varies_a_square_png_as_urls(client):
    edited = client.images.edit(model="dall-e-2", image=("in.png", _png()), prompt="a hat",
                                size="256x256", n=2)
    varied = _vary(client, image=("in.png", _png()), size="512x512")
    assert len(edited.data) == 2 and edited.data[0].url != edited.data[1].url
    for url, side in ((edited.data[0].url, 256), (varied.data[0].url, 512)):
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert Image.open(io.BytesIO(reply.read())).size == (side, side)


@pytest.mark.parametrize("call, param", [
    (lambda c: c.images.edit(model="dall-e-2", image=("a.png", _png((64, 32))), prompt="x"),
     "image"),
    (lambda c: c.images.edit(model="gpt-image-1", image=("a.png", b"not an image"),
                             prompt="x"), "image"),
    (lambda c: c.images.edit(model="gpt-image-1", image=("a.png", _png()),
                             mask=("m.png", _png((32, 32))), prompt="x"), "mask"),
    (lambda c: c.images.edit(model="dall-e-3", image=("a.png", _png()), prompt="x"), "model"),
    (lambda c: _vary(c, model="gpt-image-1", image=("a.png", _png())), "model"),
    (lambda c: _vary(c, image=("a.png", _png()), n="many"), "n"),
])
def test_bad_uploads_are_openai_400s_naming_the_field(client, call, param):
    with pytest.raises(openai.BadRequestError) as caught:
        call(client)
    assert caught.value.body["param"] == param


def test_an_edit_sent_as_json_is_a_400_asking_for_multipart(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/images/edits", body={"prompt": "x"}, cast_to=object)
    assert caught.value.code == "invalid_multipart"


def test_a_streamed_generation_sends_partial_images_then_the_completed_one(client):
    stream = client.images.generate(model="gpt-image-1", prompt="a kite", stream=True,
                                    partial_images=2, quality="low", size="1024x1536")
    events = list(stream)
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + [
        "image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    for event in events:
        assert _decoded(event.b64_json).size == (1024, 1536)
    done = events[-1]
    assert done.usage.output_tokens == 408 and done.output_format == "png"
    whole = client.images.generate(model="gpt-image-1", prompt="a kite", quality="low",
                                   size="1024x1536")
    assert done.b64_json == whole.data[0].b64_json  # the stream ends on the same image


async def test_with_an_openai_key_a_streamed_generation_is_relayed_as_sent(byok):
    up = await byok("openai")
    stream = await up.sdk.images.generate(model="gpt-image-1", prompt="a boat", stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == ["image_generation.completed"]
    assert _decoded(events[0].b64_json).size == (1, 1)  # the fake's
    sent = up.state.requests[-1]
    assert sent.body["stream"] is True and sent.headers["Accept"] == "text/event-stream"


@pytest.mark.parametrize("model, quality, per_image", [
    ("gpt-image-1", "low", 0.011), ("gpt-image-1", "medium", 0.042),
    ("gpt-image-1", "high", 0.167)])
def test_image_tokens_cost_what_openai_charges_per_square_image(model, quality, per_image):
    from behest_local.finops.prices import PriceTable
    from behest_local.providers.emulated.images import validate_generation, output_tokens

    req = validate_generation({"prompt": "x", "model": model, "quality": quality})
    cost = PriceTable().cost(model, 0, output_tokens(req))
    assert cost == pytest.approx(per_image, abs=0.001)  # OpenAI rounds to tenths of a cent

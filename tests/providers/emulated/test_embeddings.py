"""Emulated embeddings: vector properties, wire encodings, OpenAI-style validation."""

from __future__ import annotations

import base64
import math
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.errors import InvalidRequestError
from behest_local.providers.emulated.embeddings import (
    EMBEDDING_MODELS,
    create_embeddings,
    embed_text,
    encode_base64,
    shorten,
    validate_embeddings_request,
)


def norm(v):
    return math.sqrt(math.fsum(x * x for x in v))


def cos(a, b):
    return math.fsum(x * y for x, y in zip(a, b))


def test_model_table():
    assert EMBEDDING_MODELS["text-embedding-3-small"] == 1536
    assert EMBEDDING_MODELS["text-embedding-3-large"] == 3072
    assert EMBEDDING_MODELS["text-embedding-ada-002"] == 1536
    assert EMBEDDING_MODELS["gemini-embedding-001"] == 3072
    assert EMBEDDING_MODELS["mistral-embed"] == 1024


@pytest.mark.parametrize("dims", [1, 8, 64, 1024, 1536, 3072])
def test_unit_norm_and_size(dims):
    v = embed_text("Hello, world! Embeddings are vectors.", dims)
    assert len(v) == dims and math.isclose(norm(v), 1.0, rel_tol=1e-9)


def test_empty_and_featureless_text_get_a_fixed_unit_vector():
    assert embed_text("", 16) == embed_text("   \n\t", 16) == [0.25] * 16


def test_deterministic():
    assert embed_text("same text", 1536) == embed_text("same text", 1536)
    assert embed_text("same text", 1536) != embed_text("other text", 1536)


def test_similar_texts_are_closer_than_unrelated_ones():
    a = embed_text("the cat sat on the mat", 1536)
    b = embed_text("a cat sat on a mat", 1536)
    c = embed_text("quarterly tax report", 1536)
    assert cos(a, b) > 0.4 > 0.1 > cos(a, c)
    # the ordering survives shortening, thanks to the Matryoshka-style heads
    a64, b64, c64 = (shorten(v, 64) for v in (a, b, c))
    assert cos(a64, b64) > cos(a64, c64)


def test_fast_for_short_texts():
    embed_text("warm the feature cache", 1536)
    # The best of five batches: one stall of the machine (another process, a collection)
    # must not fail a speed bound the code itself meets.
    per_text = []
    for batch in range(5):
        t0 = time.perf_counter()
        for i in range(20):
            embed_text(f"a short sentence number {batch} {i}", 1536)
        per_text.append((time.perf_counter() - t0) / 20)
    assert min(per_text) < 1e-3


def test_base64_is_little_endian_float32():
    v = embed_text("decode me", 1536)
    raw = base64.b64decode(encode_base64(v))
    decoded = struct.unpack(f"<{len(v)}f", raw)
    assert len(raw) == 4 * 1536
    assert all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-7) for x, y in zip(decoded, v))


def test_shorten_truncates_then_renormalises():
    v = embed_text("matryoshka", 3072)
    s = shorten(v, 256)
    assert len(s) == 256 and math.isclose(norm(s), 1.0)
    scale = norm(v[:256])
    assert all(math.isclose(x * scale, y, abs_tol=1e-12) for x, y in zip(s, v[:256]))


def test_create_embeddings_float_response():
    r = create_embeddings({"input": ["one", "two"], "model": "x"}, model="text-embedding-3-small")
    assert r["object"] == "list" and r["model"] == "text-embedding-3-small"
    assert [d["index"] for d in r["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 1536 for d in r["data"])
    assert r["data"][0]["embedding"] == embed_text("one", 1536)
    assert r["usage"]["prompt_tokens"] == r["usage"]["total_tokens"] >= 2


def test_create_embeddings_base64_with_dimensions():
    body = {"input": "hello there", "encoding_format": "base64", "dimensions": 256}
    r = create_embeddings(body, model="text-embedding-3-large")
    got = struct.unpack("<256f", base64.b64decode(r["data"][0]["embedding"]))
    want = shorten(embed_text("hello there", 3072), 256)
    assert all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-7) for x, y in zip(got, want))


def test_token_arrays_embed_as_joined_ids_and_count_ids():
    r = create_embeddings({"input": [[1, 2, 3], [4, 5]]}, model="mistral-embed")
    assert r["data"][0]["embedding"] == embed_text("1 2 3", 1024)
    assert r["usage"]["prompt_tokens"] == 5
    single = create_embeddings({"input": [7, 8]}, model="mistral-embed")
    assert len(single["data"]) == 1 and single["usage"]["prompt_tokens"] == 2


def test_validate_returns_a_body_that_validates_again():
    body = {"input": "x", "model": "text-embedding-3-small", "user": "u", "dimensions": None}
    v = validate_embeddings_request(body)
    assert v == {"input": "x", "model": "text-embedding-3-small", "user": "u", "encoding_format": "float"}
    assert validate_embeddings_request(v) == v
    assert create_embeddings(v, model="text-embedding-3-small")["data"][0]["embedding"] == embed_text("x", 1536)


def test_routed_model_decides_whether_dimensions_are_allowed():
    body = {"input": "x", "model": "my-alias", "dimensions": 8}
    assert validate_embeddings_request(body, model="text-embedding-3-small")["dimensions"] == 8
    with pytest.raises(InvalidRequestError, match="does not support"):
        validate_embeddings_request(body)


@pytest.mark.parametrize(
    ("body", "model", "param", "fragment"),
    [
        ({}, None, "input", "required"),
        ({"input": ""}, None, "input", "empty"),
        ({"input": []}, None, "input", "non-empty"),
        ({"input": ["ok", ""]}, None, "input[1]", "empty string"),
        ({"input": ["ok", 3]}, None, "input[1]", "int"),
        ({"input": ["x"] * 2049}, None, "input", "2048"),
        ({"input": [[1], []]}, None, "input[1]", "empty"),
        ({"input": [1, -2]}, None, "input[1]", "non-negative"),
        ({"input": [True]}, None, "input[0]", "bool"),
        ({"input": "x", "model": 5}, None, "model", "string"),
        ({"input": "x", "encoding_format": "int8"}, None, "encoding_format", "'float', 'base64'"),
        ({"input": "x", "dimensions": 0}, "text-embedding-3-small", "dimensions", "1 to 1536"),
        ({"input": "x", "dimensions": 1537}, "text-embedding-3-small", "dimensions", "1 to 1536"),
        ({"input": "x", "dimensions": 3.5}, "text-embedding-3-large", "dimensions", "1 to 3072"),
        ({"input": "x", "dimensions": 64}, "text-embedding-ada-002", "dimensions",
         "This model does not support specifying dimensions."),
        ({"input": "x", "user": 1}, None, "user", "string"),
        ({"input": "x", "temperature": 1}, None, "temperature",
         "Unrecognized request argument supplied: temperature"),
    ],
)
def test_validation_errors_name_the_param(body, model, param, fragment):
    with pytest.raises(InvalidRequestError) as exc:
        validate_embeddings_request(body, model=model)
    assert exc.value.param == param and exc.value.status == 400
    assert fragment in exc.value.message


def test_non_object_body_is_rejected():
    with pytest.raises(InvalidRequestError, match="JSON object"):
        validate_embeddings_request(["input"])


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1), st.sampled_from([1, 3, 256, 1536]))
def test_any_text_embeds_to_a_finite_unit_vector(text, dims):
    v = embed_text(text, dims)
    assert len(v) == dims and all(math.isfinite(x) for x in v)
    assert math.isclose(norm(v), 1.0, rel_tol=1e-9)

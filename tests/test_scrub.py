"""Redaction of recorded bodies and stream fragments (behest_local/scrub.py)."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from behest_local import scrub
from tests.trace_support import CANARY, CANARY_MARK


def test_key_shapes_are_replaced_with_a_short_hint():
    text = f"use {CANARY} or behest_sk_live_{'a' * 32} or AIzaSyA1234567890abcdefgh"
    out = scrub.redact_text(text)
    assert CANARY_MARK not in out and "a" * 32 not in out and "1234567890" not in out
    assert "sk-proj-…[redacted]" in out


def test_prose_that_merely_resembles_a_prefix_is_left_alone():
    text = "scikit-learn's sk-learn alias, a desk-top and risk-free bearer bonds"
    assert scrub.redact_text(text) == text


def test_known_credentials_are_replaced_whatever_their_shape():
    assert "plainsecret42" not in scrub.redact_text("echo plainsecret42!", ["plainsecret42"])
    assert scrub.redact_text("a b c", ["a"]) == "a b c"  # too short to be a credential


def test_json_fields_named_like_secrets_are_replaced_whatever_they_hold():
    body = json.dumps({"api_key": "hunter2hunter2", "nested": [{"password": "pw"}],
                       "content": f"key {CANARY}", "max_tokens": 5}).encode()
    out = scrub.redact_body(body)
    assert "hunter2" not in out and '"pw"' not in out and CANARY_MARK not in out
    assert json.loads(out)["max_tokens"] == 5


def test_a_body_cut_at_the_cap_falls_back_to_text_redaction():
    body = json.dumps({"content": f"{CANARY} " + "x" * 100}).encode()[:70]
    assert CANARY_MARK not in scrub.redact_body(body)


def test_a_secret_split_across_stream_fragments_is_masked_in_every_fragment():
    # How the emulated model streams an echoed key: word pieces across many events.
    pieces = ["my key", " sk", "-", "proj", "-", "CANARY7f3a9b2c", "4d5e6f708192", " ok"]
    out = scrub.redact_fragments(pieces, [])
    assert len(out) == len(pieces)
    assert all("CANARY" not in p and "4d5e6f" not in p for p in out)
    assert out[0] == "my key" and out[-1] == " ok"


def test_redacting_twice_changes_nothing():
    once = scrub.redact_text(f"k={CANARY}")
    assert scrub.redact_text(once) == once


@given(st.text(max_size=40), st.text(max_size=40), st.integers(1, 8))
def test_fragment_redaction_never_leaks_a_secret_whatever_the_split(before, after, parts):
    text = before + " " + CANARY + " " + after
    size = max(1, len(text) // parts)
    pieces = [text[i:i + size] for i in range(0, len(text), size)]
    assert CANARY_MARK not in "".join(scrub.redact_fragments(pieces, [CANARY]))

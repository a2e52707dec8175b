"""Redaction of recorded bodies and stream fragments (behest_local/scrub.py)."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings, strategies as st

from behest_local.exchange import scrub
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


# -- the fast paths must find exactly what the plain regex finds ---------------------

# The shapes as one regex, as exchange/scrub.py had them before its prefilter and rewrite: the
# reference the fast scan is held to.
_REFERENCE = re.compile("|".join(f"(?:{s})" for s in [
    r"\bsk-(?:proj|ant|svcacct|admin|or-v1)-[A-Za-z0-9_\-]{4,}",
    r"\bsk-[A-Za-z0-9_\-]{16,}",
    r"\bbehest_sk_(?:live|test)_[A-Za-z0-9]+",
    r"\bbh_(?:live|test)_[A-Za-z0-9]+",
    r"\bAIza[0-9A-Za-z_\-]{8,}",
    r"\b(?:gsk|xai|ghp|gho|github_pat|glpat|hf|r8|pplx|csk)_[A-Za-z0-9_\-]{8,}",
    r"\bxai-[A-Za-z0-9]{8,}",
    r"\bAKIA[0-9A-Z]{12,}",
    r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
    r"(?<=[Bb]earer )[A-Za-z0-9._~+/\-]{8,}=*",
]))

# Text made of key prefixes, key bodies, separators and word characters that touch
# them: the places where a boundary, a lookbehind or an alternation order matters.
_PIECES = ["sk-", "sk-proj-", "sk-ant-", "sk-or-v1-", "behest_sk_live_", "bh_test_", "AIza",
           "gsk_", "xai_", "xai-", "ghp_", "gho_", "github_pat_", "glpat_", "hf_", "r8_",
           "pplx_", "csk_", "AKIA", "eyJ", "Bearer ", "bearer ", "earer ", "B", ".", "=",
           "-", "_", "/", " ", "\n", "é", "x", "a1b2c3d4", "ABCDEFGH1234", "Z9_-", "…[redacted]"]
_keyish = st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=24).map("".join)


@settings(max_examples=600)
@given(_keyish)
def test_the_fast_scan_finds_exactly_what_the_reference_regex_finds(text):
    assert scrub.shape_spans(text) == [m.span() for m in _REFERENCE.finditer(text)]


@settings(max_examples=600)
@given(_keyish)
def test_every_shape_match_holds_an_anchor(text):
    for match in _REFERENCE.finditer(text):
        # A bearer token's anchor lies just before it.
        assert scrub.has_anchor(text[max(0, match.start() - 7):match.end()])


@given(st.text())
def test_text_without_an_anchor_holds_no_shape(text):
    if not scrub.has_anchor(text):
        assert _REFERENCE.search(text) is None


def test_every_secret_field_name_has_a_prefilter_ending():
    for key in scrub.SECRET_KEYS:
        assert any(ending in f'"{key}"' for ending in scrub._KEY_ENDINGS)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _keyish | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["content", "api_key", "Token", "TOKEN", "model", "x",
                                       "prompt_tokens", "Authorization", "passwd"]) | _keyish,
                      inner, max_size=4),
    max_leaves=12)


@settings(max_examples=400)
@given(_json_values, st.booleans(), st.sampled_from([(), ("plainsecret42",), ("a/b\"c\\d0",)]))
def test_a_body_said_to_need_nothing_is_left_as_sent(value, ascii_only, known):
    text = json.dumps(value, ensure_ascii=ascii_only)
    if known and known[0] != "plainsecret42":
        text = json.dumps([value, known[0]], ensure_ascii=ascii_only)
    if not scrub.may_need_redaction(text, known):
        assert scrub.redact_json(json.loads(text), known) == json.loads(text)
        assert scrub.redact_text(text, known) == text
        assert scrub.redact_body(text.encode(), known) == text


def test_a_body_with_nothing_to_redact_is_kept_byte_for_byte():
    raw = b'{"model":"m",  "messages":[{"role":"user","content":"hi \\u00e9"}]}'
    assert scrub.redact_body(raw) == raw.decode()
    compact = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
    assert scrub.redact_body(compact) == compact.decode()


def test_a_redacted_body_is_still_json_with_every_other_field_kept():
    raw = json.dumps({"api_key": "hunter2hunter2", "n": 5, "text": "ok"}, indent=4).encode()
    out = json.loads(scrub.redact_body(raw))
    assert out["n"] == 5 and out["text"] == "ok" and "hunter2" not in out["api_key"]


def test_an_escaped_secret_field_name_is_still_found():
    raw = b'{"api\\u005fkey": "hunter2hunter2"}'
    assert "hunter2" not in scrub.redact_body(raw)


def test_redact_json_returns_its_input_when_nothing_changes():
    value = {"a": ["x", {"b": "plain words"}], "n": 1}
    assert scrub.redact_json(value) is value

"""Each PII recognizer finds its entity, and its checksum or rule refuses look-alikes."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings, strategies as st

from behest_local.guardrails.recognizers import (PIECE, find_pii, iban_ok, luhn_ok, pieces,
                                                 ssn_ok)


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start:f.end]) for f in find_pii(text)]


@pytest.mark.parametrize("text, entity, value", [
    ("write to ada.l@example.co.uk today", "EMAIL_ADDRESS", "ada.l@example.co.uk"),
    ("call +44 20 7946 0958 now", "PHONE_NUMBER", "+44 20 7946 0958"),
    ("call (555) 123-4567 now", "PHONE_NUMBER", "(555) 123-4567"),
    ("pay with 4111 1111 1111 1111.", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("pay with 5500-0000-0000-0004", "CREDIT_CARD", "5500-0000-0000-0004"),
    ("iban GB82 WEST 1234 5698 7654 32 ok", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    ("iban DE89370400440532013000", "IBAN_CODE", "DE89370400440532013000"),
    ("from 192.168.1.10.", "IP_ADDRESS", "192.168.1.10"),
    ("from 2001:db8::1 today", "IP_ADDRESS", "2001:db8::1"),
    ("ssn 123-45-6789", "US_SSN", "123-45-6789"),
    ("key sk-proj-abcdefghijklmnop1234", "API_KEY", "sk-proj-abcdefghijklmnop1234"),
    ("key behest_sk_live_abcdef123456", "API_KEY", "behest_sk_live_abcdef123456"),
    ("aws AKIAIOSFODNN7EXAMPLE", "API_KEY", "AKIAIOSFODNN7EXAMPLE"),
    ("gh ghp_" + "a" * 36, "API_KEY", "ghp_" + "a" * 36),
    ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "API_KEY",
     "abcdefghijklmnopqrstuvwxyz012345"),
    ("My name is Grace Hopper.", "PERSON", "Grace Hopper"),
    ("Name: Linus Torvalds", "PERSON", "Linus Torvalds"),
    ("ask Dr. Ada Lovelace", "PERSON", "Ada Lovelace"),
    ("hello, I'm Priya and", "PERSON", "Priya"),
    ("Best regards,\nMargaret Hamilton", "PERSON", "Margaret Hamilton"),
    ("then John Smith left", "PERSON", "John Smith"),
    # After another capitalised word: that pair is rejected, and the name still found.
    ('Respond with "Hello John Smith"', "PERSON", "John Smith"),
    ("Dear Maria Garcia,", "PERSON", "Maria Garcia"),
])
def test_each_recognizer_finds_its_entity(text, entity, value):
    assert (entity, value) in found(text)


def test_a_pem_private_key_block_is_one_api_key():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----"
    assert found(f"key:\n{pem}\nthanks") == [("API_KEY", pem)]


@pytest.mark.parametrize("text", [
    "card 4111 1111 1111 1112",          # Luhn fails
    "ip 999.1.1.1 and 1.2.3",             # not an address
    "time 10:30:00 and std::vector",      # colons, not IPv6
    "ssn 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567, 123-45-0000",  # SSA rules
    "sk-learn is a library; skip-ahead",  # too short for a key
    "I am Happy to help. Call me later.",  # no name after the cue
    "date 2024-01-15, order 12345",        # too few digits for a phone
])
def test_look_alikes_are_not_pii(text):
    assert found(text) == []


def test_an_iban_failing_mod_97_is_no_iban():
    assert "IBAN_CODE" not in dict(found("iban GB82 WEST 1234 5698 7654 33"))


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")
    assert ssn_ok("123", "45", "6789") and not ssn_ok("666", "45", "6789")


def test_a_card_number_is_a_card_not_a_phone():
    assert found("4111111111111111") == [("CREDIT_CARD", "4111111111111111")]


def test_long_text_is_cut_at_line_breaks_into_bounded_pieces():
    text = ("word " * 30 + "\n") * 5000
    spans = list(pieces(text))
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(b - a <= PIECE for a, b in spans)
    assert all(text[b - 1] == "\n" for _, b in spans[:-1])
    email_at_end = text + "mail me: a@b.io"
    assert found(email_at_end) == [("EMAIL_ADDRESS", "a@b.io")]


ADVERSARIAL = ["a" * 200_000, "1" * 200_000, "1-" * 100_000, "a@" * 100_000,
               "a." * 100_000, ":" * 200_000, "1." * 100_000, "A1" * 100_000,
               "sk-" * 70_000, "<" * 200_000, "Mr " * 70_000, "My name is " * 20_000,
               "11 " * 70_000, "+1 " * 70_000, "a:" * 100_000, "Aa " * 70_000]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_text_is_scanned_in_linear_time(text):
    started = time.perf_counter()
    find_pii(text)
    assert time.perf_counter() - started < 2.0  # ~0.05 s; a catastrophic pattern: minutes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "1", " ", "-", ".", "@", ":", "+", "(", ")", "A",
                                 "sk-", "\n", "Mr ", "John ", "x" * 30, "9" * 16]),
                min_size=1, max_size=400).map("".join).map(lambda s: s * 50))
def test_generated_text_never_backtracks(text):
    started = time.perf_counter()
    findings = find_pii(text)
    assert time.perf_counter() - started < 2.0
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:]))


def test_the_recognizers_rank_exactly_the_configurable_entities():
    from behest_local.guardrails.entities import ENTITIES
    from behest_local.guardrails.recognizers import PRIORITY
    assert sorted(PRIORITY) == sorted(ENTITIES)

"""Masked values come back in a reply, whole or split across stream events at any point."""

from __future__ import annotations

from hypothesis import given, strategies as st

from behest_local.guardrails.restore import StreamRestorer, restore

ORIGINALS = {"<PERSON_1>": "John Smith", "<PERSON_10>": "Ada Lovelace",
             "<EMAIL_ADDRESS_1>": "a@b.io"}


def test_restore_replaces_known_placeholders_only():
    assert restore("Hi <PERSON_1>, <PERSON_2> and <b>", ORIGINALS) == \
        "Hi John Smith, <PERSON_2> and <b>"


def test_a_placeholder_split_across_events_is_restored_whole():
    restorer = StreamRestorer(ORIGINALS)
    out = [restorer.feed(d) for d in ["Hello <PERS", "ON_1", ">, mail <EMAIL_ADDRESS_1> <"]]
    assert out == ["Hello ", "", "John Smith, mail a@b.io "]
    assert restorer.flush() == "<"


def test_text_without_a_possible_placeholder_is_never_held():
    restorer = StreamRestorer(ORIGINALS)
    assert restorer.feed("a < b and <x") == "a < b and <x"
    assert restorer.feed("<PERSON_1") == ""  # could still be <PERSON_1> or <PERSON_10>
    assert restorer.feed("0>") == "Ada Lovelace"


REPLY = st.lists(st.sampled_from(["<PERSON_1>", "<PERSON_10>", "<EMAIL_ADDRESS_1>", "<",
                                  ">", "<PERSON_", "PERSON", "_1", " ", "text", "é", "\n"]),
                 max_size=40).map("".join)


@given(REPLY, st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_any_split_of_the_reply_restores_exactly(reply, cuts):
    points = sorted({c % (len(reply) + 1) for c in cuts})
    deltas = [reply[a:b] for a, b in zip([0, *points], [*points, len(reply)])]
    restorer = StreamRestorer(ORIGINALS)
    streamed = "".join(restorer.feed(d) for d in deltas) + restorer.flush()
    assert streamed == restore(reply, ORIGINALS)

"""The emulated model recalls what the user said of themselves earlier (``recall.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behest_local.providers.emulated.composer import compose
from behest_local.providers.emulated.recall import recall_answer

EARLIER = ("My cat is called Biscuit and she sleeps on the radiator.", "I live in Lyon.",
           "Hi, my name is Ada Lovelace.", "My favourite colour is teal, I think.",
           "My best friend's name is Sam Smith")


@pytest.mark.parametrize("question, answer", [
    ("What is my cat called?", "Your cat is called Biscuit"),
    ("what's my cat's name?", "Your cat is called Biscuit"),
    ("What do I call my cat?", "Your cat is called Biscuit"),
    ("What is my favourite colour?", "Your favourite colour is teal"),
    ("What is my best friend called?", "Your best friend is called Sam Smith"),
    ("What is my name?", "Your name is Ada Lovelace"),
    ("Who am I?", "Your name is Ada Lovelace"),
    ("Where do I live?", "You live in Lyon"),
])
def test_a_fact_stated_earlier_is_recalled(question, answer):
    assert recall_answer(question, EARLIER).startswith(answer)


def test_the_newest_statement_wins():
    said = ("The name of my dog is Rex.", "Sorry, my dog is called Fido.")
    assert recall_answer("What is my dog called?", said).startswith("Your dog is called Fido")


@pytest.mark.parametrize("question, answer", [
    ("What is my dog called?", "You haven't told me about your dog in this conversation."),
    ("What is my name?", "You haven't told me your name in this conversation."),
    ("Where do I live?", "You haven't told me where you live in this conversation."),
])
def test_a_fact_never_stated_is_not_guessed(question, answer):
    assert recall_answer(question, ("My cat is called Biscuit.",)) == answer


@pytest.mark.parametrize("message", [
    "What is the capital of France?", "What is my problem with this code? " * 5,
    "Tell me about my cat", "What is my name", "Summarize our conversation."])
def test_other_messages_are_left_to_the_other_intents(message):
    if message == "What is my name":  # a question without its mark is still one
        assert recall_answer(message, EARLIER).startswith("Your name is Ada")
    else:
        assert recall_answer(message, EARLIER) is None


@given(st.text(max_size=200), st.lists(st.text(max_size=300), max_size=5))
def test_any_text_gets_an_answer_or_none_never_an_error(question, earlier):
    answer = recall_answer(question, tuple(earlier))
    assert answer is None or answer.endswith(".")


def test_the_emulated_model_answers_from_the_history():
    reply = compose({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "My dog is called Biscuit."},
        {"role": "assistant", "content": "Nice!"},
        {"role": "user", "content": "What is my dog called?"}]})
    assert reply.content.startswith("Your dog is called Biscuit")

"""Stored responses with the openai SDK against a live gateway: what an agent built on the
Responses API runs, unchanged, offline.

Every test goes over real HTTP to the ``live`` gateway (``runtime.start``, as ``serve``).
Chaining by id, background responses, cancellation, input items, streaming with store and
project isolation; the Conversations API is ``test_conversations_sdk.py``, restarts are
``test_stored_restart.py``.
"""

from __future__ import annotations

import time

import openai
import pytest

from behest_local.exchange.events import (Authenticated, ExchangeFailed, ExchangeFinished,
                                          RequestReceived)

POLL_S, POLL_LIMIT_S = 0.02, 10.0


@pytest.fixture
def client(live) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)


@pytest.fixture
def other(live) -> openai.OpenAI:
    """A client of another project (``prompted``)."""
    return openai.OpenAI(api_key=live.prompted_key, base_url=live.base_url, max_retries=0)


def poll(client: openai.OpenAI, response_id: str) -> tuple[object, list[str]]:
    """Retrieve until the response is final (bounded); the final one and every status seen."""
    seen, deadline = [], time.monotonic() + POLL_LIMIT_S
    while True:
        response = client.responses.retrieve(response_id)
        if not seen or seen[-1] != response.status:
            seen.append(response.status)
        if response.status not in ("queued", "in_progress"):
            return response, seen
        assert time.monotonic() < deadline, f"still {response.status} after {POLL_LIMIT_S}s"
        time.sleep(POLL_S)


def test_a_chained_question_is_answered_from_the_first_turn(client):
    first = client.responses.create(model="gpt-4o-mini", input="My dog is called Biscuit.")
    second = client.responses.create(model="gpt-4o-mini", previous_response_id=first.id,
                                     input="I live in Lyon.")
    third = client.responses.create(model="gpt-4o-mini", previous_response_id=second.id,
                                    input="What is my dog called?")
    assert third.output_text.startswith("Your dog is called Biscuit")
    alone = client.responses.create(model="gpt-4o-mini", input="What is my dog called?")
    assert "Biscuit" not in alone.output_text


def test_third_turn_of_a_previous_response_id_chain_uses_the_first_turns_content(client):
    first = client.responses.create(
        model="gpt-4o-mini", input="My cat is called Biscuit and she sleeps on the radiator.")
    second = client.responses.create(model="gpt-4o-mini", previous_response_id=first.id,
                                     input="What is the capital of France?")
    third = client.responses.create(model="gpt-4o-mini", previous_response_id=second.id,
                                    input="Summarize our conversation.")
    assert second.previous_response_id == first.id
    assert third.previous_response_id == second.id
    assert "Biscuit" in third.output_text
    # Without the chain the model has nothing to summarize from the first turn.
    alone = client.responses.create(model="gpt-4o-mini", input="Summarize our conversation.")
    assert "Biscuit" not in alone.output_text


def test_a_chain_branches_from_any_stored_turn_without_its_instructions(client):
    first = client.responses.create(model="gpt-4o-mini", instructions="Answer in French.",
                                    input="Remember the word pelican.")
    client.responses.create(model="gpt-4o-mini", previous_response_id=first.id,
                            input="Now forget it and remember walrus.")
    branch = client.responses.create(model="gpt-4o-mini", previous_response_id=first.id,
                                     input="Summarize our conversation.")
    assert "pelican" in branch.output_text and "walrus" not in branch.output_text
    assert branch.instructions is None


def test_stored_response_is_retrieved_as_created_and_deleted(client):
    created = client.responses.create(model="gpt-4o-mini", input="Why is the sky blue?",
                                      metadata={"run": "7"})
    got = client.responses.retrieve(created.id)
    assert got.model_dump() == created.model_dump()
    assert got.metadata == {"run": "7"}
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(created.id)
    assert info.value.body["message"] == f"Response with id '{created.id}' not found."
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_a_response_with_store_false_is_not_kept(client):
    created = client.responses.create(model="gpt-4o-mini", input="Hello", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o-mini", previous_response_id=created.id,
                                input="and then?")
    assert info.value.code == "previous_response_not_found"
    assert info.value.param == "previous_response_id"


def test_streamed_response_is_stored_as_its_final_event_says(client):
    with client.responses.stream(model="gpt-4o-mini", input="Tell me about whales.") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    stored = client.responses.retrieve(final.id)
    assert stored.status == "completed"
    assert stored.output_text == final.output_text != ""
    follow = client.responses.create(model="gpt-4o-mini", previous_response_id=final.id,
                                     input="Summarize our conversation.")
    assert "whales" in follow.output_text.lower()


def test_input_items_are_paged_like_openai(client):
    created = client.responses.create(model="gpt-4o-mini", input=[
        {"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
        {"role": "user", "content": [{"type": "input_text", "text": "three"}]}])
    newest_first = list(client.responses.input_items.list(created.id, limit=2))
    texts = [item.content[0].text for item in newest_first]
    assert texts == ["three", "two", "one"]
    assert all(item.id.startswith("msg_") for item in newest_first)
    page = client.responses.input_items.list(created.id, limit=2, order="asc")
    assert [item.content[0].text for item in page.data] == ["one", "two"]
    assert page.has_more is True and page.first_id == page.data[0].id
    assert page.last_id == page.data[1].id
    rest = client.responses.input_items.list(created.id, order="asc", after=page.last_id)
    assert [item.content[0].text for item in rest.data] == ["three"] and not rest.has_more


def test_plain_string_input_is_listed_as_one_user_message(client):
    created = client.responses.create(model="gpt-4o-mini", input="Just this.")
    (item,) = client.responses.input_items.list(created.id).data
    assert item.type == "message" and item.role == "user"
    assert item.content[0].type == "input_text" and item.content[0].text == "Just this."


def test_background_response_is_polled_from_queued_to_completed(live, client):
    created = client.responses.create(
        model="gpt-4o-mini", input="Why is the sky blue?", background=True,
        extra_headers={"x-behest-emulate": "first_token_ms=300"})
    assert created.background is True
    assert created.status in ("queued", "in_progress") and created.output == []
    final, seen = poll(client, created.id)
    assert final.status == "completed" and final.output_text
    assert seen[-1] == "completed" and "in_progress" in seen
    assert final.usage.output_tokens > 0
    # The run is its own exchange, authenticated as the request was and billed.
    events = list(live.recorder.events)
    runs = {e.exchange_id for e in events if isinstance(e, RequestReceived)
            and e.client == "background"}
    ended = [e for e in events if isinstance(e, ExchangeFinished) and e.exchange_id in runs
             and e.completion_tokens == final.usage.output_tokens]
    assert ended
    projects = {e.project for e in events if isinstance(e, Authenticated)
                and e.exchange_id == ended[-1].exchange_id}
    assert projects == {"local"}


def test_background_response_is_cancelled(live, client):
    created = client.responses.create(
        model="gpt-4o-mini", input="Write a long essay.", background=True,
        extra_headers={"x-behest-emulate": "first_token_ms=60000"})
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(created.id).status == "cancelled"
    assert client.responses.cancel(created.id).status == "cancelled"  # idempotent
    assert any(isinstance(e, ExchangeFailed) and e.cancelled and e.status == 499
               for e in list(live.recorder.events))


def test_cancelling_a_response_that_was_not_in_the_background_is_a_400(client):
    created = client.responses.create(model="gpt-4o-mini", input="Hi")
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.cancel(created.id)
    assert "background" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_unknown")


def test_background_failure_is_stored_with_its_error(client):
    created = client.responses.create(
        model="gpt-4o-mini", input="Hi", background=True,
        extra_headers={"x-behest-emulate": "status=503"})
    final, _ = poll(client, created.id)
    assert final.status == "failed"
    assert final.error.code == "server_error" and final.error.message


def test_another_projects_key_finds_nothing(client, other):
    created = client.responses.create(model="gpt-4o-mini", input="Secret plans.")
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError) as info:
        other.responses.create(model="gpt-4o-mini", previous_response_id=created.id,
                               input="Summarize our conversation.")
    assert info.value.code == "previous_response_not_found"
    assert client.responses.retrieve(created.id).id == created.id  # still there


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"previous_response_id": "resp_nope"}, "previous_response_id"),
    ({"background": True, "store": False}, "store"),
    ({"background": True, "stream": True}, "background"),
    ({"previous_response_id": "resp_a", "conversation": "conv_b"}, "conversation"),
])
def test_bad_stateful_parameters_are_400s_naming_them(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o-mini", input="Hi", **kwargs)
    assert info.value.param == param


def test_bad_page_parameters_are_400s_naming_them(client):
    created = client.responses.create(model="gpt-4o-mini", input="Hi")
    for query, param in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                         ({"order": "up"}, "order"), ({"after": "msg_nope"}, "after")):
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.input_items.list(created.id, extra_query=query)
        assert info.value.param == param


def test_deleting_a_running_background_response_stops_it_for_good(client):
    created = client.responses.create(
        model="gpt-4o-mini", input="Hi", background=True,
        extra_headers={"x-behest-emulate": "first_token_ms=60000"})
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_a_background_response_appends_to_its_conversation_when_done(client):
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "I collect blue teapots."}])
    created = client.responses.create(model="gpt-4o-mini", conversation=conversation.id,
                                      input="Summarize our conversation.", background=True)
    final, _ = poll(client, created.id)
    assert "teapots" in final.output_text and final.conversation.id == conversation.id
    items = client.conversations.items.list(conversation.id).data
    assert items[0].id == final.output[0].id and len(items) == 3

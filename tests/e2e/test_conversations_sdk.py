"""The Conversations API with the openai SDK against a live gateway.

Create, retrieve, update, delete; items create/list/retrieve/delete with OpenAI's
paging; ``conversation`` on ``responses.create`` reading the items and appending to
them; another project's key finds nothing.
"""

from __future__ import annotations

import openai
import pytest


@pytest.fixture
def client(live) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.key, base_url=live.base_url, max_retries=0)


@pytest.fixture
def other(live) -> openai.OpenAI:
    return openai.OpenAI(api_key=live.prompted_key, base_url=live.base_url, max_retries=0)


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": text}


def test_conversation_is_created_retrieved_updated_and_deleted(client):
    conversation = client.conversations.create(metadata={"topic": "cats"})
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "cats"}
    updated = client.conversations.update(conversation.id, metadata={"topic": "dogs"})
    assert updated.metadata == {"topic": "dogs"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "dogs"}
    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (
        conversation.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError) as info:
        client.conversations.retrieve(conversation.id)
    assert info.value.body["message"] == f"Conversation with id '{conversation.id}' not found."


def test_responses_read_the_conversation_and_append_their_turn(client):
    conversation = client.conversations.create(
        items=[user("My favourite island is Skye, in the Hebrides.")])
    response = client.responses.create(model="gpt-4o-mini", conversation=conversation.id,
                                       input="Summarize our conversation.")
    assert response.conversation.id == conversation.id
    assert "Skye" in response.output_text
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [(i.type, i.role) for i in items] == [("message", "user")] * 2 + [
        ("message", "assistant")]
    assert items[1].content[0].text == "Summarize our conversation."
    assert items[2].id == response.output[0].id
    assert items[2].content[0].text == response.output_text
    # The next turn, by the object form, sees all of it.
    again = client.responses.create(model="gpt-4o-mini", conversation={"id": conversation.id},
                                    input="Summarize our conversation.")
    assert "Skye" in again.output_text
    assert len(client.conversations.items.list(conversation.id).data) == 5


def test_streamed_response_appends_to_its_conversation(client):
    conversation = client.conversations.create()
    with client.responses.stream(model="gpt-4o-mini", conversation=conversation.id,
                                 input="Tell me about otters.") as stream:
        final = stream.get_final_response()
    items = client.conversations.items.list(conversation.id).data  # newest first
    assert [i.role for i in items] == ["assistant", "user"]
    assert items[0].content[0].text == final.output_text


def test_items_are_created_listed_in_pages_retrieved_and_deleted(client):
    conversation = client.conversations.create(items=[user("one")])
    added = client.conversations.items.create(conversation.id,
                                              items=[user("two"), user("three")])
    assert [i.content[0].text for i in added.data] == ["two", "three"]
    # The SDK pages with after=<last_id> until has_more is false.
    newest_first = list(client.conversations.items.list(conversation.id, limit=1))
    assert [i.content[0].text for i in newest_first] == ["three", "two", "one"]
    page = client.conversations.items.list(conversation.id, limit=2)
    assert page.has_more and page.first_id == page.data[0].id and page.last_id == page.data[1].id
    two = added.data[0]
    assert client.conversations.items.retrieve(two.id, conversation_id=conversation.id).id == two.id
    after = client.conversations.items.delete(two.id, conversation_id=conversation.id)
    assert after.id == conversation.id and after.object == "conversation"
    left = [i.content[0].text for i in client.conversations.items.list(conversation.id)]
    assert left == ["three", "one"]
    with pytest.raises(openai.NotFoundError) as info:
        client.conversations.items.retrieve(two.id, conversation_id=conversation.id)
    assert info.value.body["message"] == f"Item with id '{two.id}' not found."


def test_another_projects_key_finds_no_conversation(client, other):
    conversation = client.conversations.create(items=[user("private")])
    with pytest.raises(openai.NotFoundError):
        other.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        other.conversations.items.list(conversation.id)
    with pytest.raises(openai.NotFoundError):
        other.conversations.items.create(conversation.id, items=[user("sneaky")])
    with pytest.raises(openai.NotFoundError):
        other.conversations.delete(conversation.id)
    with pytest.raises(openai.NotFoundError) as info:
        other.responses.create(model="gpt-4o-mini", conversation=conversation.id, input="Hi")
    assert info.value.param == "conversation"
    assert len(client.conversations.items.list(conversation.id).data) == 1


@pytest.mark.parametrize(("call", "param"), [
    (lambda c: c.conversations.create(items=[user(str(n)) for n in range(21)]), "items"),
    (lambda c: c.conversations.create(items=[{"role": "robot", "content": "x"}]),
     "items[0].role"),
    (lambda c: c.conversations.create(metadata={"k": "v" * 513}), "metadata.k"),
    (lambda c: c.conversations.create(extra_body={"title": "x"}), "title"),
    (lambda c: c.conversations.items.create(c.conversations.create().id, items=[]) and
     c.conversations.items.create(c.conversations.create().id, items="no"), "items"),
])
def test_bad_conversation_inputs_are_400s_naming_the_param(client, call, param):
    with pytest.raises(openai.BadRequestError) as info:
        call(client)
    assert info.value.param == param


def test_updating_without_metadata_is_a_400(client):
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as info:
        client.post(f"/conversations/{conversation.id}", body={}, cast_to=object)
    assert info.value.param == "metadata"

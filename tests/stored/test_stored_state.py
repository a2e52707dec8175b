"""The stored-responses database: responses, chains, conversations, pages, caps, files."""

from __future__ import annotations

import stat

import pytest

from behest_local.dialects.responses_items import input_items, stored_item
from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.stored import conversations, database, responses
from behest_local.stored.database import StoredState
from behest_local.stored.pages import Page, parse_page


def response(rid: str, *, previous: str | None = None, status: str = "completed",
             text: str = "ok", created_at: int = 1) -> dict:
    output = [{"id": f"msg_{rid}", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": text, "annotations": []}]}]
    return {"id": rid, "object": "response", "created_at": created_at, "status": status,
            "previous_response_id": previous, "output": output}


def said(text: str, role: str = "user") -> dict:
    return stored_item({"type": "message", "role": role, "content": text})


def texts(items: list[dict]) -> list[str]:
    return [item["content"][0]["text"] for item in items]


@pytest.fixture
async def state(tmp_path):
    store = StoredState(tmp_path / "data" / "responses.sqlite3")
    await store.open()
    yield store
    await store.close()


async def test_a_response_is_kept_for_its_project_only(state):
    await state.run(responses.save, "p1", response("resp_a"), [said("hi")])
    assert (await state.run(responses.get, "p1", "resp_a"))["id"] == "resp_a"
    assert await state.run(responses.get, "p2", "resp_a") is None
    assert await state.run(responses.input_page, "p2", "resp_a", Page()) is None
    assert not await state.run(responses.delete, "p2", "resp_a")
    assert await state.run(responses.delete, "p1", "resp_a")
    assert await state.run(responses.get, "p1", "resp_a") is None


async def test_a_later_state_replaces_the_earlier_and_keeps_the_inputs(state):
    await state.run(responses.save, "p", response("resp_b", status="queued"), [said("q")])
    await state.run(responses.save, "p", response("resp_b", status="completed"), None)
    assert (await state.run(responses.get, "p", "resp_b"))["status"] == "completed"
    page = await state.run(responses.input_page, "p", "resp_b", Page())
    assert texts(page["data"]) == ["q"]


async def test_a_chain_is_every_turns_inputs_and_outputs_oldest_first(state):
    await state.run(responses.save, "p", response("r1", text="a1"), [said("u1")])
    await state.run(responses.save, "p", response("r2", previous="r1", text="a2"), [said("u2")])
    await state.run(responses.save, "p", response("r3", previous="r2", text="a3"), [said("u3")])
    assert texts(await state.run(responses.chain, "p", "r3")) == [
        "u1", "a1", "u2", "a2", "u3", "a3"]
    assert await state.run(responses.chain, "p", "r9") is None
    assert await state.run(responses.chain, "other", "r3") is None
    await state.run(responses.delete, "p", "r2")  # a deleted turn ends the chain there
    await state.run(responses.save, "p", response("r4", previous="r3", text="a4"), [said("u4")])
    assert texts(await state.run(responses.chain, "p", "r4")) == ["u3", "a3", "u4", "a4"]


async def test_a_chain_past_the_context_cap_is_a_400(state, monkeypatch):
    monkeypatch.setattr(responses, "MAX_CONTEXT_ITEMS", 3)
    await state.run(responses.save, "p", response("r1"), [said("u1")])
    await state.run(responses.save, "p", response("r2", previous="r1"), [said("u2")])
    with pytest.raises(InvalidRequestError) as info:
        await state.run(responses.chain, "p", "r2")
    assert info.value.param == "previous_response_id"


async def test_stored_items_count_against_the_project_cap_and_deletes_free_room(state, monkeypatch):
    monkeypatch.setattr(database, "MAX_PROJECT_ITEMS", 4)
    await state.run(responses.save, "p", response("r1"), [said("a"), said("b")])  # 2 in, 1 out
    state.admit("p", 1)
    with pytest.raises(InvalidRequestError) as info:
        state.admit("p", 2)
    assert (info.value.param, info.value.code) == ("store", "storage_limit_exceeded")
    state.admit("other", 4)  # each project has its own
    with pytest.raises(InvalidRequestError):
        await state.run(conversations.create, "p", "conv_1", 1, {}, [said("x"), said("y")])
    assert await state.run(conversations.get, "p", "conv_1") is None  # rolled back whole
    await state.run(responses.delete, "p", "r1")
    state.admit("p", 4)
    await state.run(conversations.create, "p", "conv_1", 1, {}, [said("x"), said("y")])
    await state.run(conversations.delete, "p", "conv_1")
    state.admit("p", 4)


async def test_pages_follow_openai_cursors(state):
    await state.run(responses.save, "p", response("r"), [said(str(n)) for n in range(5)])
    first = await state.run(responses.input_page, "p", "r", Page(limit=2))
    assert texts(first["data"]) == ["4", "3"] and first["has_more"]
    assert (first["first_id"], first["last_id"]) == (first["data"][0]["id"], first["data"][1]["id"])
    rest = await state.run(responses.input_page, "p", "r", Page(after=first["last_id"], limit=9))
    assert texts(rest["data"]) == ["2", "1", "0"] and not rest["has_more"]
    asc = await state.run(responses.input_page, "p", "r", Page(limit=9, order="asc"))
    assert texts(asc["data"]) == ["0", "1", "2", "3", "4"]
    with pytest.raises(InvalidRequestError) as info:
        await state.run(responses.input_page, "p", "r", Page(after="msg_nope"))
    assert info.value.param == "after"


@pytest.mark.parametrize(("query", "param"), [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                                             ({"limit": "101"}, "limit"), ({"order": "new"}, "order")])
def test_bad_page_queries_name_the_param(query, param):
    with pytest.raises(InvalidRequestError) as info:
        parse_page(query)
    assert info.value.param == param


def test_a_default_page_is_twenty_newest_first():
    assert parse_page({}) == Page(None, 20, "desc")


async def test_a_conversation_keeps_its_items_in_order(state):
    await state.run(conversations.create, "p", "conv_a", 5, {"k": "v"}, [said("one")])
    await state.run(conversations.append, "p", "conv_a", [said("two")])
    added = await state.run(conversations.add_items, "p", "conv_a", [said("three")])
    assert texts(added["data"]) == ["three"] and added["first_id"] == added["last_id"]
    assert texts(await state.run(conversations.all_items, "p", "conv_a", 10)) == [
        "one", "two", "three"]
    item = added["data"][0]
    assert await state.run(conversations.get_item, "p", "conv_a", item["id"]) == item
    assert await state.run(conversations.delete_item, "p", "conv_a", item["id"])
    assert await state.run(conversations.get_item, "p", "conv_a", item["id"]) is None
    updated = await state.run(conversations.update, "p", "conv_a", {"k": "w"})
    assert updated == {"id": "conv_a", "object": "conversation", "created_at": 5,
                       "metadata": {"k": "w"}}
    assert await state.run(conversations.get, "q", "conv_a") is None


async def test_a_response_ending_after_its_conversation_was_deleted_adds_nothing(state):
    await state.run(conversations.create, "p", "conv_b", 1, {}, [])
    await state.run(conversations.delete, "p", "conv_b")
    await state.run(responses.save, "p", response("r"), [said("u")], "conv_b", [said("u")])
    assert await state.run(conversations.all_items, "p", "conv_b", 10) is None
    assert await state.run(responses.get, "p", "r") is not None


async def test_a_conversation_past_the_context_cap_is_a_400(state):
    await state.run(conversations.create, "p", "conv_c", 1, {}, [said("1"), said("2")])
    with pytest.raises(InvalidRequestError) as info:
        await state.run(conversations.all_items, "p", "conv_c", 1)
    assert info.value.param == "conversation"


async def test_an_unfinished_run_with_a_spec_is_resumed_and_a_final_state_drops_it(state):
    await state.run(responses.save_run, "p", response("r1", status="queued"), [said("u")],
                    {"response_id": "r1"})
    await state.run(responses.save_run, "p", response("r2", status="queued"), [], {"id": 2})
    await state.run(responses.save, "p", response("r2", status="completed"), None)
    assert await state.run(responses.runs_to_resume) == [{"response_id": "r1"}]
    assert await state.run(responses.interrupt_unfinished, "stopped") == 0
    await state.run(responses.delete, "p", "r1")
    assert await state.run(responses.runs_to_resume) == []


async def test_unfinished_background_responses_without_a_run_are_marked_failed(state):
    await state.run(responses.save, "p", response("r1", status="in_progress"), None)
    await state.run(responses.save, "p", response("r2", status="queued"), None)
    await state.run(responses.save, "p", response("r3"), None)
    assert await state.run(responses.interrupt_unfinished, "stopped") == 2
    for rid in ("r1", "r2"):
        stored = await state.run(responses.get, "p", rid)
        assert stored["status"] == "failed" and stored["error"]["message"] == "stopped"
    assert (await state.run(responses.get, "p", "r3"))["status"] == "completed"


async def test_the_state_survives_reopening_and_is_private(tmp_path):
    path = tmp_path / "data" / "responses.sqlite3"
    first = StoredState(path)
    await first.open()
    await first.run(responses.save, "p", response("r"), [said("u")])
    await first.close()
    again = StoredState(path)
    await again.open()
    assert (await again.run(responses.get, "p", "r"))["id"] == "r"
    await again.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_damaged_file_is_set_aside_for_a_fresh_one(tmp_path, caplog):
    path = tmp_path / "responses.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    state = StoredState(path)
    await state.open()
    assert state.unavailable is None
    assert await state.run(responses.get, "p", "r") is None
    await state.close()
    assert [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert "damaged" in caplog.text


async def test_a_database_that_cannot_be_opened_makes_calls_503(tmp_path):
    path = tmp_path / "responses.sqlite3"
    path.mkdir()  # a directory in its place: not damaged, left as it is
    state = StoredState(path)
    await state.open()
    assert state.unavailable
    with pytest.raises(GatewayError) as info:
        await state.run(responses.get, "p", "r")
    assert info.value.status == 503 and str(path) in info.value.message
    await state.close()


def test_input_items_get_ids_and_text_parts():
    items = input_items({"input": "hello"})
    assert items == [{"type": "message", "role": "user", "id": items[0]["id"],
                      "status": "completed",
                      "content": [{"type": "input_text", "text": "hello"}]}]
    assert items[0]["id"].startswith("msg_")
    (assistant,) = input_items({"input": [{"role": "assistant", "content": "yo", "id": "msg_x"}]})
    assert assistant["id"] == "msg_x" and assistant["content"][0]["type"] == "output_text"

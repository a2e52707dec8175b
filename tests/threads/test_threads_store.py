"""Threads in SQLite, and the turn logic: history in, new messages and the reply out."""

from __future__ import annotations

import stat

from behest_local.errors import GatewayError
from behest_local.threads.turn import Turn
from behest_local.threads.store import ThreadKey, ThreadStore

KEY = ThreadKey("local", "alice", "t1")
U1 = {"role": "user", "content": "My name is Bob"}
A1 = {"role": "assistant", "content": "Hello Bob"}
U2 = {"role": "user", "content": "What is my name?"}
SYS = {"role": "system", "content": "Be brief."}


def completion(text: str | None, **message) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text,
                                                 "refusal": None, **message}}]}


async def test_a_turn_is_stored_and_prepended_to_the_next(tmp_path):
    store = ThreadStore(tmp_path / "threads.sqlite3")
    first = Turn.start(store, KEY, {"messages": [SYS, U1]}, await store.history(KEY))
    assert first.body["messages"] == [SYS, U1]
    first.record(completion("Hello Bob"))
    second = Turn.start(store, KEY, {"messages": [SYS, U2], "model": "m"},
                        await store.history(KEY))
    assert second.body == {"messages": [SYS, U1, A1, U2], "model": "m"}
    assert second.new == [U2]
    await store.close()
    assert stat.S_IMODE((tmp_path / "threads.sqlite3").stat().st_mode) == 0o600


async def test_a_client_that_resends_the_history_is_not_doubled(tmp_path):
    store = ThreadStore(tmp_path / "t.db")
    await store.append(KEY, [U1, A1])
    turn = Turn.start(store, KEY, {"messages": [U1, {**A1, "refusal": None}, U2]},
                      await store.history(KEY))
    assert turn.body["messages"] == [U1, {**A1, "refusal": None}, U2] and turn.new == [U2]
    turn.record(completion("Bob"))
    assert [m["content"] for m in await store.history(KEY)] == [
        "My name is Bob", "Hello Bob", "What is my name?", "Bob"]
    await store.close()


async def test_streamed_replies_are_assembled_text_and_tool_calls(tmp_path):
    store = ThreadStore(tmp_path / "t.db")
    turn = Turn.start(store, KEY, {"messages": [U1]}, [])

    async def chunks():
        yield {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}
        yield {"choices": [{"index": 0, "delta": {"content": "lo"}}]}
        yield {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": "get_", "arguments": '{"ci'}}]}}]}
        yield {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"name": "weather", "arguments": 'ty":"Paris"}'}}]}}]}
        yield {"choices": [], "usage": {"prompt_tokens": 1}}

    seen = [c async for c in turn.tap(chunks())]
    assert len(seen) == 5
    messages = await store.messages(KEY)
    assert [m["id"] for m in messages] == ["msg_1", "msg_2"]
    reply = messages[1]
    assert reply["content"] == "Hello"
    assert reply["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city":"Paris"}'}}]
    await store.close()


async def test_an_abandoned_stream_records_nothing(tmp_path):
    store = ThreadStore(tmp_path / "t.db")
    turn = Turn.start(store, KEY, {"messages": [U1]}, [])

    async def chunks():
        yield {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}
        raise RuntimeError("upstream died")

    tapped = turn.tap(chunks())
    assert (await anext(tapped))["choices"][0]["delta"]["content"] == "Hel"
    try:
        await anext(tapped)
    except RuntimeError:
        pass
    assert await store.get(KEY) is None and await store.list("local", "alice") == []
    await store.close()


async def test_scoping_listing_and_delete(tmp_path):
    store = ThreadStore(tmp_path / "t.db")
    await store.append(KEY, [U1, A1])
    await store.append(ThreadKey("local", "alice", "t2"), [U2])
    await store.append(ThreadKey("local", "carol", "t1"), [U2])
    await store.append(ThreadKey("other", "alice", "t1"), [U2])
    listed = await store.list("local", "alice")
    assert [t["id"] for t in listed] == ["t2", "t1"]  # most recently active first
    t1 = await store.get(KEY)
    assert (t1["title"], t1["messages_count"], t1["object"]) == ("My name is Bob", 2, "thread")
    assert await store.delete(KEY) is True and await store.delete(KEY) is False
    assert await store.get(KEY) is None and await store.messages(KEY) is None
    assert await store.history(KEY) == []
    assert (await store.get(ThreadKey("local", "carol", "t1")))["messages_count"] == 1
    await store.close()


async def test_threads_survive_reopening(tmp_path):
    first = ThreadStore(tmp_path / "t.db")
    await first.append(KEY, [U1, A1])
    await first.close()
    second = ThreadStore(tmp_path / "t.db")
    assert await second.history(KEY) == [U1, A1]
    await second.close()


def test_no_thread_means_no_change():
    body = {"messages": [U1]}
    turn = Turn(body)
    sentinel = object()
    assert turn.body is body and turn.tap(sentinel) is sentinel
    turn.record(completion("x"))  # no store: nothing to do


async def test_an_unusable_database_is_a_clear_503(tmp_path):
    path = tmp_path / "t.db"
    path.write_bytes(b"this is not a database" * 100)
    store = ThreadStore(path)
    try:
        await store.history(KEY)
    except GatewayError as error:
        assert error.status == 503 and str(path) in error.message
    else:
        raise AssertionError("a garbage file was read as a database")
    await store.close()
    assert store.append_soon(KEY, [U1]) is None  # closed: logged, not raised

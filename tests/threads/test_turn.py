"""threads/turn.py: a streamed reply is assembled for its thread, within a bound."""

from __future__ import annotations

import pytest

from behest_local.threads import turn as turn_module
from behest_local.threads.store import ThreadKey
from behest_local.threads.turn import Turn


class _Store:
    def __init__(self) -> None:
        self.appended: list[tuple[ThreadKey, list[dict]]] = []

    def append_soon(self, key: ThreadKey, messages: list[dict]) -> None:
        self.appended.append((key, messages))


def _chunk(text: str) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text}}]}


async def _stream(pieces):
    for piece in pieces:
        yield _chunk(piece)


async def _relay(turn: Turn, pieces) -> list[dict]:
    return [chunk async for chunk in turn.tap(_stream(pieces))]


KEY = ThreadKey("p", "u", "t")
USER = {"role": "user", "content": "hi"}


async def test_a_streamed_reply_is_stored_with_the_turn():
    store = _Store()
    turn = Turn({"messages": [USER]}, store, KEY, [USER])
    assert len(await _relay(turn, ["Hel", "lo"])) == 2
    assert store.appended == [(KEY, [USER, {"role": "assistant", "content": "Hello"}])]


async def test_a_reply_past_the_cap_is_relayed_whole_but_not_kept(monkeypatch, caplog):
    """An upstream that streams without end must not grow memory through a thread."""
    monkeypatch.setattr(turn_module, "REPLY_MAX_CHARS", 100)
    store = _Store()
    turn = Turn({"messages": [USER]}, store, KEY, [USER])
    relayed = await _relay(turn, ["x" * 30] * 10)
    assert len(relayed) == 10  # the client still gets every event
    assert store.appended == []
    assert "not stored in the thread" in caplog.text


@pytest.mark.parametrize("pieces", [["a" * 60, "b" * 41], ["c" * 101]])
async def test_the_assembled_copy_is_dropped_once_over_the_cap(monkeypatch, pieces):
    monkeypatch.setattr(turn_module, "REPLY_MAX_CHARS", 100)
    reply = turn_module._Reply()
    for piece in pieces:
        reply.add(_chunk(piece))
    assert reply.too_long and reply.content == [] and reply.tool_calls == {}

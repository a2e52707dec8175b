"""Helpers for stream-translator tests: feed bytes through ``SSEDecoder`` and a translator,
split anywhere, and summarise the OpenAI chunks into what a client reassembles.

The summary is what must not depend on where the upstream's bytes were split: per choice
the concatenated content, the tool calls reassembled by index (id, name, arguments), the
finish reasons; and the usage chunk. ``check_chunks`` asserts the OpenAI stream rules every
translator must keep (providers.md §1.4 and pitfalls 4, 6, 11).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import strategies as st

from behest_local.providers.base import ChatCall
from behest_local.sse import SSEDecoder

HERE = Path(__file__).parent


def recorded(relative: str) -> bytes:
    return (HERE / relative).read_bytes()


def call(**request) -> ChatCall:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            **request}
    return ChatCall(body, body["model"])


def run(make: Callable[[], object], payload: bytes, cuts: list[int] = ()) -> list[dict]:
    """Chunks for ``payload`` delivered in pieces cut at the offsets in ``cuts``."""
    decoder, translator, out = SSEDecoder(), make(), []
    edges = [0, *sorted(set(c for c in cuts if 0 < c < len(payload))), len(payload)]
    for start, end in zip(edges, edges[1:]):
        for event in decoder.feed(payload[start:end]):
            out += translator.feed(event)
    decoder.close()
    out += translator.finish()
    return out


def summary(chunks: list[dict], *, ids: bool = True) -> dict:
    content: dict[int, str] = {}
    tools: dict[tuple[int, int], dict] = {}
    finish: dict[int, str] = {}
    usage = None
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            i, delta = choice["index"], choice["delta"]
            content[i] = content.get(i, "") + (delta.get("content") or "")
            for tc in delta.get("tool_calls") or []:
                entry = tools.setdefault((i, tc["index"]), {"id": None, "name": None,
                                                            "arguments": ""})
                if tc.get("id"):
                    entry["id"] = tc["id"] if ids else "<id>"
                if (tc.get("function") or {}).get("name"):
                    entry["name"] = tc["function"]["name"]
                entry["arguments"] += (tc.get("function") or {}).get("arguments") or ""
            if choice["finish_reason"] is not None:
                finish[i] = choice["finish_reason"]
    return {"content": content, "tools": tools, "finish": finish, "usage": usage}


def check_chunks(chunks: list[dict], *, include_usage: bool) -> None:
    assert chunks, "no chunks"
    assert len({c["id"] for c in chunks}) == 1, "one id per stream"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    first_of: dict[int, dict] = {}
    finished: set[int] = set()
    for chunk in chunks:
        if include_usage:
            assert "usage" in chunk
        else:
            assert "usage" not in chunk or chunk["usage"] is None
        if chunk["choices"] == []:
            assert chunk["usage"], "a chunk without choices is the usage chunk"
        for choice in chunk["choices"]:
            i = choice["index"]
            assert i not in finished, "nothing after a choice's finish_reason (pitfall 4)"
            first_of.setdefault(i, choice)
            if choice["finish_reason"] is not None:
                finished.add(i)
    for choice in first_of.values():
        assert choice["delta"].get("role") == "assistant", "role in the first chunk (pitfall 6)"
    assert finished == set(first_of), "every choice finishes"
    if include_usage:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"], "usage chunk last"


def cuts_for(payload: bytes):
    """Hypothesis: any set of split offsets into ``payload``."""
    return st.lists(st.integers(min_value=1, max_value=max(1, len(payload) - 1)), max_size=40)

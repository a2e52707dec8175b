"""A MASK stream's tool-call arguments come back with the original values, whatever
fragments the upstream split them into, as its content deltas do."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from behest_local.guardrails.restore import restore
from behest_local.server.guard import ChunkRestorer

ORIGINALS = {"<PERSON_1>": "Grace Hopper", "<PERSON_10>": 'Ada "the" Countess',
             "<EMAIL_ADDRESS_1>": "g@navy.example"}


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def arguments(index: int, text: str) -> dict:
    return chunk({"tool_calls": [{"index": index, "function": {"arguments": text}}]})


def accumulated(chunks: list[dict]) -> dict[int, str]:
    """What a client builds from the tool-call deltas: arguments per call index."""
    out: dict[int, str] = {}
    for c in chunks:
        for choice in c["choices"]:
            for call in choice["delta"].get("tool_calls") or ():
                out[call["index"]] = out.get(call["index"], "") + call["function"]["arguments"]
    return out


def test_a_placeholder_split_across_argument_fragments_is_restored_json_escaped():
    restorer = ChunkRestorer(ORIGINALS)
    frames = [arguments(0, '{"nam'), arguments(0, 'e": "'), arguments(0, "<PERS"),
              arguments(0, "ON_10"), arguments(0, '>"}'), chunk({}, "tool_calls")]
    out = [restorer.chunk(c) for c in frames]
    assert json.loads(accumulated(out)[0]) == {"name": 'Ada "the" Countess'}
    assert [accumulated([c]).get(0, "") for c in out[2:4]] == ["", ""]  # only held back


def test_each_tool_call_has_its_own_restorer_and_the_finish_flushes_what_is_held():
    restorer = ChunkRestorer(ORIGINALS)
    out = [restorer.chunk(c) for c in [arguments(0, '"<PERSON_1'), arguments(1, '"<EMAIL'),
                                       arguments(0, '>"'), arguments(1, "_ADDRESS_1>"),
                                       arguments(1, " <PERSON_"), chunk({}, "tool_calls")]]
    assert accumulated(out) == {0: '"Grace Hopper"', 1: '"g@navy.example <PERSON_'}
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_stream_cut_before_its_finish_gives_back_what_is_held():
    restorer = ChunkRestorer(ORIGINALS)
    restorer.chunk(chunk({"content": "Hi <PERSON"}))
    restorer.chunk(arguments(0, '{"a": "<PERSON_'))
    assert restorer.rest() == [{"index": 0, "finish_reason": None, "delta": {
        "content": "<PERSON", "tool_calls": [{"index": 0, "function": {"arguments": "<PERSON_"}}]}}]


ARGS = st.lists(st.sampled_from(["<PERSON_1>", "<PERSON_10>", "<EMAIL_ADDRESS_1>", "<", ">",
                                 "<PERSON_", '"', "{", "}", ": ", "x", "é"]),
                max_size=30).map("".join)


@given(st.lists(st.tuples(ARGS, st.lists(st.integers(0, 300), max_size=12)), min_size=1,
                max_size=3))
def test_any_split_of_any_tool_calls_arguments_restores_exactly(calls):
    frames = []
    for index, (text, cuts) in enumerate(calls):
        points = sorted({c % (len(text) + 1) for c in cuts})
        frames += [arguments(index, text[a:b])
                   for a, b in zip([0, *points], [*points, len(text)])]
    restorer = ChunkRestorer(ORIGINALS)
    out = [restorer.chunk(c) for c in [*frames, chunk({}, "tool_calls")]]
    escaped = {k: json.dumps(v)[1:-1] for k, v in ORIGINALS.items()}
    assert accumulated(out) == {i: restore(text, escaped) for i, (text, _) in enumerate(calls)}

"""Token pieces and counts of the emulated model: lossless splitting, plausible numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from behest_local.providers import tokens
from behest_local.providers.tokens import count_prompt_tokens, count_tokens, split_tokens

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
content_shapes = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=30)}),
            st.fixed_dictionaries(
                {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": st.text(max_size=10)})}
            ),
            json_values,
        ),
        max_size=4,
    ),
    json_values,
)
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["system", "user", "assistant", "tool", "developer"]), "content": content_shapes},
            optional={"name": st.text(max_size=8), "tool_call_id": st.text(max_size=8), "tool_calls": json_values},
        ),
        json_values,
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_pieces_concatenate_back_to_the_text(text: str) -> None:
    pieces = split_tokens(text)
    assert "".join(pieces) == text
    assert all(pieces), "no empty pieces"
    assert count_tokens(text) == len(pieces)


def test_common_phrases_cost_about_one_token_per_word() -> None:
    assert 2 <= count_tokens("Hello world") <= 3
    assert count_tokens("migration successful") <= 3
    assert count_tokens("") == 0


def test_a_word_keeps_its_leading_space_and_punctuation_stands_alone() -> None:
    assert split_tokens("Hello, world!") == ["Hello", ",", " world", "!"]


def test_newlines_are_their_own_pieces() -> None:
    pieces = split_tokens("first line\nsecond\r\nthird")
    assert "\n" in pieces and "\r\n" in pieces


def test_long_words_and_numbers_split_into_short_pieces() -> None:
    word_pieces = split_tokens("internationalization")
    assert len(word_pieces) >= 3 and all(len(p) <= 5 for p in word_pieces)
    assert split_tokens("1234567") == ["123", "456", "7"]


def test_english_prose_averages_three_to_six_characters_per_token() -> None:
    text = ("The emulated model streams its reply one piece at a time, and clients count those pieces "
            "against max_tokens, so the ratio should look like a real tokenizer's.")  # fmt: skip
    assert 3 <= len(text) / count_tokens(text) <= 6


def test_prompt_count_adds_per_message_overhead_to_the_content() -> None:
    one = [{"role": "user", "content": "Hello world"}]
    assert count_prompt_tokens(one) == 3 + 3 + count_tokens("user") + count_tokens("Hello world")
    two = [*one, {"role": "assistant", "content": "Hi"}]
    assert count_prompt_tokens(two) > count_prompt_tokens(one)


def test_images_count_flat_and_text_parts_count_their_text() -> None:
    text_only = [{"role": "user", "content": [{"type": "text", "text": "Describe this"}]}]
    with_image = [{"role": "user", "content": [{"type": "text", "text": "Describe this"},
                                               {"type": "image_url", "image_url": {"url": "data:..."}}]}]  # fmt: skip
    assert count_prompt_tokens(with_image) - count_prompt_tokens(text_only) == 85
    assert count_prompt_tokens(text_only) == count_prompt_tokens([{"role": "user", "content": "Describe this"}])


def test_tools_and_tool_calls_are_counted() -> None:
    plain = [{"role": "user", "content": "Weather?"}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    assert count_prompt_tokens(plain, tools) > count_prompt_tokens(plain) + 5
    call = {"role": "assistant", "content": None,
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}  # fmt: skip
    no_call = {"role": "assistant", "content": None}
    assert count_prompt_tokens([*plain, call]) > count_prompt_tokens([*plain, no_call]) + 5


@settings(max_examples=50, deadline=None)
@given(messages, st.one_of(st.none(), st.lists(json_values, max_size=3)))
def test_prompt_count_never_raises_on_odd_shapes(msgs: list, tools: list | None) -> None:
    count = count_prompt_tokens(msgs, tools)
    assert isinstance(count, int) and count >= 3


def _reference_pieces(text: str) -> list[str]:
    """The pieces as first specified (one regex match at a time, long words cut in a
    generator): the fast ``split_tokens``/``count_tokens`` must agree with it exactly."""
    out = []
    for match in tokens._PIECE.finditer(text):
        piece = match.group()
        core = piece.lstrip(" ")
        if len(core) <= tokens._WHOLE_WORD_MAX or not core.isalpha():
            out.append(piece)
            continue
        lead = piece[: len(piece) - len(core)]
        out += [(lead if start == 0 else "") + core[start : start + tokens._WORD_CHUNK]
                for start in range(0, len(core), tokens._WORD_CHUNK)]
    return out


# Letters (long words included), spaces, digits, punctuation, line breaks, and characters
# that are word characters without being letters or decimal digits (½, Ⅻ, combining marks).
_TOKEN_TEXT = st.text(st.sampled_from(list("aZéß世 \t\n\r'_.,!7½Ⅻ\u0301")) | st.characters(),
                      max_size=60)
_WORDS = st.lists(st.sampled_from(["internationalization", " supercalifragilistic",
                                   "  spaced", " word", "x", "12345678", " ½½½½½½½½½½½½",
                                   "naïveté-naïveté", " Ⅻ"]), max_size=6).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TOKEN_TEXT | _WORDS)
def test_the_fast_counts_equal_the_reference_pieces(text: str) -> None:
    reference = _reference_pieces(text)
    assert split_tokens(text) == reference
    assert count_tokens(text) == len(reference)

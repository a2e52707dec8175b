"""Secret: never rendered, never pickled, never hashed; redact() scrubs known values."""

from __future__ import annotations

import copy
import logging
import pickle
import traceback

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from behest_local import secret as secret_module
from behest_local.secret import MASK, Secret, redact

KEY = "sk-proj-TESTVALUE0123456789abcdef"


def test_renderings_never_reveal_the_value():
    s = Secret(KEY)
    renderings = [repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", "%s %r" % (s, s),
                  "{} {!r}".format(s, s), repr([s]), repr({"k": s}), repr((s,))]
    for text in renderings:
        assert KEY not in text and "TESTVALUE" not in text and MASK in text
    assert repr(s) == "Secret(****)" and str(s) == "****"
    assert s.reveal() == KEY


@given(st.text(min_size=5))
def test_no_value_is_ever_rendered(value):
    assume(value not in "Secret(****)")
    s = Secret(value)
    assert value not in repr(s) and value not in str(s) and value not in f"{s}"
    assert s.reveal() == value


def test_last4_only_for_long_values():
    assert Secret(KEY).last4 == "cdef"
    assert Secret("abcdefghijkl").last4 == "ijkl"  # 12 characters: shown
    assert Secret("abcdefghijk").last4 == ""  # 11: a third of the value would be too much
    assert Secret("").last4 == ""


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_not_picklable(protocol):
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(KEY), protocol=protocol)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps({"nested": [Secret(KEY)]}, protocol=protocol)


def test_copies_are_the_same_object_and_immutable():
    s = Secret(KEY)
    assert copy.copy(s) is s and copy.deepcopy({"a": s})["a"] is s
    with pytest.raises(AttributeError):
        s._value = "other"
    with pytest.raises(AttributeError):
        s.extra = 1
    with pytest.raises(AttributeError):
        del s._value
    assert not hasattr(s, "__dict__") and s.reveal() == KEY


def test_equality_is_by_content_in_constant_time(monkeypatch):
    calls = []
    real = secret_module.hmac.compare_digest

    def counting(a, b):
        calls.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(secret_module.hmac, "compare_digest", counting)
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret(KEY + "x")
    assert not (Secret(KEY) != Secret(KEY))
    assert calls == [(bytes, bytes)] * 3
    assert Secret(KEY) != KEY and KEY != Secret(KEY)  # a str is never equal to a Secret
    assert Secret("é") == Secret("é")  # non-ASCII compares too (as UTF-8)


def test_not_hashable():
    with pytest.raises(TypeError):
        hash(Secret(KEY))
    with pytest.raises(TypeError):
        {Secret(KEY)}  # noqa: B018


def test_bool_and_construction():
    assert Secret(KEY) and not Secret("")
    assert Secret(Secret(KEY)).reveal() == KEY
    with pytest.raises(TypeError, match="wraps a str"):
        Secret(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Secret(None)  # type: ignore[arg-type]


def test_not_in_tracebacks_with_locals_nor_in_logs(caplog):
    def fails(key: Secret) -> None:
        raise RuntimeError(f"upstream refused {key}")

    try:
        fails(Secret(KEY))
    except RuntimeError as exc:
        text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert "key = Secret(****)" in text and KEY not in text
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("behest_local.test").warning("key %s / %r", Secret(KEY), Secret(KEY))
    assert "key **** / Secret(****)" in caplog.text and KEY not in caplog.text


def test_redact():
    other = "AIza" + "x" * 35
    text = f"Authorization: Bearer {KEY}\nGET /v1?key={other}&alt=sse\n"
    out = redact(text, [Secret(KEY), other, None, ""])
    assert KEY not in out and other not in out
    assert out == f"Authorization: Bearer {MASK}\nGET /v1?key={MASK}&alt=sse\n"
    assert redact("no secrets here", []) == "no secrets here"
    assert redact("q=k+y%2F", ["k y/"]) == "q=****"  # form-encoded, as in a query string
    assert redact("x%2By%2F", ["x+y/"]) == "****"
    assert redact("abcdef", ["abc", "abcdef"]) == "****"  # longest first: no "****def"
    assert redact("abc", ["abc"], mask="[redacted]") == "[redacted]"

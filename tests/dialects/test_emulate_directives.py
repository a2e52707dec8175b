"""The x-behest-emulate grammar."""

from __future__ import annotations

import pytest

from behest_local.errors import InvalidRequestError
from behest_local.dialects.emulate import parse


def test_pairs_with_either_separator_and_aliases():
    assert parse("status=429; retry_after=2") == {"status": 429, "retry_after": 2.0}
    assert parse(" TPS=20 , ttft_ms=150 ") == {"tokens_per_second": 20.0, "first_token_ms": 150.0}
    assert parse("error_after=3;message=boom") == {"error_after": 3, "message": "boom"}
    assert parse(None) == {} and parse("") == {}


@pytest.mark.parametrize("value, fragment", [
    ("sttaus=429", "unknown directive 'sttaus'"),
    ("status", "'status' needs a value"),
    ("status=abc", "status must be an integer"),
    ("status=200", "between 400 and 599"),
    ("drop_after=-1", "between 0"),
])
def test_errors_say_what_is_wrong(value, fragment):
    with pytest.raises(InvalidRequestError) as info:
        parse(value)
    assert fragment in info.value.message
    assert info.value.param == "x-behest-emulate"

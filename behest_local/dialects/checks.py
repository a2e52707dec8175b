"""Small validators shared by the dialect request checkers.

Each one raises ``InvalidRequestError`` naming the offending field in ``param``, with a
message worded like OpenAI's own 400s so that users recognise them. A value of ``None``
counts as "not given" for every optional field, as OpenAI treats explicit nulls.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from behest_local.errors import InvalidRequestError

# OpenAI metadata limits: at most 16 pairs, keys up to 64 chars, string values up to 512.
_METADATA_MAX_PAIRS = 16
_METADATA_KEY_MAX = 64
_METADATA_VALUE_MAX = 512


def type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def wrong_type(param: str, expected: str, value: Any) -> InvalidRequestError:
    """The error for a field of the wrong JSON type."""
    return InvalidRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
    )


def require_body_object(body: Any) -> dict:
    """The request body itself must be a JSON object."""
    if not isinstance(body, dict):
        raise InvalidRequestError(
            f"The request body must be a JSON object, but got {type_name(body)} instead.",
            param=None,
        )
    return body


def reject_unknown(body: Mapping[str, Any], known: Collection[str]) -> None:
    """OpenAI answers an unknown top-level key with 400 ``Unrecognized request argument``.

    A did-you-mean is added, since the usual cause is a typo (``max_token``).
    """
    for key in body:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise InvalidRequestError(f"Unrecognized request argument supplied: {key}.{hint}",
                                      param=key, code="unknown_parameter")


def expect(value: Any, kinds: tuple[type, ...], param: str, what: str) -> None:
    """A required value of one of ``kinds`` (``None`` is a wrong type here, not absence)."""
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        raise wrong_type(param, what, value)


def is_int(value: Any) -> bool:
    """True for JSON integers (``bool`` is an ``int`` in Python but not in JSON)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for JSON numbers (integers or decimals, never booleans)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_str(value: Any, param: str) -> None:
    if value is not None and not isinstance(value, str):
        raise wrong_type(param, "a string", value)


def check_bool(value: Any, param: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise wrong_type(param, "a boolean", value)


def check_object(value: Any, param: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise wrong_type(param, "an object", value)


def check_int(value: Any, param: str, *, minimum: int | None = None, maximum: int | None = None) -> None:
    if value is None:
        return
    if not is_int(value):
        raise wrong_type(param, "an integer", value)
    _check_range(value, param, "integer", minimum, maximum)


def check_number(value: Any, param: str, *, minimum: float, maximum: float) -> None:
    if value is None:
        return
    if not is_number(value):
        raise wrong_type(param, "a decimal", value)
    _check_range(value, param, "decimal", minimum, maximum)


def _check_range(value: float, param: str, kind: str, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise InvalidRequestError(
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=param,
        )
    if maximum is not None and value > maximum:
        raise InvalidRequestError(
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            param=param,
        )


def check_choice(value: Any, param: str, allowed: Collection[str]) -> None:
    if value is None:
        return
    if value not in allowed:
        options = ", ".join(f"'{a}'" for a in allowed)
        raise InvalidRequestError(
            f"Invalid value for '{param}': expected one of {options}, but got {value!r} instead.",
            param=param,
        )


def check_metadata(value: Any, param: str = "metadata") -> None:
    """OpenAI metadata: a flat object of short string values (limits above)."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    if len(value) > _METADATA_MAX_PAIRS:
        raise InvalidRequestError(
            f"Invalid '{param}': too many properties. Expected at most {_METADATA_MAX_PAIRS}, "
            f"but got {len(value)} instead.",
            param=param,
        )
    for key, item in value.items():
        if len(key) > _METADATA_KEY_MAX:
            raise InvalidRequestError(
                f"Invalid '{param}': keys must be at most {_METADATA_KEY_MAX} characters long.",
                param=f"{param}.{key}",
            )
        if not isinstance(item, str):
            raise wrong_type(f"{param}.{key}", "a string", item)
        if len(item) > _METADATA_VALUE_MAX:
            raise InvalidRequestError(
                f"Invalid '{param}.{key}': string too long. Expected at most {_METADATA_VALUE_MAX} characters.",
                param=f"{param}.{key}",
            )


def check_stream_options(value: Any, stream: Any, allowed_keys: Collection[str]) -> None:
    """``stream_options`` is an object of booleans, only meaningful with ``stream: true``.

    OpenAI rejects it on a non-streaming request rather than ignoring it.
    """
    if value is None:
        return
    if not isinstance(value, dict):
        raise wrong_type("stream_options", "an object", value)
    if stream is not True:
        raise InvalidRequestError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    for key, item in value.items():
        if key not in allowed_keys:
            raise InvalidRequestError(
                f"Unrecognized request argument supplied: stream_options.{key}",
                param=f"stream_options.{key}",
            )
        check_bool(item, f"stream_options.{key}")


# Token-id arrays hold millions of items in a 20 MiB body. They are checked and rendered with
# C-level passes, a slice at a time: one pass over them all would hold the GIL, and so the
# event loop (the body is checked in a worker thread, ``server/body.py``), for 0.1-1 s.
_SLICE = 1 << 16


def item_types(items: list) -> set[type]:
    """The set of ``type(item)`` for ``items`` (``{int}``: all are JSON integers)."""
    found: set[type] = set()
    for start in range(0, len(items), _SLICE):
        found.update(map(type, items[start:start + _SLICE]))
    return found


def first_negative(numbers: list) -> int | None:
    """The index of the first number below zero, or None."""
    for start in range(0, len(numbers), _SLICE):
        part = numbers[start:start + _SLICE]
        if min(part) < 0:
            return start + next(i for i, n in enumerate(part) if n < 0)
    return None


def token_text(tokens: list[int]) -> str:
    """Token ids as the text of the ids joined by single spaces (``[1212, 318]`` → ``"1212 318"``)."""
    return " ".join(" ".join(map(str, tokens[start:start + _SLICE]))
                    for start in range(0, len(tokens), _SLICE))

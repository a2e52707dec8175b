"""A string that does not leak: provider keys, passphrases, anything a log must never show.

``Secret`` renders as ``****`` under ``repr``, ``str``, f-strings and ``%``; refuses pickling
(so it cannot ride into a cache, a queue or a crash dump by accident) and hashing (equality is
by content, in constant time, so a content hash would be one more leak); and hands its value
out only through :meth:`Secret.reveal`. Reveal at the last moment, e.g. while building the
upstream request's headers, and do not keep the result.

:func:`redact` scrubs known secret values out of text that is about to be recorded.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any, NoReturn, final
from urllib.parse import quote, quote_plus

MASK = "****"
_NO_PICKLE = "a Secret cannot be pickled: pass it in memory, or re-read it from the vault"
_MIN_LAST4 = 12  # show the last 4 characters only of values at least this long


@final
class Secret:
    """An immutable secret string. See the module docstring."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The plaintext. The only way out: keep the result no longer than one use."""
        return self._value

    @property
    def last4(self) -> str:
        """The last 4 characters, for display ("…abcd"); empty for values shorter than 12."""
        return self._value[-4:] if len(self._value) >= _MIN_LAST4 else ""

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]  # a content hash would leak; by id would break ==

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(_NO_PICKLE)

    def __reduce__(self) -> NoReturn:
        raise TypeError(_NO_PICKLE)

    def __getstate__(self) -> NoReturn:
        raise TypeError(_NO_PICKLE)

    def __copy__(self) -> Secret:
        return self  # immutable: copies may share

    def __deepcopy__(self, memo: dict) -> Secret:
        return self


def redact(text: str, secrets: Iterable[str | Secret | None], *, mask: str = MASK) -> str:
    """``text`` with every occurrence of each secret (and of its URL- and form-encoded forms, as
    in a ``?key=`` query parameter) replaced by ``mask``. Empty and None secrets are ignored."""
    values: set[str] = set()
    for s in secrets:
        value = s.reveal() if isinstance(s, Secret) else s
        if value:
            values.add(value)
            values.add(quote(value, safe=""))
            values.add(quote(value))
            values.add(quote_plus(value, safe=""))
    for value in sorted(values, key=len, reverse=True):  # longest first: no partial leftovers
        if value:
            text = text.replace(value, mask)
    return text

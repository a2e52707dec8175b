"""Validation: raw TOML (or JSON) values → the schema's frozen dataclasses.

The rules come from the dataclasses themselves: each field's type hint says what a value
must be (``int``, ``str | None``, ``Literal[…]``, ``tuple[str, ...]``, a nested dataclass, an
array of tables, a table of tables) and ``field(metadata=…)`` adds limits (``min``/``max``,
``max_len``, ``max_items``, ``pattern``, ``url``, ``regex`` …). A ``Reader`` collects every ``Problem`` with its line
instead of stopping at the first. ``apply`` layers a partial override (the deployed
settings of the management API) onto an existing object with the same rules.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass, replace
from typing import Any, Literal, Union
from urllib.parse import urlsplit

from behest_local.config.errors import Problem, did_you_mean, dotted
from behest_local.config.locate import LineIndex, line_of
from behest_local.errors import InvalidRequestError
from behest_local.guardrails.content import pattern_problem
from behest_local.printable import shows_as_is

_BAD = object()  # a value that failed validation (its problem is already recorded)
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
                        r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*")
"""An ``allowed_hosts`` name: DNS labels, optionally under ``*.`` (lower-cased first)."""
_ORIGIN = re.compile(r"(\*|https?://[A-Za-z0-9*.\-\[\]:]+(:\d{1,5})?"
                     r"|(chrome|moz|safari-web)-extension://[A-Za-z0-9.\-]+)")


@functools.cache
def hints_of(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional(hint: Any) -> Any | None:
    """``X`` for ``X | None``, else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return rest[0]
    return None


def describe(hint: Any) -> str:
    """What a value of ``hint`` looks like, for "expected …" messages."""
    inner = _optional(hint)
    if inner is not None:
        return describe(inner)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        item = describe(args[0])[2:]  # "a string" → "string"
        return "a list of tables" if is_dataclass(args[0]) else f"a list of {item}s"
    if hint is bool:
        return "true or false"
    return {int: "an integer", float: "a number", str: "a string"}.get(hint, "a table")


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return "a table" if isinstance(value, dict) else ("a list" if isinstance(value, list)
                                                      else type(value).__name__)


class Reader:
    """Converts raw values to schema objects, collecting problems (with lines) as it goes."""

    def __init__(self, lines: LineIndex | None = None) -> None:
        self.lines = lines or {}
        self.problems: list[Problem] = []

    def problem(self, path: tuple, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(message, line_of(self.lines, path), hint))

    def table(self, cls: type, raw: Any, path: tuple) -> Any:
        """An instance of dataclass ``cls`` from table ``raw``, or None after problems."""
        if not isinstance(raw, dict):
            self.problem(path, f"{dotted(path)}: expected a table, got {kind(raw)}")
            return None
        hints, known = hints_of(cls), [f.name for f in fields(cls)]
        values: dict[str, Any] = {}
        failed = False
        for key, item in raw.items():
            if key not in hints or key == "source":
                where = f"[{dotted(path)}]" if path else "the top level"
                self.problem(path + (key,), f"unknown key {key!r} in {where}: expected one of "
                             f"{', '.join(k for k in known if k != 'source')}",
                             did_you_mean(key, known))
                continue
            value = self.value(hints[key], item, path + (key,), _meta(cls, key))
            failed |= value is _BAD
            if value is not _BAD:
                values[key] = value
        for f in fields(cls):
            if f.name not in raw and f.default is MISSING and f.default_factory is MISSING:
                self.problem(path, f"[{dotted(path)}] needs {f.name!r} ({describe(hints[f.name])})")
                failed = True
        return None if failed else cls(**values)

    def apply(self, obj: Any, overrides: Mapping[str, Any], path: tuple) -> Any:
        """``obj`` with the fields in ``overrides`` replaced (tables merged, not replaced)."""
        hints, changes = hints_of(type(obj)), {}
        for key, item in overrides.items():
            if key not in hints:
                self.problem(path + (key,), f"unknown setting {key!r}",
                             did_you_mean(key, list(hints)))
                continue
            hint = hints[key]
            if is_dataclass(hint) and isinstance(item, dict):
                changes[key] = self.apply(getattr(obj, key), item, path + (key,))
            elif _optional(hint) is not None and item in (None, ""):
                changes[key] = None  # JSON null or "" clears an optional setting
            else:
                value = self.value(hint, item, path + (key,), _meta(type(obj), key))
                if value is not _BAD:
                    changes[key] = value
        return replace(obj, **changes)

    def value(self, hint: Any, raw: Any, path: tuple, meta: Mapping[str, Any]) -> Any:
        inner = _optional(hint)
        if inner is not None:
            hint = inner
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is Literal:
            if raw in args:
                return raw
            close = did_you_mean(raw, args) if isinstance(raw, str) else None
            return self._bad(path, hint, raw, close)
        if origin is tuple:
            if not isinstance(raw, list):
                return self._bad(path, hint, raw)
            if "max_items" in meta and len(raw) > meta["max_items"]:  # before walking them
                self.problem(path, f"{dotted(path)}: {len(raw):,} entries; the limit is "
                                   f"{meta['max_items']:,}")
                return _BAD
            items = [self.value(args[0], item, path + (i,), meta) for i, item in enumerate(raw)]
            return _BAD if any(i is _BAD for i in items) else tuple(items)
        if origin is Mapping:
            return self._mapping(args[1], raw, path, meta)
        if is_dataclass(hint):
            out = self.table(hint, raw, path)
            return _BAD if out is None else out
        ok = (isinstance(raw, bool) if hint is bool else
              isinstance(raw, int) and not isinstance(raw, bool) if hint is int else
              isinstance(raw, (int, float)) and not isinstance(raw, bool) if hint is float else
              isinstance(raw, str))
        if not ok:
            quoted = isinstance(raw, str) and hint in (int, float) and _number(raw)
            return self._bad(path, hint, raw, "remove the quotes" if quoted else None, meta)
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and raw < low) or (high is not None and raw > high):
            return self._bad(path, hint, raw, None, meta)
        return self._check(path, float(raw) if hint is float else raw, meta)

    def _mapping(self, item_hint: Any, raw: Any, path: tuple,
                 meta: Mapping[str, Any] = {}) -> Any:
        if not isinstance(raw, dict):
            self.problem(path, f"{dotted(path)}: expected a table, got {kind(raw)}")
            return _BAD
        if item_hint is Any:
            return types.MappingProxyType(dict(raw))
        keys = meta.get("keys")
        for key in raw:
            if keys is not None and key not in keys:
                self.problem(path + (key,), f"unknown key {key!r} in [{dotted(path)}]: expected "
                             f"one of {', '.join(keys)}", did_you_mean(key, keys))
        if keys is not None and any(key not in keys for key in raw):
            return _BAD
        if not is_dataclass(item_hint):  # a table of plain values (``entities``)
            values = {key: self.value(item_hint, item, path + (key,), {})
                      for key, item in raw.items()}
            return _BAD if _BAD in values.values() else types.MappingProxyType(values)
        out = {key: self.table(item_hint, item, path + (key,)) for key, item in raw.items()}
        return _BAD if None in out.values() else types.MappingProxyType(out)

    def _bad(self, path: tuple, hint: Any, raw: Any, hint_text: str | None = None,
             meta: Mapping[str, Any] = {}) -> Any:
        self.problem(path, f"{dotted(path)}: expected {describe(hint)}{_range(meta)}, "
                           f"got {kind(raw)}", hint_text)
        return _BAD

    def _check(self, path: tuple, value: Any, meta: Mapping[str, Any]) -> Any:
        name = dotted(path)
        if not isinstance(value, str):
            return value
        message = hint_text = None
        if "max_len" in meta and len(value) > meta["max_len"]:  # first: before any regex
            message = f"{name}: {len(value):,} characters long; the limit is {meta['max_len']:,}"
        elif meta.get("nonempty") and not value.strip():
            message = f"{name}: expected a non-empty string"
        elif meta.get("shown") and not shows_as_is(value):  # it reaches logs and the TUI
            message = f"{name}: control characters (such as NUL or a newline) are not allowed"
        elif "pattern" in meta and not meta["pattern"].fullmatch(value):
            message = f"{name}: {value!r} is not valid: expected {meta['expected']}"
        elif meta.get("regex"):
            try:
                re.compile(value)
            except re.error as exc:
                message = f"{name}: not a valid regular expression: {exc}"
                hint_text = "Python `re` syntax; search(), so no need for .* around it"
        elif meta.get("content_regex"):
            problem = pattern_problem(value)
            if problem:
                message = f"{name}: {problem}"
                hint_text = "e.g. '\\bproject\\s+x\\b'; a repeated group may not repeat again"
        elif meta.get("url"):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                message = f"{name}: expected an http:// or https:// URL, got {value!r}"
        elif meta.get("origins"):
            message, hint_text = _origin_problem(name, value)
        elif meta.get("hosts"):
            message, hint_text = _host_problem(name, value)
        elif meta.get("directives"):
            from behest_local.dialects import emulate as directives  # grammar lives there
            try:
                directives.parse(value)
            except InvalidRequestError as exc:
                message = f"{name}: {exc.message.replace(directives.HEADER + ': ', '')}"
        if message:
            self.problem(path, message, hint_text)
            return _BAD
        return value


def _origin_problem(name: str, value: str) -> tuple[str | None, str | None]:
    if value.endswith("/") and value != "/":
        return (f"{name}: {value!r} ends with '/': an origin is scheme://host[:port] only",
                f"use {value.rstrip('/')!r}")
    if not _ORIGIN.fullmatch(value):
        return (f"{name}: {value!r} is not an origin: expected scheme://host[:port] "
                "(e.g. 'https://your-app.com', 'http://localhost:5173', "
                "'https://*.vercel.app', 'chrome-extension://<id>')", None)
    return None, None


def field_problems(cls: type, key: str, value: Any) -> list[str]:
    """What the schema says is wrong with ``value`` as field ``key`` of dataclass ``cls``,
    worded for ``key`` (for an API that takes one field on its own); empty when it is fine."""
    reader = Reader()
    reader.value(hints_of(cls)[key], value, (key,), _meta(cls, key))
    return [problem.message for problem in reader.problems]


def _host_problem(name: str, value: str) -> tuple[str | None, str | None]:
    """What is wrong with an ``allowed_hosts`` entry (policy/hosts.py reads them)."""
    entry = value.strip().rstrip(".").lower()
    if entry == "*" or _HOST_NAME.fullmatch(entry):
        return None, None
    try:
        ipaddress.ip_address(entry[1:-1] if entry.startswith("[") and entry.endswith("]")
                             else entry)
        return None, None
    except ValueError:
        pass
    bare, colon, port = entry.rpartition(":")
    if colon and port.isdigit() and (_HOST_NAME.fullmatch(bare) or bare.endswith("]")):
        return (f"{name}: {value!r} has a port: list the name only (the port in Host is "
                "not compared)", f"use {bare!r}")
    if "://" in entry or "/" in entry:
        return (f"{name}: {value!r} is not a host name: list the name only, without "
                "scheme or path", None)
    return (f"{name}: {value!r} is not a host name: expected a DNS name ('devbox.lan'), "
            "'*.' and a name ('*.example.test'), an IP address, or '*' (any host)", None)


def _range(meta: Mapping[str, Any]) -> str:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and high is not None:
        return f" from {_num(low)} to {_num(high)}"
    return f" ≥ {_num(low)}" if low is not None else ""


def _num(limit: float) -> str:
    # A byte limit is written out whole: ``:g`` would say 268435456 as 2.68435e+08.
    return str(int(limit)) if limit == int(limit) else f"{limit:g}"


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _meta(cls: type, name: str) -> Mapping[str, Any]:
    return next(f.metadata for f in fields(cls) if f.name == name)

"""Settings back to TOML, and ``config show``: every effective value with the layer it came from.

``to_toml`` turns a settings object (or any part of it) into plain dicts and lists that
``tomli_w`` writes and ``load`` reads back equal. ``show`` walks the effective settings
and prints them as a valid TOML document whose trailing comments name each value's layer,
lowest first: ``default`` < ``behest.toml:LINE`` < ``deployed via API`` < ``CLI flag``. When a
higher layer hides a value set in ``behest.toml`` the comment says what the file says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import tomli_w

from behest_local.config.locate import LineIndex
from behest_local.config.schema import Settings

_BARE = re.compile(r"[A-Za-z0-9_-]+")
LAYERS = ("default", "behest.toml", "deployed via API", "CLI flag")


def to_toml(obj: Any, *, skip: tuple[str, ...] = ("source",)) -> Any:
    """Plain TOML data for ``obj``; None values are left out (TOML has no null)."""
    if is_dataclass(obj):
        out = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if f.name not in skip and value is not None:
                out[f.name] = to_toml(value, skip=skip)
        return out
    if isinstance(obj, Mapping):
        return {str(k): to_toml(v, skip=skip) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [to_toml(v, skip=skip) for v in obj]
    return obj


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    """Dotted key, with projects named by id: ``projects.local.provider_model``."""
    value: Any
    layer: str
    """``default``, ``behest.toml:LINE``, ``deployed via API …``, ``created via API`` or
    ``CLI flag``."""
    shadowed: Any = None
    """What ``behest.toml`` says, when a higher layer hides it."""


@dataclass(frozen=True, slots=True)
class Layers:
    """What each layer set, for :func:`explain`."""

    toml_lines: LineIndex
    toml_name: str = "behest.toml"
    deployed: Mapping[tuple, str] | None = None
    """Paths set by the deployed layer (projects by index) → label."""
    cli: frozenset[tuple] = frozenset()
    base: Settings | None = None
    """The settings before the deployed layer and flags, to report what they hide."""


def explain(settings: Settings, layers: Layers) -> list[Row]:
    return [row for kind, row in _walk(settings, (), settings, layers) if kind == "row"]


def show(settings: Settings, layers: Layers, *, as_json: bool = False) -> str:
    """The ``config show`` text (or JSON rows)."""
    items = list(_walk(settings, (), settings, layers))
    if as_json:
        return json.dumps([{"key": r.key, "value": to_toml(r.value), "layer": r.layer,
                            **({"behest_toml": r.shadowed} if r.shadowed is not None else {})}
                           for kind, r in items if kind == "row"], indent=2)
    out = ["# behest-local: the effective configuration. Layers, lowest first:",
           "#   default < behest.toml < deployed via API (management API) < CLI flag", ""]
    for n, (kind, item) in enumerate(items):
        if kind == "header":
            empty = not item.startswith("[[") and (n + 1 == len(items)
                                                     or items[n + 1][0] == "header")
            out += [] if empty else ["", item]  # a table holding only tables needs no header
            continue
        name = item.key.rsplit(".", 1)[-1]
        text = (tomli_w.dumps({name: to_toml(item.value)}).strip() if item.value is not None
                else f"# {name} = (unset)")
        note = item.layer + (f" (behest.toml says {json.dumps(to_toml(item.shadowed))})"
                             if item.shadowed is not None else "")
        out.append(f"{text:<44} # {note}")
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"


def _walk(obj: Any, path: tuple, settings: Settings, layers: Layers) -> Iterator[tuple[str, Any]]:
    tables = []
    for f in fields(obj):
        if f.name == "source":
            continue
        value = getattr(obj, f.name)
        if is_dataclass(value) or isinstance(value, Mapping) and f.name != "arguments" or (
                isinstance(value, tuple) and value and is_dataclass(value[0])):
            tables.append((f.name, value))
        elif not (isinstance(value, tuple) and not value and f.name in ("projects", "scripted")):
            yield "row", _row(path + (f.name,), value, settings, layers)
    for name, value in tables:
        sub = path + (name,)
        if isinstance(value, tuple):
            for i, item in enumerate(value):
                yield "header", f"[[{_header(sub, settings)}]]"
                yield from _walk(item, sub + (i,), settings, layers)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield "header", f"[{_header(sub + (key,), settings)}]"
                yield from _walk(item, sub + (key,), settings, layers)
        else:
            yield "header", f"[{_header(sub, settings)}]"
            yield from _walk(value, sub, settings, layers)


def _header(path: tuple, settings: Settings) -> str:
    # A key that is not a TOML bare key (a model name like "gpt-4.1" under [prices]) is
    # quoted, as TOML 1.0 §Keys requires.
    return ".".join(str(p) if _BARE.fullmatch(str(p)) else json.dumps(str(p))
                    for p in path if not isinstance(p, int))


def _row(path: tuple, value: Any, settings: Settings, layers: Layers) -> Row:
    key = ".".join(settings.projects[p].id if isinstance(p, int) and path[0] == "projects"
                   and i == 1 else str(p) for i, p in enumerate(path))
    base_value = _lookup(layers.base, path) if layers.base is not None else None
    in_toml = path in layers.toml_lines
    shadow = base_value if in_toml and base_value != value else None
    if path in layers.cli:
        return Row(key, value, "CLI flag", shadow)
    deployed = layers.deployed or {}
    if path in deployed:
        return Row(key, value, deployed[path], shadow)
    if path[:2] in deployed:  # a project created through the API: every value is its
        return Row(key, value, deployed[path[:2]])
    if in_toml:
        return Row(key, value, f"{layers.toml_name}:{layers.toml_lines[path]}")
    if path[0] == "projects" and path[-1] == "slug":
        return Row(key, value, "derived from the id")
    if path[0] == "projects" and path[-1] == "id" and path[:2] + ("name",) in layers.toml_lines:
        return Row(key, value, "default: the name")
    return Row(key, value, "default")


def _lookup(obj: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, tuple) or part >= len(obj):
                return None
            obj = obj[part]
        elif isinstance(obj, Mapping):
            obj = obj.get(part)
        else:
            obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj

"""Reading ``behest.toml``: TOML text → validated ``Settings``, or a ``ConfigError`` listing
every problem with its ``file:line``.

``parse.py`` checks each value against the schema; this module adds the rules that span
fields: unique project ids and slugs (deriving missing slugs), the free plan's three active
projects, custom providers needing a ``base_url``, provider models that some provider
serves, and scripted replies that say what to reply. ``check`` runs again on the effective
settings once the deployed layer (``config/deployed.py``) is merged in.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

from behest_local.config.errors import ConfigError, did_you_mean
from behest_local.config.locate import index_lines
from behest_local.config.models import is_unspecified, provider_for_model
from behest_local.config.parse import Reader
from behest_local.config.schema import (BUILTIN_PROVIDERS, FREE_PLAN_PROJECTS, PROVIDER_NAME_RE,
                                        ProjectConfig, Settings)
from behest_local.config.slugs import unique_slug

_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")
_ALIASES = {"gemini": "google"}
_MOVED = {"tenant_id": ("id in [tenant]", '[tenant] id = "..."')}


def load(path: Path) -> Settings:
    """Read and validate ``behest.toml`` at ``path``.

    Raises:
        ConfigError: the file cannot be read, is not TOML, or breaks the schema.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=path, hint="save the file as UTF-8") from None
    return loads(text, path)


def loads(text: str, path: Path | str | None = None) -> Settings:
    """Validate TOML ``text``; ``path`` only names it in messages and ``Settings.source``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_AT.search(str(exc))
        message = _TOML_AT.sub("", str(exc)).strip()
        line = int(found.group(1)) if found else None
        if line is None and "end of document" in message:
            # tomllib names no line for a document that ends mid-value: that is the last one.
            line = max(1, len(text.rstrip("\n").splitlines()))
            message = message.replace("(at end of document)", "").strip() + " at the end of the file"
        raise ConfigError(f"not valid TOML: {message}", path=path, line=line,
                          hint="strings need quotes, tables are [name], lists are [a, b]") from None
    return from_dict(raw, path, Reader(index_lines(text)))


def from_dict(raw: dict, path: Path | str | None = None, reader: Reader | None = None) -> Settings:
    """Validate an already-parsed document (what tomllib returned)."""
    reader = reader or Reader()
    raw = dict(raw)
    for key, moved in _MOVED.items():
        if key in raw:
            raw.pop(key)
            reader.problem((key,), f"{key!r} has moved: it is {moved[0]} now", f"use {moved[1]}")
    projects = raw.get("projects")
    if isinstance(projects, list):  # a project's id defaults to its name
        raw["projects"] = [{"id": p["name"], **p} if isinstance(p, dict) and "name" in p
                           and isinstance(p["name"], str) and "id" not in p else p
                           for p in projects]
        if not projects:
            reader.problem(("projects",), "projects: the list is empty: expected at least one "
                           "[[projects]] table",
                           "remove the key to get the default project 'local'")
    settings = reader.table(Settings, raw, ())
    if settings is not None:
        settings = check(settings, reader, explicit_slugs=_explicit_slugs(raw))
    if reader.problems:
        raise ConfigError.of(reader.problems, path)
    return replace(settings, source=str(path) if path else "embedded default")


def check(settings: Settings, reader: Reader, *, explicit_slugs: set[str] | None = None,
          origin: str = "behest.toml") -> Settings:
    """The cross-field rules; returns ``settings`` with derived slugs made unique."""
    for name, provider in settings.providers.items():
        at = ("providers", name)
        if name in _ALIASES:
            reader.problem(at, f"[providers.{name}]: the provider is called "
                           f"{_ALIASES[name]!r}", f"use [providers.{_ALIASES[name]}]")
        elif not PROVIDER_NAME_RE.fullmatch(name):
            reader.problem(at, f"[providers.{name}]: a provider name is 1-32 characters of a-z, "
                           "0-9, '.', '_' or '-'")
        elif name not in BUILTIN_PROVIDERS and not provider.base_url:
            reader.problem(at, f"[providers.{name}]: a custom provider needs base_url "
                           f"(built-in: {', '.join(BUILTIN_PROVIDERS)})",
                           did_you_mean(name, BUILTIN_PROVIDERS)
                           or 'e.g. base_url = "http://127.0.0.1:11434/v1" for Ollama')
    seen_ids: dict[str, int] = {}
    projects = list(settings.projects)
    for i, project in enumerate(projects):
        at = ("projects", i)
        if project.id in seen_ids:
            reader.problem(at + ("id",), f"projects[{i}]: id {project.id!r} is already used by "
                           f"projects[{seen_ids[project.id]}]", "give each project its own id")
        seen_ids.setdefault(project.id, i)
        model = project.provider_model
        if model is not None and is_unspecified(model):
            projects[i] = project = replace(project, provider_model=None)
        elif model and provider_for_model(model, settings.providers) is None:
            reader.problem(at + ("provider_model",), f"projects[{i}].provider_model: no provider "
                           f"serves {model!r}: expected a model like gpt-4o, claude-sonnet-4-"
                           "20250514, gemini-2.5-pro, mistral-large-latest or vendor/model",
                           "for a local model, add a custom provider with prefixes = [...]")
        for j, rule in enumerate(project.scripted):
            if rule.reply is None and rule.tool_call is None and rule.emulate is None:
                reader.problem(at + ("scripted", j), f"projects[{i}].scripted[{j}]: expected "
                               "reply, tool_call or emulate", 'e.g. reply = "pinned answer"')
            elif rule.reply is not None and rule.tool_call is not None:
                reader.problem(at + ("scripted", j, "tool_call"), f"projects[{i}].scripted[{j}]: "
                               "reply and tool_call exclude each other", "keep one of them")
    projects = _unique_slugs(projects, explicit_slugs, reader)
    active = [p for p in projects if p.status == "active"]
    if settings.tenant.plan == "free" and len(active) > FREE_PLAN_PROJECTS:
        reader.problem(("tenant", "plan"), f"tenant.plan 'free' allows {FREE_PLAN_PROJECTS} active "
                       f"projects, found {len(active)} ({origin})",
                       "set status = \"suspended\" on some, or plan = \"pro\"")
    return replace(settings, projects=tuple(projects))


def _explicit_slugs(raw: dict) -> set[str]:
    projects = raw.get("projects")
    return {p["slug"] for p in projects if isinstance(p, dict) and isinstance(p.get("slug"), str)} \
        if isinstance(projects, list) else set()


def _unique_slugs(projects: list[ProjectConfig], explicit: set[str] | None,
                  reader: Reader) -> list[ProjectConfig]:
    """Explicit slugs must be unique; derived ones step past any slug already taken."""
    explicit = explicit if explicit is not None else {p.slug for p in projects}
    taken: dict[str, int] = {}
    out = []
    for i, project in enumerate(projects):
        if project.slug in explicit:
            if project.slug in taken:
                reader.problem(("projects", i, "slug"), f"projects[{i}].slug {project.slug!r} is "
                               f"already used by projects[{taken[project.slug]}]")
        else:
            project = replace(project, slug=unique_slug(project.id, set(taken) | explicit))
        taken.setdefault(project.slug, i)
        out.append(project)
    return out

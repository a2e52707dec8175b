"""Settings: what the gateway runs with, as frozen dataclasses.

This is the minimal schema of the gateway core: server, emulator pacing, and projects,
with the embedded default (tenant ``local``, project ``local``) used when there is no
``behest.toml``. Values come from defaults, then the TOML file, then command-line flags.
Every ``Exchange`` captures the ``Settings`` object it started with, so replacing the
settings (hot reload, later) never changes a request in flight.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_PORT = 7717
"""Chosen to collide with no common dev tool (3000, 4000, 5173, 8000, 8080, 8787, 11434)."""
DEFAULT_MODEL = "gemini-2.5-flash"
"""Behest's platform default model (reference/behest-api.md §4)."""
DEFAULT_MAX_BODY = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    """Interface to bind. Anything but loopback also needs ``--allow-remote``."""
    port: int = DEFAULT_PORT
    """TCP port; 0 takes a free one."""
    max_body_bytes: int = DEFAULT_MAX_BODY
    """Largest accepted request body; larger ones get 413."""


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    first_token_ms: float = 0.0
    """Delay before the first streamed token of the emulated model."""
    tokens_per_second: float = 0.0
    """Streaming pace of the emulated model; 0 sends tokens as fast as possible."""


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    name: str
    id: str
    provider_model: str | None = None
    """The project's model; requests without one (or with ``"default"``) use it."""
    system_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    tenant_id: str = "local"
    server: ServerConfig = field(default_factory=ServerConfig)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    projects: tuple[ProjectConfig, ...] = (ProjectConfig(name="local", id="local"),)
    source: str = "embedded default"
    """Where these settings were read from, for ``serve``'s banner and logs."""

    def project(self, project_id: str) -> ProjectConfig | None:
        for project in self.projects:
            if project.id == project_id or project.name == project_id:
                return project
        return None


class ConfigError(Exception):
    """A configuration file problem, with ``file:line`` and a hint where known."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        text = where + message + (f"\n  hint: {hint}" if hint else "")
        super().__init__(text)


def load(path: Path) -> Settings:
    """Read ``behest.toml``. Unknown keys are errors, with a did-you-mean."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ConfigError(f"not valid TOML: {exc}", path=path, line=line) from None
    return _from_dict(raw, path, text)


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(key) and stripped[len(key):].lstrip().startswith("="):
            return number
        if stripped in (f"[{key}]", f"[[{key}]]"):
            return number
    return None


def _check_keys(table: dict, cls: type, where: str, path: Path, text: str) -> dict:
    allowed = [f.name for f in fields(cls)]
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            raise ConfigError(f"unknown key {where}{key!r}", path=path, line=_line_of(text, key),
                              hint=f"did you mean {close[0]!r}?" if close
                              else f"expected one of: {', '.join(allowed)}")
    return table


def _typed(cls: type, table: dict, where: str, path: Path, text: str) -> Any:
    _check_keys(table, cls, where, path, text)
    defaults = cls(**{f.name: table[f.name] for f in fields(cls)
                      if f.name in table and f.name in ("name", "id")}) \
        if cls is ProjectConfig else cls()
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in table:
            continue
        value = table[f.name]
        expected = getattr(defaults, f.name)
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              if isinstance(expected, (int, float)) else isinstance(value, str))
        if not ok:
            raise ConfigError(
                f"{where}{f.name} must be a {'number' if isinstance(expected, (int, float)) else 'string'}, "
                f"got {value!r}", path=path, line=_line_of(text, f.name))
        values[f.name] = value
    return replace(defaults, **values)


def _from_dict(raw: dict, path: Path, text: str) -> Settings:
    _check_keys(raw, _TopLevel, "", path, text)
    settings = Settings(source=str(path))
    if "tenant_id" in raw:
        settings = replace(settings, tenant_id=str(raw["tenant_id"]))
    if "server" in raw:
        settings = replace(settings, server=_typed(ServerConfig, raw["server"], "server.", path, text))
    if "emulator" in raw:
        settings = replace(settings, emulator=_typed(EmulatorConfig, raw["emulator"], "emulator.",
                                                     path, text))
    if "projects" in raw:
        projects = []
        for entry in raw["projects"]:
            if "name" not in entry:
                raise ConfigError("each [[projects]] needs a name", path=path,
                                  line=_line_of(text, "projects"))
            entry = {"id": entry["name"], **entry}
            projects.append(_typed(ProjectConfig, entry, "projects.", path, text))
        settings = replace(settings, projects=tuple(projects))
    return settings


@dataclass(frozen=True, slots=True)
class _TopLevel:
    tenant_id: str = ""
    server: dict | None = None
    emulator: dict | None = None
    projects: list | None = None

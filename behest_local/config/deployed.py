"""The deployed layer: what the management API changed, kept in ``<state dir>/deployed.toml``.

Behest's dashboard and API edit a project's settings as a *draft*, and a deploy makes the
draft live. Locally the user's ``behest.toml`` is never rewritten behind their back; the
API's changes live here instead, and ``merge`` lays them over the file's settings (the
deployed value wins, and ``config show`` says so). The document, written with tomli-w::

    version = 1
    [created.<project id>]     # POST /v1/projects: name, slug, status, created_at
    [drafts.<project id>]      # updated_at, settings = {...}: PUT /v1/projects/{id}/settings
    [live.<project id>]        # deployed_at, settings = {...}: in force
    [pending.<project id>]     # deployed_at, live_at, settings: in force from live_at
                               #   (emulator.deploy_delay_s, Behest's propagation delay)

Cleared optional settings are stored as ``""`` (TOML has no null). Every change is one
transaction: an exclusive ``flock``, read, modify, atomic write (0600), like ``keys.json``.
"""

from __future__ import annotations

import contextlib
import logging
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import tomli_w

from behest_local.atomic import atomic_write, file_sig, locked
from behest_local.config import ConfigError, ProjectConfig, Settings, check
from behest_local.config.parse import Reader

log = logging.getLogger("behest_local.config")

DEPLOYED_FILE = "deployed.toml"
SETTABLE = ("provider_model", "system_prompt", "cors_origins", "rate_limits", "tiers", "budgets",
            "guardrails")
"""Project settings the management API may change (``PUT /v1/projects/{id}/settings``)."""
DEPLOYED = "deployed via API"
CREATED = "created via API"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def parse_time(text: str) -> float:
    """Unix time of an ``iso`` timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class DeployedStore:
    """``deployed.toml`` in the state dir: read it, and change it one transaction at a time."""

    def __init__(self, home: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(home) / DEPLOYED_FILE
        self._lock = Path(home) / (DEPLOYED_FILE + ".lock")
        self.clock = clock
        self._empty_seen: tuple | None = None  # the empty file last warned about

    def read(self) -> dict:
        """The document (empty when there is none). Raises ConfigError if it is damaged;
        warns (once per version of the file) when it exists but holds nothing."""
        try:
            doc = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"damaged, not read: {exc}", path=self.path,
                              hint="`behest-local config reset` discards what the management "
                                   "API deployed") from None
        if not doc:
            self._warn_empty()
        return doc

    def _warn_empty(self) -> None:
        # Every write holds at least ``version = 1``: an empty file was cut short (a full
        # disk, a crash without fsync) or emptied by hand, and deploys may be missing.
        seen = file_sig(self.path)
        if seen != self._empty_seen:
            self._empty_seen = seen
            log.warning("%s is empty, so no settings deployed through the management API "
                        "apply. behest-local never writes it empty: if deploys are missing, "
                        "restore it from a backup; otherwise delete it.", self.path)

    def signature(self) -> tuple | None:
        return file_sig(self.path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict]:
        """Yield the current document for changing; it is written when the block ends."""
        with locked(self._lock):
            doc = self.read()
            yield doc
            doc["version"] = 1
            atomic_write(self.path, tomli_w.dumps(doc).encode())

    # -- the operations of the management API ----------------------------------------------

    def put_draft(self, project_id: str, changes: Mapping[str, Any]) -> dict:
        """Merge ``changes`` into the project's draft; returns the draft's settings."""
        with self.transaction() as doc:
            draft = doc.setdefault("drafts", {}).setdefault(project_id, {"settings": {}})
            _merge(draft["settings"], _storable(changes))
            draft["updated_at"] = iso(self.clock())
            return dict(draft["settings"])

    def deploy(self, project_id: str, delay_s: float = 0.0) -> dict | None:
        """Make the draft live (after ``delay_s``). None if there is no draft."""
        now = self.clock()
        with self.transaction() as doc:
            draft = doc.get("drafts", {}).pop(project_id, None)
            if draft is None:
                return None
            pending = doc.setdefault("pending", {}).pop(project_id, None)
            settings = dict(doc.get("live", {}).get(project_id, {}).get("settings", {}))
            if pending:  # a deploy still propagating is overtaken, not lost
                _merge(settings, pending["settings"])
            _merge(settings, draft["settings"])
            entry = {"deployed_at": iso(now), "settings": settings}
            if delay_s > 0:
                doc["pending"][project_id] = {**entry, "live_at": iso(now + delay_s)}
            else:
                doc.setdefault("live", {})[project_id] = entry
            return {**entry, "live_at": iso(now + delay_s)}

    def discard_draft(self, project_id: str) -> bool:
        """Drop the project's draft. False if there was none."""
        with self.transaction() as doc:
            return doc.get("drafts", {}).pop(project_id, None) is not None

    def restore(self, doc: Mapping[str, Any]) -> None:
        """Put back a document read earlier (undo a change the gateway refused)."""
        with self.transaction() as current:
            current.clear()
            current.update(doc)

    def promote_due(self) -> float | None:
        """Move pending deploys whose time has come to live. Returns the next live_at."""
        if not self.read().get("pending"):
            return None
        now, upcoming = self.clock(), []
        with self.transaction() as doc:
            for project_id, entry in list(doc.get("pending", {}).items()):
                when = parse_time(entry["live_at"])
                if when <= now:
                    del doc["pending"][project_id]
                    doc.setdefault("live", {})[project_id] = {
                        "deployed_at": entry["deployed_at"], "settings": entry["settings"]}
                else:
                    upcoming.append(when)
        return min(upcoming, default=None)

    def create_project(self, project_id: str, name: str, slug: str) -> dict:
        with self.transaction() as doc:
            entry = {"name": name, "slug": slug, "status": "active",
                     "created_at": iso(self.clock())}
            doc.setdefault("created", {})[project_id] = entry
            return entry

    def reset(self, project_id: str | None = None) -> bool:
        """Forget what the API deployed (for one project, or all). True if anything was."""
        with self.transaction() as doc:
            before = tomli_w.dumps(doc)
            for section in ("drafts", "live", "pending", "created"):
                if project_id is None:
                    doc.pop(section, None)
                else:
                    doc.get(section, {}).pop(project_id, None)
            return tomli_w.dumps(doc) != before


def merge(base: Settings, doc: Mapping[str, Any], *, now: float,
          path: Path | str = DEPLOYED_FILE) -> tuple[Settings, dict[tuple, str]]:
    """``base`` with the deployed layer on top, and which paths that layer set.

    Raises:
        ConfigError: the combination breaks a rule (e.g. four active projects on free).
    """
    reader = Reader()
    projects = list(base.projects)
    labels: dict[tuple, str] = {}
    for project_id, entry in doc.get("created", {}).items():
        if all(p.id != project_id for p in projects):  # behest.toml's own project wins
            labels[("projects", len(projects))] = CREATED
            projects.append(ProjectConfig(name=entry["name"], id=project_id, slug=entry["slug"],
                                          status=entry.get("status", "active")))
    due = [doc.get("live", {})] + [{pid: e} for pid, e in doc.get("pending", {}).items()
                                    if parse_time(e["live_at"]) <= now]
    for layer in due:
        for project_id, entry in layer.items():
            index = next((i for i, p in enumerate(projects) if p.id == project_id), None)
            if index is None:  # the project left behest.toml: keep the entry, apply nothing
                continue
            at = ("projects", index)
            projects[index] = reader.apply(projects[index], entry["settings"], at)
            for leaf in _leaves(entry["settings"]):
                labels[at + leaf] = f"{DEPLOYED} {entry['deployed_at']}"
    settings = check(replace(base, projects=tuple(projects)), reader,
                     origin="behest.toml and the management API")
    if reader.problems:
        raise ConfigError.of(reader.problems, path)
    return settings, labels


def _storable(changes: Mapping[str, Any]) -> dict:
    return {k: ("" if v is None else _storable(v) if isinstance(v, Mapping) else v)
            for k, v in changes.items()}


def _merge(into: dict, changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _leaves(settings: Mapping[str, Any], prefix: tuple = ()) -> Iterator[tuple]:
    for key, value in settings.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, prefix + (key,))
        else:
            yield prefix + (key,)

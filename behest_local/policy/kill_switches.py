"""Admin kill switches: which projects and which tenant providers are stopped.

Behest's Kong "checks kill switches" after JWT validation, and a killed project answers
403 ``forbidden`` (reference/behest-api.md §1.7, §3.3). Here the state is two sets held
in memory by :class:`KillSwitches`, so admission costs one set lookup per request and no
I/O: ``check_project`` (after authentication, ``server/admission/auth.py``, and in mint)
and ``check_provider`` (after routing, ``server/routes/openai.py``).

**A killed provider** refuses the requests routed to it, those the emulated model stands in
for (no key yet, free plan) included: the rehearsal is the same with a key or without.
The platform's default model (``gemini-2.5-flash`` with no ``provider_model``) is Behest's,
not the tenant's, and the emulated model itself is no provider to kill.

**State** lives in ``<state dir>/kill_switches.json`` (0600, written atomically under a
lock, as every state file), so a kill survives a restart. Two writers share it: the admin
API (``server/routes/admin.py``) and ``behest-local project|provider kill|revive``
(``cli/admin_cmd.py``). The CLI needs no credential for a running gateway: it writes the
file and the gateway follows it (``follow``, the file watch that applies ``keys revoke``
at once). Whoever can write the state dir (0700) already owns the gateway, and the admin
secret never has to exist in plaintext on disk for the CLI to present it.

**Damage** is reported, never silently replaced: a file that cannot be read stops the start
(``KillStateError``, ``runtime/build.py``); met while running, the last good state stays in
force, the log says why, the admin API lists it, and every write refuses until the file is
repaired or moved aside. Every change is logged and published as ``KillSwitchChanged``
(the TUI's header).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from behest_local.atomic import atomic_write, locked
from behest_local.config.errors import did_you_mean
from behest_local.config.schema import BUILTIN_PROVIDERS, DEFAULT_MODEL
from behest_local.errors import GatewayError
from behest_local.exchange.events import ConfigEvent, KillSwitchChanged
from behest_local.file_watch import FileWatch
from behest_local.home import private_dir
from behest_local.policy.routing import EMULATED, Target

KILL_FILE = "kill_switches.json"
KINDS = ("projects", "providers")
log = logging.getLogger("behest_local.kill_switches")


class KillStateError(Exception):
    """``kill_switches.json`` exists but is not a kill-switch record."""


class ProviderRefused(ValueError):
    """A provider name the kill switch does not take: ``code`` says why (the admin API's
    error code; the CLI shows the message)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def check_killable(name: str, configured: Iterable[str], killed: Iterable[str]) -> None:
    """Raise ``ProviderRefused`` unless ``name`` (normalised) names a provider a kill can
    stop: a built-in one or one of the ``[providers.*]`` tables (``configured``), or one
    already ``killed`` (so a stale kill can still be revived). A typo would otherwise
    kill nothing and say it had. One rule for the admin API and the CLI."""
    if name == EMULATED:
        raise ProviderRefused("The emulated model is behest-local's own, not a tenant "
                              "provider: kill the project instead", "INVALID_PROVIDER")
    known = (*BUILTIN_PROVIDERS, *(n for n in configured if n not in BUILTIN_PROVIDERS))
    if name in known or name in killed:
        return
    hint = did_you_mean(name, known)
    raise ProviderRefused(f"Unknown provider {name!r}{'; ' + hint if hint else ''} (known: "
                          f"{', '.join(known)})", "PROVIDER_NOT_FOUND")


def read_state(path: Path) -> dict[str, dict[str, dict]]:
    """``{"projects": {id: entry}, "providers": {name: entry}}`` from ``path`` (blocking);
    empty when there is no file. Raises ``KillStateError`` naming the file and the fault."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {kind: {} for kind in KINDS}
    except OSError as exc:
        raise KillStateError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("version") != 1:
            raise ValueError("not a version 1 kill-switch record")
        state = {kind: doc.get(kind, {}) for kind in KINDS}
        for kind, table in state.items():
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise ValueError(f"{kind!r} is not a table of entries")
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError included
        raise KillStateError(f"{path} is damaged ({exc}): repair it, or move it aside to "
                             "revive everything") from None
    return state


class KillSwitches:
    """The killed projects and providers of a state dir, in memory; see the module
    docstring. ``publish`` receives a ``KillSwitchChanged`` per change."""

    def __init__(self, home: Path, *,
                 publish: Callable[[ConfigEvent], None] | None = None) -> None:
        self.path = Path(home) / KILL_FILE
        self.publish = publish
        self.projects: frozenset[str] = frozenset()
        self.providers: frozenset[str] = frozenset()
        self.entries: dict[str, dict[str, dict]] = {kind: {} for kind in KINDS}
        self.damaged: str | None = None
        """Why the file could not be read last time (the last good state in force)."""
        self.apply(read_state(self.path), announce=False)  # damage at start: raised

    # -- admission: in memory, one set lookup ------------------------------------------------

    def check_project(self, project: str) -> None:
        """Raise the 403 of a killed ``project``."""
        if project in self.projects:
            entry = self.entries["projects"].get(project, {})
            raise GatewayError(
                f"Project {project!r} was stopped by an admin kill switch"
                + _because(entry) + f". An admin revives it: `behest-local project revive "
                f"{project}` or POST /v1/admin/projects/{project}/revive.", status=403,
                type="invalid_request_error", code="forbidden")

    def check_provider(self, target: Target, tenant: str) -> None:
        """Raise the 403 of a request routed to a killed provider (``target``)."""
        provider = target.upstream
        if provider is None or provider not in self.providers:
            return
        if target.provider == EMULATED and target.model == DEFAULT_MODEL:
            return  # the platform's default model: Behest's, not the tenant's provider
        entry = self.entries["providers"].get(provider, {})
        raise GatewayError(
            f"The {provider} provider of tenant {tenant!r} was stopped by an admin kill "
            f"switch{_because(entry)}, so {target.model} is not served. An admin revives it: "
            f"`behest-local provider revive {provider}` or POST /v1/admin/tenants/{tenant}/"
            f"providers/{provider}/revive.", status=403, type="invalid_request_error",
            code="forbidden")

    # -- changes -----------------------------------------------------------------------------

    def write(self, kind: str, name: str, killed: bool, *, reason: str | None = None,
              by: str) -> dict[str, dict[str, dict]]:
        """Kill (or revive) ``name`` of ``kind`` (``projects``/``providers``) in the file
        (blocking: its lock, write and fsync); the whole new state, for ``apply`` on the
        loop. Raises ``KillStateError`` when the file is damaged: never overwritten."""
        private_dir(self.path.parent)
        with locked(self.path.with_name(KILL_FILE + ".lock")):
            state = read_state(self.path)
            if killed:
                state[kind][name] = {"reason": reason, "by": by, "killed_at": datetime.now(
                    timezone.utc).isoformat(timespec="seconds")}
            elif state[kind].pop(name, None) is None:
                return state  # not killed: nothing to write
            atomic_write(self.path, json.dumps({"version": 1, **state}, indent=2).encode())
        return state

    def refresh(self) -> None:
        """Re-read the file now (blocking) and apply it; damage keeps the last good state."""
        state = self._read()
        if state is not None:
            self.apply(state)

    def follow(self, watch: FileWatch) -> None:
        """Re-read the file whenever it changes while ``watch`` runs (a CLI kill applies at
        once); the reading in a worker thread, the change applied on the loop."""
        private_dir(self.path.parent)

        async def changed() -> None:
            state = await asyncio.to_thread(self._read)
            if state is not None:
                self.apply(state)

        watch.follow(self.path.parent, [KILL_FILE], changed, tick=True, label="kill switches")

    def _read(self) -> dict[str, dict[str, dict]] | None:
        """The file's state, or None when it is damaged (said once in the log, and kept in
        ``damaged`` for the admin API until a good state is applied)."""
        try:
            return read_state(self.path)
        except KillStateError as exc:
            if self.damaged != str(exc):
                log.error("kill switches: %s; the last good state stays in force", exc)
            self.damaged = str(exc)
            return None

    def apply(self, state: dict[str, dict[str, dict]], *, announce: bool = True) -> None:
        """Make ``state`` the one in force (on the loop), announcing each change."""
        before = self.entries
        self.entries, self.damaged = state, None
        self.projects = frozenset(state["projects"])
        self.providers = frozenset(state["providers"])
        if not announce:
            return
        for kind in KINDS:
            old, new = before[kind], state[kind]
            for name in sorted(set(old) ^ set(new)):
                self._announce(kind[:-1], name, name in new, new.get(name, {}).get("reason"))

    def _announce(self, kind: str, name: str, killed: bool, reason: str | None) -> None:
        if killed:
            log.warning("kill switch: %s %s killed%s: its requests answer 403 forbidden",
                        kind, name, _because({"reason": reason}))
        else:
            log.info("kill switch: %s %s revived: its requests are served again", kind, name)
        if self.publish is not None:
            self.publish(KillSwitchChanged(time.monotonic(), str(self.path), kind, name,
                                           killed, reason))


def _because(entry: dict) -> str:
    reason = entry.get("reason")
    return f" (reason: {reason})" if reason else ""

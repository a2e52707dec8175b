"""Live configuration: the layers that make ``gateway.settings``, and reloading them.

``LiveConfig`` owns the effective settings: defaults, then ``behest.toml``, then the layer
deployed through the management API (``config/deployed.py``), then command-line flags (which
only touch ``[server]``). :meth:`LiveConfig.follow` has the server's file watcher
(``file_watch.py``) follow the config file and ``deployed.toml``; a saved edit applies
within a second. An invalid edit keeps the last good settings, is logged with its
``file:line`` and published as ``ConfigRejected``; the next good save applies as usual.
Replacing ``gateway.settings`` swaps one reference: every exchange keeps the snapshot it
authenticated with, so requests in flight are untouched. Subscribers (the TUI, tests) get
``ConfigReloaded``/``ConfigRejected`` from ``exchange/events.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from behest_local import config
from behest_local.config import ConfigError, Settings
from behest_local.config.render import to_toml
from behest_local.config.deployed import DeployedStore, merge, parse_time
from behest_local.exchange.events import ConfigEvent, ConfigRejected, ConfigReloaded
from behest_local.file_watch import FileWatch

log = logging.getLogger("behest_local.config")
RESTART_KEYS = ("server.host", "server.port", "server.max_body_bytes", "server.header_timeout_s")


@dataclass(frozen=True, slots=True)
class Flags:
    """Command-line overrides of ``[server]``: the highest layer."""

    host: str | None = None
    port: int | None = None
    max_body_bytes: int | None = None

    def apply(self, settings: Settings) -> Settings:
        given = self.given()
        return replace(settings, server=replace(settings.server, **given)) if given else settings

    def given(self) -> dict:
        return {k: getattr(self, k) for k in ("host", "port", "max_body_bytes")
                if getattr(self, k) is not None}


class LiveConfig:
    """The effective settings and their layers; ``on_change`` receives every new snapshot.

    Args:
        home: the state dir (``deployed.toml``).
        path: ``behest.toml``, or None for the embedded default.
        flags: command-line overrides.
        base: the file's settings when already loaded (tests pass settings directly).

    Raises:
        ConfigError: at construction, when the layers are invalid (startup must fail).
    """

    def __init__(self, home: Path, *, path: Path | None = None, flags: Flags = Flags(),
                 base: Settings | None = None,
                 on_change: Callable[[Settings], None] = lambda settings: None) -> None:
        self.path = Path(path) if path else None
        self.flags = flags
        self.deployed = DeployedStore(home)
        self.file_settings = base if base is not None else (
            config.load(self.path) if self.path else Settings())
        self.settings, self.labels = self._compose(self.file_settings)
        self.on_change = on_change
        self._subscribers: list[Callable[[ConfigEvent], None]] = []
        self.rejected: str | None = None
        """The error of the last rejected edit while it is in the way; None once fixed."""
        self._timer: asyncio.TimerHandle | None = None

    def subscribe(self, subscriber: Callable[[ConfigEvent], None]) -> Callable[[], None]:
        """Call ``subscriber(event)`` on every reload or rejection; returns an unsubscribe."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def _compose(self, file_settings: Settings) -> tuple[Settings, dict[tuple, str]]:
        merged, labels = merge(self.flags.apply(file_settings), self.deployed.read(),
                               now=self.deployed.clock(), path=self.deployed.path)
        return replace(merged, source=file_settings.source), labels

    # -- reloading -----------------------------------------------------------------------

    def _load_file(self) -> Settings:
        return config.load(self.path) if self.path else Settings()

    def reload_file(self) -> bool:
        """Re-read ``behest.toml`` (blocking). False, keeping the old settings, if invalid."""
        try:
            file_settings = self._load_file()
        except ConfigError as error:
            return self._reject(str(self.path), error)
        return self._accept_file(file_settings)

    def _accept_file(self, file_settings: Settings) -> bool:
        try:
            composed = self._compose(file_settings)
        except ConfigError as error:
            return self._reject(str(self.path), error)
        self.file_settings = file_settings
        self._swap(*composed, source=str(self.path))
        return True

    def refresh_deployed(self) -> bool:
        """Re-apply the deployed layer (after the management API or another process changed
        it). False, keeping the old settings, if the result is invalid."""
        try:
            composed = self._compose(self.file_settings)
        except ConfigError as error:
            return self._reject(str(self.deployed.path), error)
        self._swap(*composed, source=str(self.deployed.path))
        self.schedule_pending()
        return True

    def _reject(self, source: str, error: ConfigError) -> bool:
        self.rejected = str(error)
        log.error("configuration not applied, the last good one stays in force:\n%s", error)
        self._publish(ConfigRejected(time.monotonic(), source, str(error)))
        return False

    def _swap(self, settings: Settings, labels: dict[tuple, str], *, source: str) -> None:
        old, self.settings, self.labels = self.settings, settings, labels
        changed = changed_keys(old, settings)
        recovered, self.rejected = self.rejected is not None, None
        if not changed:
            if recovered:  # the broken edit was repaired back to what is in force
                log.info("%s is valid again; the configuration in force is unchanged", source)
                self._publish(ConfigReloaded(time.monotonic(), source, (), ()))
            return
        self.on_change(settings)
        restart = tuple(k for k in changed if k in RESTART_KEYS)
        log.info("configuration reloaded from %s: %s", source, ", ".join(changed))
        if restart:
            log.warning("%s changed: restart behest-local to apply", ", ".join(restart))
        self._publish(ConfigReloaded(time.monotonic(), source, changed, restart))

    def publish(self, event: ConfigEvent) -> None:
        """Tell the subscribers (the TUI's header) about ``event``: reloads and rejections
        from here, kill switches from ``policy/kill_switches.py``."""
        self._publish(event)

    def _publish(self, event: ConfigEvent) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # a subscriber bug must not stop configuration changes
                log.exception("config subscriber %r failed", subscriber)

    # -- deploys that go live later (emulator.deploy_delay_s) --------------------------------

    def schedule_pending(self) -> None:
        """Arm one timer for the earliest pending deploy (needs a running loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        pending = self.deployed.read().get("pending", {})
        if self._timer:
            self._timer.cancel()
            self._timer = None
        if pending:
            due = min(parse_time(e["live_at"]) for e in pending.values())
            self._timer = loop.call_later(max(0.0, due - self.deployed.clock()), self._promote)

    def _promote(self) -> None:
        self._timer = None
        self.deployed.promote_due()
        self.refresh_deployed()

    # -- watching ------------------------------------------------------------------------

    def follow(self, watch: FileWatch) -> None:
        """Apply saved edits of ``behest.toml`` and ``deployed.toml`` while ``watch`` runs."""
        self.schedule_pending()
        watch.follow(self.deployed.path.parent, [self.deployed.path.name], self.refresh_deployed,
                     label="deployed settings")
        if self.path:
            watch.follow(self.path.resolve().parent, [self.path.name], self._reload_off_loop,
                         label="config file")

    async def _reload_off_loop(self) -> None:
        try:  # reading the file is blocking I/O: off the event loop
            file_settings = await asyncio.to_thread(self._load_file)
        except ConfigError as error:
            self._reject(str(self.path), error)
            return
        self._accept_file(file_settings)


def changed_keys(old: Settings, new: Settings) -> tuple[str, ...]:
    """Dotted keys whose value differs (projects named by id)."""
    a, b = _flat(old), _flat(new)
    return tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))


def _flat(settings: Settings) -> dict[str, object]:
    out: dict[str, object] = {}
    data = to_toml(settings)
    data["projects"] = {p["id"]: p for p in data.get("projects", [])}

    def walk(value: object, prefix: str) -> None:
        if isinstance(value, dict) and prefix.rsplit(".", 1)[-1] != "arguments":
            for key, item in value.items():
                walk(item, f"{prefix}.{key}" if prefix else key)
        else:
            out[prefix] = value

    walk(data, "")
    return out

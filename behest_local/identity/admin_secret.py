"""The admin secret: the credential of the admin kill-switch API (``X-Admin-Secret``).

Behest guards its "admin kill-switch and admin provider endpoints" with an
``X-Admin-Secret`` header (reference/behest-api.md §1.7). ``behest-local admin-secret``
makes a random 256-bit secret, prints it once and stores only its SHA-256 in
``<state dir>/admin.json`` (0600, written atomically, as the dashboard token's file);
``--rotate`` replaces it and the previous one stops working. A 256-bit random secret needs no
slow hash: nothing short of the secret itself has its digest, so SHA-256 compared in
constant time (``hmac.compare_digest``) is enough.

The admin routes (``server/behest_errors.serve_management``) call :meth:`AdminSecret.verify`,
which re-reads the file only when its signature changed, so a secret made or rotated while
the gateway runs works at once. A damaged file is never silently replaced: :meth:`state`
says what is wrong, ``verify`` accepts nothing, and only ``--rotate`` writes a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timezone
from pathlib import Path

from behest_local.atomic import Signature, atomic_write, file_sig
from behest_local.home import private_dir
from behest_local.secret import Secret

ADMIN_FILE = "admin.json"
SECRET_PREFIX = "behest_admin_"
HEADER = "X-Admin-Secret"
log = logging.getLogger("behest_local.admin_secret")


class AdminSecretError(Exception):
    """``admin.json`` exists but cannot be read as an admin secret's record."""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class AdminSecret:
    """The one valid admin secret of a state dir, by its hash."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / ADMIN_FILE
        self._sig: Signature | None = None
        self._digest: str | None = None
        self._damage: str | None = None

    def __repr__(self) -> str:
        return f"<AdminSecret {self.path}>"

    def create(self, *, rotate: bool = False) -> Secret:
        """A new secret (returned once). Refuses to replace an existing record, sound or
        damaged, unless ``rotate``."""
        if not rotate:
            state = self.state()
            if state != "absent":
                raise AdminSecretError(
                    f"{self.path} already holds an admin secret ({state}); it is shown only "
                    "when made. `behest-local admin-secret --rotate` makes a new one (the "
                    "previous one stops working).")
        private_dir(self.path.parent)
        value = SECRET_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        atomic_write(self.path, json.dumps({"version": 1, "sha256": _digest(value),
                                            "created_at": created}).encode())
        return Secret(value)

    def state(self) -> str:
        """``absent``, ``configured`` or ``damaged: <why>`` (blocking: reads the file when it
        changed)."""
        if self._current() is not None:
            return "configured"
        return f"damaged: {self._damage}" if self._damage else "absent"

    def verify(self, presented: str) -> bool:
        """True if ``presented`` is the current admin secret (constant-time comparison).
        False when none is configured or the file is damaged: the same answer as wrong."""
        stored = self._current()
        given = _digest(presented)
        return hmac.compare_digest(given, stored if stored is not None else "0" * 64) \
            and stored is not None

    def _current(self) -> str | None:
        sig = file_sig(self.path)
        if sig != self._sig:
            self._digest, self._damage = None, None
            if sig is not None:
                try:
                    digest = json.loads(self.path.read_bytes())["sha256"]
                    if not (isinstance(digest, str) and len(digest) == 64):
                        raise ValueError("no SHA-256 digest")
                    self._digest = digest
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    self._damage = f"{self.path} cannot be read ({type(exc).__name__}: {exc})"
                    # Said once per version of the file; a caller only sees a 403.
                    log.warning("the admin secret's record %s; the admin API accepts no "
                                "secret until `behest-local admin-secret --rotate` replaces "
                                "it", self._damage)
            self._sig = sig
        return self._digest

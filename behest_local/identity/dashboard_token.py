"""The dashboard token: the credential of the management API (``$DASHBOARD_JWT`` in the guide).

``behest-local dashboard-token`` makes a new random token, prints it once and stores only its
SHA-256 in ``<state dir>/dashboard.json`` (0600, written atomically); the previous token
stops working. The management routes call :meth:`DashboardTokens.verify`, which re-reads
the file only when it changed, so a token made while the gateway runs works at once. A
256-bit random token needs no slow hash: nothing short of the token itself matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timezone
from pathlib import Path

from behest_local.atomic import Signature, atomic_write, file_sig
from behest_local.home import private_dir

DASHBOARD_FILE = "dashboard.json"
TOKEN_PREFIX = "behest_dash_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DashboardTokens:
    """The one valid dashboard token of a state dir, by its hash."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / DASHBOARD_FILE
        self._sig: Signature | None = None
        self._digest: str | None = None

    def create(self) -> str:
        """A new token (returned once); the previous one is replaced."""
        private_dir(self.path.parent)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        atomic_write(self.path, json.dumps({"version": 1, "sha256": _digest(token),
                                            "created_at": created}).encode())
        return token

    def exists(self) -> bool:
        return self._current() is not None

    def verify(self, token: str) -> bool:
        """True if ``token`` is the current dashboard token (constant-time comparison)."""
        stored = self._current()
        return stored is not None and hmac.compare_digest(_digest(token), stored)

    def _current(self) -> str | None:
        sig = file_sig(self.path)
        if sig != self._sig:
            try:
                self._digest = json.loads(self.path.read_bytes())["sha256"]
            except (OSError, ValueError, KeyError, TypeError):
                self._digest = None  # absent or damaged: no token is valid
            self._sig = sig
        return self._digest

"""Tenant signing keys: the public halves of the RS256 keys apps sign their own JWTs with.

Behest's dashboard makes a signing key (Settings → Signing Keys → Generate), shows the
PKCS#8 PEM once, and publishes the public half under its ``kid`` at
``/.well-known/jwks.json``; the SDKs' sign mode then mints tokens locally with no HTTP
call (reference/behest-api.md §1.7, §2.1, §2.4). Here ``behest-local signing-keys
create|list|revoke`` (``cli/signing_keys_cmd.py``) plays the dashboard and this module owns
``<state dir>/signing_keys.json`` (0600)::

    {"version": 1, "keys": [{"kid": "sk_<16 hex>", "tenant": "local", "project": "local",
      "public_key_pem": "-----BEGIN PUBLIC KEY-----…", "created_at": "…Z",
      "revoked_at": null}]}

The private half is returned once by :meth:`SigningKeyStore.create` (as a ``Secret``) and
written nowhere. Kids start ``sk_`` because the legacy v1.x signing helpers insist on it.

Revocation applies at once, in every process: :meth:`SigningKeyStore.lookup` (the data
plane's call, once per tenant-signed token) compares the file's signature
(``atomic.file_sig``, one ``stat``) with the one it loaded and re-reads on a change. A
file watcher would leave a window of its debounce; the stat leaves none, and costs less
than the RSA verification it precedes. Writes are serialised across processes by a lock
file and replace the file atomically (``atomic.py``), as ``api_keys.py`` does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from behest_local.atomic import Signature, atomic_write, file_sig, locked
from behest_local.identity import jwk
from behest_local.secret import Secret

# PyJWT and cryptography are imported in the functions that use them: loading them
# costs the gateway's start tens of milliseconds, and most runs never touch a JWT.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

SIGNING_KEYS_FILE = "signing_keys.json"
KID_PREFIX = "sk_"
FORMAT_VERSION = 1
_log = logging.getLogger(__name__)


class SigningKeyError(Exception):
    """The registry file is unreadable, or a request to it cannot be honoured."""


class SigningKeyNotFound(SigningKeyError):
    """No signing key has the kid given to ``revoke``."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One registered key: its public half and whom it may sign for."""

    kid: str
    tenant: str
    project: str
    created_at: str
    revoked_at: str | None
    public_key: rsa.RSAPublicKey

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:
        return (f"SigningKey(kid={self.kid!r}, tenant={self.tenant!r}, project={self.project!r}, "
                f"revoked={self.revoked})")


class SigningKeyStore:
    """The registry file plus its parsed keys. Cheap to consult; see the module docstring."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / SIGNING_KEYS_FILE
        self._lock_path = self.home / (SIGNING_KEYS_FILE + ".lock")
        self._sig: Signature | None = None
        self._keys: dict[str, SigningKey] = {}
        self._reload_quietly()

    def _read(self) -> list[dict]:
        try:
            doc = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise SigningKeyError(f"{self.path}: not a signing-key file ({exc})") from None
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION or \
                not isinstance(doc.get("keys"), list):
            raise SigningKeyError(f"{self.path}: not a version {FORMAT_VERSION} signing-key file")
        return doc["keys"]

    def _apply(self, entries: list[dict], sig: Signature | None) -> None:
        keys: dict[str, SigningKey] = {}
        for e in entries:
            try:
                keys[e["kid"]] = SigningKey(e["kid"], e["tenant"], e["project"], e["created_at"],
                                            e["revoked_at"], jwk.load_public(e["public_key_pem"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise SigningKeyError(f"{self.path}: malformed entry ({exc!r})") from None
        self._keys, self._sig = keys, sig

    def reload(self) -> bool:
        """Re-read the file if it changed. Raises SigningKeyError (state kept) if it is bad."""
        sig = file_sig(self.path)
        if sig == self._sig:
            return False
        self._apply(self._read(), sig)
        return True

    def _reload_quietly(self) -> None:
        try:
            self.reload()
        except (SigningKeyError, OSError) as exc:
            _log.warning("keeping the previous signing keys: %s", exc)

    @contextmanager
    def _locked(self) -> Iterator[list[dict]]:
        with locked(self._lock_path):
            entries = self._read()
            yield entries
            atomic_write(self.path, json.dumps({"version": FORMAT_VERSION, "keys": entries},
                                               indent=2).encode() + b"\n")
            self._apply(entries, file_sig(self.path))

    def create(self, tenant: str, project: str) -> tuple[Secret, SigningKey]:
        """Make a key pair for ``project`` of ``tenant`` and register its public half.
        Returns the PKCS#8 PEM private key (shown once, stored nowhere) and the record."""
        if not tenant or not project:
            raise SigningKeyError("a signing key needs a tenant and a project")
        private = jwk.generate()
        kid = jwk.new_kid(KID_PREFIX)
        entry = {"kid": kid, "tenant": tenant, "project": project,
                 "public_key_pem": jwk.public_pem(private.public_key()),
                 "created_at": _now(), "revoked_at": None}
        with self._locked() as entries:
            entries.append(entry)
        return jwk.private_pem(private), self._keys[kid]

    def list(self, project: str | None = None, *,
             include_revoked: bool = False) -> list[SigningKey]:
        """Keys in creation order, optionally of one project; active ones unless asked."""
        self._reload_quietly()
        return [k for k in self._keys.values()
                if (project is None or k.project == project) and (include_revoked or not k.revoked)]

    def revoke(self, kid: str) -> SigningKey:
        """Revoke ``kid`` (idempotent): its tokens fail at their next use, in every process.

        Raises:
            SigningKeyNotFound: no such kid; the message lists the known ones.
        """
        with self._locked() as entries:
            match = next((e for e in entries if e["kid"] == kid), None)
            if match is None:
                known = ", ".join(f"{e['kid']} ({e['project']})" for e in entries[-20:])
                raise SigningKeyNotFound(f"{kid!r} matches no signing key; known: "
                                         f"{known or '(none)'}")
            if match["revoked_at"] is None:
                match["revoked_at"] = _now()
        return self._keys[kid]

    def lookup(self, kid: str) -> SigningKey | None:
        """The key registered as ``kid`` (revoked ones included: the caller says why it
        refuses), as the file says right now."""
        self._reload_quietly()
        return self._keys.get(kid)

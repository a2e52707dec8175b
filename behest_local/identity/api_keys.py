"""Project API keys: issue, list, revoke and verify, storing only hashes.

Owns ``<state dir>/keys.json``, the one place a local project key is known to exist. The
CLI (``behest-local keys create|list|revoke``) calls :meth:`KeyStore.create`, ``list`` and
``revoke``; the auth middleware asks :meth:`KeyStore.cached` (a SHA-256 and a dict lookup)
for a credential it has not cached since the index last changed (``generation``) and, the
first time a key is seen, runs :meth:`KeyStore.verify` (the slow hash, ~70 ms) in a worker
thread; the runtime's file watcher follows it (:meth:`KeyStore.follow`) so changes made by
another process apply within ~100 ms.

Keys look like Behest's: ``behest_sk_live_`` + 32 lowercase hex (legacy v1.x ``bh_live_`` keys
are accepted when presented, and issued only with ``legacy=True``). Like Behest, a record keeps
a SHA-256 ``lookup`` digest as its index and a slow ``hash`` (scrypt here, Argon2id there) for
the actual check; the plaintext is returned once by ``create`` and never written anywhere.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from behest_local.atomic import Signature, atomic_write, file_sig, locked
from behest_local.file_watch import FileWatch
from behest_local.home import private_dir

KEY_PREFIX = "behest_sk_live_"
LEGACY_KEY_PREFIX = "bh_live_"
KEYS_FILE = "keys.json"
FORMAT_VERSION = 1
_PREFIX_LEN = 20  # "behest_sk_live_" + 5 hex: enough to recognise, far too little to guess
_KEY_RE = re.compile(r"(?:behest_sk_live_|bh_live_)[0-9a-f]{32}")
_log = logging.getLogger(__name__)


class KeyStoreError(Exception):
    """The key file is unreadable, or a request to the store cannot be honoured."""


class KeyNotFound(KeyStoreError):
    """No key (or more than one) matches the id or prefix given to ``revoke``."""


def is_key_format(s: object) -> bool:
    """True if ``s`` is shaped like a project key (current or legacy); says nothing of validity."""
    return isinstance(s, str) and _KEY_RE.fullmatch(s) is not None


def hash_key(key: str, *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """The slow hash of ``key``: ``scrypt$n$r$p$salt$digest`` (cost travels with the hash)."""
    salt = os.urandom(16)
    digest = _scrypt(key, salt, n, r, p)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_key(key: str, encoded: str) -> bool:
    """Constant-time check of ``key`` against a :func:`hash_key` string. The slow step: the
    store calls it through this module global, so tests can count calls by monkeypatching."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        derived = _scrypt(key, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, base64.b64decode(digest))
    except (ValueError, TypeError, OverflowError):  # a malformed hash, a cost OpenSSL refuses
        return False


def _scrypt(key: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # The standard library's scrypt (OpenSSL's; it releases the GIL), not cryptography's:
    # the same function, and the gateway does not load cryptography's ~7 MiB library for
    # it (issue 25: idle RSS). maxmem: what this cost needs (128·r·(n+p) bytes) and a
    # margin; OpenSSL's default of 32 MiB would refuse n = 2**15.
    return hashlib.scrypt(key.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=128 * r * (n + p + 2) + (1 << 20))


def _lookup(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _match(entries: list[dict], ident: str) -> list[dict]:
    if is_key_format(ident):
        return [e for e in entries if e["lookup"] == _lookup(ident)]
    by_id = [e for e in entries if e["id"] == ident]
    stem, _, last4 = ident.partition("…")
    stem, last4 = stem.rstrip("."), last4.strip(".")
    if by_id or len(stem) > _PREFIX_LEN or not any(
        stem.startswith(t) and len(stem) > len(t) for t in (KEY_PREFIX, LEGACY_KEY_PREFIX)
    ):  # a bare "behest_sk_live_" never matches
        return by_id
    return [e for e in entries if e["prefix"].startswith(stem) and e["last4"].endswith(last4)]


@dataclass(frozen=True)
class KeyRecord:
    """One issued key, as stored minus its slow hash. Never holds the key itself."""

    id: str
    project: str
    prefix: str
    last4: str
    created_at: str
    revoked_at: str | None
    lookup: str

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:  # no lookup digest (and no hash to show): safe for logs and the TUI
        return (f"KeyRecord(id={self.id!r}, project={self.project!r}, prefix={self.prefix!r}, "
                f"created_at={self.created_at!r}, revoked={self.revoked})")


class KeyStore:
    """The key file plus an in-memory index of it. One per process; see the module docstring.

    Thread safety: ``verify`` may run in a worker thread (the slow hash releases the GIL)
    while the event loop reloads, creates or revokes. ``_lock`` guards replacing the index
    (``_apply``) and reading it together; the slow hash itself runs outside the lock. The
    dicts are only ever replaced whole or given one key at a time, so ``cached`` reads
    ``_verified`` without the lock.
    """

    def __init__(self, home: Path, *, scrypt_n: int = 2**14) -> None:
        self.home = Path(home)
        self.path = self.home / KEYS_FILE
        self._lock_path = self.home / (KEYS_FILE + ".lock")
        self._scrypt_n = scrypt_n
        self._sig: Signature | None = None  # signature of the file as last loaded
        self._records: dict[str, KeyRecord] = {}  # lookup -> record, file order
        self._hashes: dict[str, str] = {}  # lookup -> slow hash
        self._verified: dict[str, KeyRecord] = {}  # lookup -> record whose slow hash passed
        self.generation = 0
        """Bumped each time the index is replaced (reload, create, revoke): a cache of what
        ``cached`` answered (``server/auth.PrincipalCache``) is valid for one generation."""
        self._lock = threading.RLock()  # reentrant: verify holds it across a reload
        self.reload()

    def __getstate__(self) -> dict:  # a store pickles (to a worker process) without its lock
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _stat(self) -> Signature | None:
        return file_sig(self.path)

    def _read(self) -> list[dict]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            doc = json.loads(raw)
            version, entries = doc["version"], doc["keys"]
        except (ValueError, TypeError, KeyError) as exc:
            raise KeyStoreError(f"{self.path}: not a key file ({exc})") from None
        if version != FORMAT_VERSION:
            raise KeyStoreError(f"{self.path}: format version {version!r}, expected {FORMAT_VERSION}")
        return entries

    def _apply(self, entries: list[dict], sig: Signature | None) -> None:
        records, hashes = {}, {}  # lookup -> KeyRecord, lookup -> slow hash
        try:
            for e in entries:
                rec = KeyRecord(e["id"], e["project"], e["prefix"], e["last4"], e["created_at"],
                                e["revoked_at"], e["lookup"])
                if not isinstance(e["hash"], str) or not isinstance(rec.lookup, str):
                    raise TypeError(f"bad hash or lookup in {rec.id}")
                records[rec.lookup], hashes[rec.lookup] = rec, e["hash"]
        except (KeyError, TypeError) as exc:
            raise KeyStoreError(f"{self.path}: malformed key record ({exc!r})") from None
        with self._lock:
            # Reconcile the verification cache: keep a hit only while the key is active and
            # its hash unchanged, and hand out the fresh record so a revocation is seen at once.
            self._verified = {lk: records[lk] for lk in self._verified if lk in records
                              and not records[lk].revoked and hashes[lk] == self._hashes.get(lk)}
            self._records, self._hashes, self._sig = records, hashes, sig
            self.generation += 1  # after _verified: a reader that sees it sees the new index

    def reload(self) -> bool:
        """Re-read the key file if its signature (:func:`atomic.file_sig`) changed. True if it had.

        Raises:
            KeyStoreError: the file exists but is not a valid key file (state is unchanged).
        """
        with self._lock:
            sig = self._stat()
            if sig == self._sig:
                return False
            self._apply(self._read(), sig)
            return True

    def _reload_quietly(self) -> bool:
        try:
            return self.reload()
        except (KeyStoreError, OSError) as exc:  # keep the last good state on a bad edit
            _log.warning("keeping previous keys: %s", exc)
            return False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[dict]]:
        """Exclusive read-modify-write across processes: yields the file's entries to mutate."""
        with locked(self._lock_path):
            entries = self._read()
            yield entries
            atomic_write(self.path, json.dumps({"version": FORMAT_VERSION, "keys": entries},
                                               indent=2).encode() + b"\n")
            self._apply(entries, self._stat())

    def create(self, project: str, *, legacy: bool = False) -> tuple[str, KeyRecord]:
        """Issue a new key for ``project``. Returns ``(plaintext, record)``; the plaintext is
        shown this once and cannot be recovered. ``legacy=True`` issues a v1.x ``bh_live_`` key."""
        key = (LEGACY_KEY_PREFIX if legacy else KEY_PREFIX) + uuid.uuid4().hex
        return key, self.import_key(key, project, legacy=legacy)

    def import_key(self, key: str, project: str, *, legacy: bool = False) -> KeyRecord:
        """Store an existing plaintext key (a migration demo's ``bh_live_`` key, say).

        Raises:
            ValueError: bad format, legacy key without ``legacy=True``, empty project, duplicate.
        """
        if not is_key_format(key) or (key.startswith(LEGACY_KEY_PREFIX) and not legacy):
            raise ValueError(f"not a {KEY_PREFIX}<32 hex> key "
                             f"({LEGACY_KEY_PREFIX} keys need legacy=True)")
        if not isinstance(project, str) or not project.strip():
            raise ValueError("project must be a non-empty string")
        entry = {"id": "key_" + secrets.token_hex(6), "project": project.strip(),
                 "prefix": key[:_PREFIX_LEN], "last4": key[-4:], "created_at": _now(),
                 "revoked_at": None, "lookup": _lookup(key), "hash": hash_key(key, n=self._scrypt_n)}
        with self._locked() as entries:
            if any(e["lookup"] == entry["lookup"] for e in entries):
                raise ValueError("this key is already stored")
            entries.append(entry)
        return self._records[entry["lookup"]]

    def list(self, project: str | None = None, *, include_revoked: bool = False) -> list[KeyRecord]:
        """Keys in creation order, optionally for one project; active ones unless asked."""
        self._reload_quietly()
        return [r for r in self._records.values()
                if (project is None or r.project == project) and (include_revoked or not r.revoked)]

    def revoke(self, ident: str) -> KeyRecord:
        """Revoke by record id, by the full key, or by prefix as ``keys list`` prints it
        (``behest_sk_live_3f9a2``, ``…`` and ``…last4`` optional; unique match). Idempotent.

        Raises:
            KeyNotFound: no key, or more than one, matches; the message names the candidates.
        """
        with self._locked() as entries:
            matches = _match(entries, ident)
            if len(matches) != 1:
                known = ", ".join(f"{e['id']} ({e['prefix']}…{e['last4']}, {e['project']})"
                                  for e in (matches or entries[-20:]))
                what = "is ambiguous between" if matches else "matches no key; known keys:"
                raise KeyNotFound(f"{ident!r} {what} {known or '(none)'}")
            if matches[0]["revoked_at"] is None:
                matches[0]["revoked_at"] = _now()
        return self._records[matches[0]["lookup"]]

    def cached(self, presented: str) -> KeyRecord | None:
        """The active record for ``presented`` if this process has verified it before, else
        None (not a key, unknown, revoked, or not checked yet: ask :meth:`verify`). One
        SHA-256 and a dict lookup, never the slow hash: safe on the event loop."""
        return self._verified.get(_lookup(presented))

    def verify(self, presented: str) -> KeyRecord | None:
        """The active record for ``presented``, or None. A cache hit costs one SHA-256 and a dict
        lookup; the slow hash runs once per key per process (~70 ms: call it from a worker
        thread, see :meth:`cached`). A lookup miss re-reads the file only if it changed, so
        keys created by another process work at once."""
        if not is_key_format(presented):
            return None
        lookup = _lookup(presented)
        hit = self._verified.get(lookup)
        if hit is not None:
            return hit  # the cache only ever holds active records (see _apply)
        with self._lock:
            rec = self._records.get(lookup)
            if rec is None and self._reload_quietly():
                rec = self._records.get(lookup)
            if rec is None or rec.revoked:
                return None
            encoded = self._hashes[lookup]
        if not check_key(presented, encoded):  # the slow step, outside the lock
            return None
        with self._lock:
            # The index may have been reloaded meanwhile: cache only what is still active
            # under the same hash, so a revocation made during the check is not undone.
            rec = self._records.get(lookup)
            if rec is None or rec.revoked or self._hashes.get(lookup) != encoded:
                return None
            self._verified[lookup] = rec
            return rec

    def follow(self, watch: FileWatch) -> None:
        """Reload whenever the key file changes while ``watch`` runs.

        Follows the directory: the file may not exist yet, and each write replaces its
        inode. The 1 s tick re-checks the file's signature as well, in case an event came
        too early."""
        private_dir(self.home)
        self._reload_quietly()
        watch.follow(self.home, [KEYS_FILE], self._reload_quietly, tick=True, label="API keys")


"""The provider-key vault: BYOK keys sealed at rest in ``<state dir>/vault.json``.

The CLI (``behest-local vault set|list|remove|rekey``) writes it; the gateway opens it once,
follows vault.json with the runtime's file watcher (:meth:`Vault.follow`) so changes made by
another process apply without a restart, and calls
:meth:`Vault.get` per upstream request: the key is decrypted then, returned as a
:class:`~behest_local.secret.Secret`, and never cached in plaintext. Format and cryptography
are in :mod:`behest_local.vault.crypto`; files are written with :mod:`behest_local.atomic`.

Files in the state dir: ``vault.json`` (0600), its lock ``vault.json.lock``, and in key-file
mode ``vault.key`` (0600: 32 random bytes that unlock the vault). ``vault.key.new`` exists only
while a rekey to a new key file is in flight, and may be the live key after a crash: never
delete it by hand. The crash windows, all safe (the data key never changes, and every state
the files can be left in is readable with the old or the new credential):

* rekey to a passphrase: (1) write vault.json wrapped under the passphrase, then (2) delete
  vault.key. Crash before (1) completes: old vault.json and vault.key, old credential works.
  Between (1) and (2): the passphrase works; the stale vault.key stays (open warns about it;
  delete it, or rekey again). Only rekey deletes vault.key: it may open a backup.
* rekey to a (new) key file: (1) write vault.key.new, (2) write vault.json naming its
  ``kek_id``, (3) rename vault.key.new over vault.key. Before (2): old files, old credential
  works; the orphan is deleted by the next write. Between (2) and (3): readers find the key in
  vault.key.new by its id; the next write promotes it. Passphrase to passphrase is one write.
* every write is temp + fsync + rename + dir fsync: a crash mid-write leaves the old
  vault.json and a stray ``.vault.*.tmp`` (ciphertext or an unused key; the next write deletes
  it). Temp files never hold a plaintext provider key.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from behest_local.atomic import Signature, atomic_write, file_sig, fsync_dir, locked
from behest_local.file_watch import FileWatch
from behest_local.home import POSIX_MODES, private_dir
from behest_local.secret import Secret
from behest_local.vault.entries import VAULT_FILE, VaultEntry, entries_of, read_doc
from behest_local.vault.key_formats import normalize_provider, validate_provider_key
from behest_local.vault.crypto import (DEFAULT_SCRYPT_N, FORMAT_VERSION, PASSPHRASE_ENV, BadKeyFormat, VaultError, VaultLocked, VaultTampered, WrongPassphrase, derive_kek, dump_doc, kek_id, key_file_bytes, keyfile_kdf, open_blob, open_secret, parse_key_file, scrypt_kdf, seal_blob, seal_secret, unwrap_data_key, wrap_data_key)

__all__ = ["Vault", "VaultError", "WrongPassphrase", "VaultTampered", "VaultLocked", "BadKeyFormat",
           "KEY_FILE", "PASSPHRASE_ENV", "DEFAULT_SCRYPT_N", "MIN_PASSPHRASE"]

KEY_FILE, NEW_KEY_FILE = "vault.key", "vault.key.new"
MIN_PASSPHRASE = 8
_log = logging.getLogger(__name__)


def _check_new_passphrase(passphrase: Secret) -> None:
    if len(passphrase.reveal()) < MIN_PASSPHRASE:
        raise VaultError(f"a vault passphrase needs at least {MIN_PASSPHRASE} characters")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class _Txn:
    doc: dict
    data_key: bytes
    dirty: bool = True
    drop_key_file: bool = False  # rekey to a passphrase: vault.key goes once vault.json is safe


class Vault:
    """An unlocked vault: holds the data key (never a provider key). Use :meth:`open`."""

    def __init__(self, home: Path, passphrase: Secret | None, scrypt_n: int) -> None:
        self.home = Path(home)
        self.path = self.home / VAULT_FILE
        self.key_path = self.home / KEY_FILE
        self._lock_path = self.home / (VAULT_FILE + ".lock")
        self._passphrase = passphrase
        self._scrypt_n = scrypt_n
        self._state: tuple[dict | None, bytes] = (None, b"")  # (doc, data key), swapped whole
        self._sig: Signature | None = None
        self.created = False  # True if open() created the vault
        self.changed_at = 0.0  # time.time() when this object last applied a change; for UIs
        self._warned = False

    @classmethod
    def open(cls, home: Path, *, passphrase: str | Secret | None = None,
             scrypt_n: int = DEFAULT_SCRYPT_N) -> Vault:
        """Unlock the vault in ``home``, creating it if absent (sealed with a new key file, or
        with the passphrase if one is given or in ``BEHEST_VAULT_PASSPHRASE``). ``scrypt_n`` is
        the cost for new passphrase seals; an existing vault's cost is read from it.

        Raises:
            VaultLocked: sealed with a passphrase and none given. WrongPassphrase.
            VaultTampered: modified outside behest-local. VaultError: key file missing, etc.
            A failing open writes nothing.
        """
        if passphrase is None:
            passphrase = os.environ.get(PASSPHRASE_ENV) or None
        self = cls(Path(home), None if passphrase is None else Secret(passphrase), scrypt_n)
        private_dir(self.home)
        with locked(self._lock_path, shared=True):
            doc, sig = read_doc(self.path)
            data_key = self._unlock(doc) if doc is not None else b""
        if doc is None:
            with locked(self._lock_path):
                doc, sig = read_doc(self.path)  # another process may have won the race
                if doc is None:
                    doc, data_key = self._create()
                    sig, self.created = file_sig(self.path), True
                else:
                    data_key = self._unlock(doc)
        self._apply(doc, data_key, sig)
        return self

    # -- the credential ----------------------------------------------------------------------

    def _unlock(self, doc: dict) -> bytes:
        """The data key of ``doc``, using the key file or the passphrase its kdf names."""
        kdf = doc["kdf"]
        if kdf["type"] == "keyfile":
            kek = self._find_key(kdf["kek_id"])
            if kek is None:
                raise VaultError(f"{self.path} is sealed with a key file, but {self.key_path} is "
                                 "missing or belongs to another vault: restore it from a backup")
            if self._passphrase is not None and not self._warned:
                self._warned = True
                _log.warning("%s is sealed with %s; the passphrase (%s) is not used. To seal it "
                             "with the passphrase: behest-local vault rekey", self.path,
                             self.key_path.name, PASSPHRASE_ENV)
        elif self._passphrase is None:
            raise VaultLocked(f"{self.path} is sealed with a passphrase: set {PASSPHRASE_ENV}")
        else:
            kek = derive_kek(self._passphrase.reveal(), kdf)
            if not hmac.compare_digest(kek_id(kek), kdf["kek_id"]):
                raise WrongPassphrase()
            if self.key_path.exists() and not self._warned:
                self._warned = True
                _log.warning("%s is not used: %s is sealed with the passphrase. Delete it unless "
                             "an older copy of %s needs it", self.key_path, self.path.name,
                             self.path.name)
        return unwrap_data_key(kek, doc)

    def _find_key(self, wanted: str) -> bytes | None:
        for path in (self.key_path, self.home / NEW_KEY_FILE):  # .new: a rekey was interrupted
            try:
                kek = parse_key_file(path.read_bytes())
            except FileNotFoundError:
                continue
            if kek is not None and hmac.compare_digest(kek_id(kek), wanted):
                if POSIX_MODES and stat.S_IMODE(path.stat().st_mode) & 0o077:
                    _log.warning("%s is readable by other users: chmod 600 it", path)
                return kek
        return None

    def _create(self) -> tuple[dict, bytes]:
        """A new empty vault, written (caller holds the exclusive lock)."""
        if self._passphrase is not None:
            _check_new_passphrase(self._passphrase)
            kdf, kek = scrypt_kdf(self._passphrase.reveal(), self._scrypt_n)
        else:
            kek = None
            with contextlib.suppress(FileNotFoundError):  # reuse a key file that survived
                kek = parse_key_file(self.key_path.read_bytes())
                if kek is None:
                    raise VaultError(f"{self.key_path} is not a vault key file: move it away")
            if kek is None:
                kek = os.urandom(32)
                atomic_write(self.key_path, key_file_bytes(kek))
            kdf = keyfile_kdf(kek)
        doc = {"version": FORMAT_VERSION, "vault_id": "vlt_" + secrets.token_hex(16), "kdf": kdf,
               "wrapped_data_key": {}, "secrets": {}}
        data_key = os.urandom(32)
        doc["wrapped_data_key"] = wrap_data_key(kek, data_key, doc)
        atomic_write(self.path, dump_doc(doc))
        return doc, data_key

    # -- state -------------------------------------------------------------------------------

    @property
    def _doc(self) -> dict | None:
        return self._state[0]

    @property
    def _data_key(self) -> bytes:
        return self._state[1]

    def _apply(self, doc: dict | None, data_key: bytes, sig: Signature | None) -> None:
        self._state, self._sig = (doc, data_key), sig
        self.changed_at = time.time()

    def reload(self) -> bool:
        """Re-read vault.json if it changed on disk. True if it had.

        Raises:
            VaultError: the new file is unreadable or cannot be unlocked (state is unchanged).
        """
        if file_sig(self.path) == self._sig:
            return False
        doc, sig = read_doc(self.path)
        if doc is None or self._doc is None or doc["vault_id"] != self._doc["vault_id"]:
            # Removed or replaced by a different vault: unlock it afresh (consistently with
            # the key files, so under the shared lock).
            with locked(self._lock_path, shared=True):
                doc, sig = read_doc(self.path)
                data_key = self._unlock(doc) if doc is not None else self._data_key
        else:  # same vault: same data key (rekey never changes it), and the secrets carry MACs
            data_key = self._data_key
        self._apply(doc, data_key, sig)
        return True

    def _reload_quietly(self) -> None:
        try:
            self.reload()
        except (VaultError, OSError) as exc:  # keep the last good state on a bad edit
            _log.warning("keeping the previous vault state: %s", exc)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_Txn]:
        """Exclusive read-modify-write of vault.json; yields the file's current state."""
        with locked(self._lock_path):
            doc, _ = read_doc(self.path)
            if doc is None:  # removed since we opened it: start afresh
                doc, data_key = self._create()
            elif self._doc is not None and doc["vault_id"] == self._doc["vault_id"]:
                data_key = self._data_key
            else:
                data_key = self._unlock(doc)
            txn = _Txn(doc, data_key)
            yield txn
            if txn.dirty:
                atomic_write(self.path, dump_doc(txn.doc))
                self._tidy(txn.doc, drop_key_file=txn.drop_key_file)
            self._apply(txn.doc, txn.data_key, file_sig(self.path))

    def _tidy(self, doc: dict, *, drop_key_file: bool) -> None:
        """Finish an interrupted rekey to a key file, drop orphans and stray temp files, and
        (``drop_key_file``) the key file a passphrase replaces. Caller holds the exclusive
        lock, and ``doc`` is durably on disk."""
        new = self.home / NEW_KEY_FILE
        changed = False
        if doc["kdf"]["type"] == "keyfile":
            with contextlib.suppress(FileNotFoundError):
                kek = parse_key_file(new.read_bytes())
                if kek is not None and hmac.compare_digest(kek_id(kek), doc["kdf"]["kek_id"]):
                    os.replace(new, self.key_path)  # the live key: promote it
                else:
                    os.unlink(new)  # an orphan from a rekey that never switched
                changed = True
        else:  # sealed with a passphrase. vault.key is kept unless rekey retires it: it
            # may be all that opens a backup of an older vault.json
            for path in (new, self.key_path) if drop_key_file else (new,):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    changed = True
        for tmp in self.home.glob(".vault.*.tmp"):  # writers hold the lock: these are strays
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
                changed = True
        if changed:
            fsync_dir(self.home)

    # -- the API -----------------------------------------------------------------------------

    @property
    def mode(self) -> str | None:
        """``"keyfile"`` or ``"passphrase"``; None if vault.json was removed since."""
        return None if self._doc is None else (
            "keyfile" if self._doc["kdf"]["type"] == "keyfile" else "passphrase")

    def set(self, provider: str, key: Secret | str) -> None:
        """Store (or replace) ``provider``'s key, after :func:`validate_provider_key`."""
        provider = normalize_provider(provider)
        secret = Secret(key)
        validate_provider_key(provider, secret)
        with self._transaction() as txn:
            txn.doc["secrets"][provider] = seal_secret(txn.data_key, txn.doc, provider,
                                                       secret.reveal(), secret.last4, _now())

    def get(self, provider: str, *, reload: bool = True) -> Secret | None:
        """``provider``'s key, decrypted now (not cached), or None if none is stored.

        ``reload=False`` skips the check for changes on disk, for a caller that knows
        the file did not change (the gateway's hot path: ``ProviderKeyIndex.generation``).

        Raises:
            VaultTampered: the stored ciphertext (or what it is bound to) was modified.
        """
        provider = normalize_provider(provider)
        if reload:
            self._reload_quietly()
        doc, data_key = self._state
        if doc is None or provider not in doc["secrets"]:
            return None
        return Secret(open_secret(data_key, doc, provider))

    def list(self) -> list[VaultEntry]:
        """Stored keys' metadata, by provider name."""
        self._reload_quietly()
        return entries_of(self._doc)

    def damaged(self) -> list[str]:
        """Providers whose stored key fails its integrity check (``vault list``): each key
        is decrypted to check it and dropped at once, as ``get`` would."""
        self._reload_quietly()
        doc, data_key = self._state
        failing = []
        for entry in entries_of(doc):
            try:
                open_secret(data_key, doc, entry.provider)
            except VaultTampered:
                failing.append(entry.provider)
        return failing

    def remove(self, provider: str) -> bool:
        """Forget ``provider``'s key. True if there was one."""
        provider = normalize_provider(provider)
        with self._transaction() as txn:
            txn.dirty = txn.doc["secrets"].pop(provider, None) is not None
        return txn.dirty

    def rekey(self, *, new_passphrase: str | Secret | None) -> None:
        """Re-seal the data key with ``new_passphrase``, or with a new key file if None. The
        secrets are not re-encrypted. See the module docstring for the crash windows."""
        passphrase = None if new_passphrase is None else Secret(new_passphrase)
        if passphrase is not None:
            _check_new_passphrase(passphrase)
        with self._transaction() as txn:
            if passphrase is None:
                kek = os.urandom(32)
                atomic_write(self.home / NEW_KEY_FILE, key_file_bytes(kek))  # durable, unused
                txn.doc["kdf"] = keyfile_kdf(kek)
            else:
                txn.doc["kdf"], kek = scrypt_kdf(passphrase.reveal(), self._scrypt_n)
                txn.drop_key_file = True
            txn.doc["wrapped_data_key"] = wrap_data_key(kek, txn.data_key, txn.doc)
        self._passphrase = passphrase  # the transaction wrote vault.json, then _tidy'd

    def seal(self, purpose: str, plaintext: bytes) -> dict:
        """Seal bytes that live in another file (the platform JWT signing key) with the data
        key, bound to this vault and ``purpose``. Rekeying never invalidates the result."""
        self._reload_quietly()
        doc, data_key = self._state
        if doc is None:
            raise VaultError(f"{self.path} was removed: reopen the vault")
        return seal_blob(data_key, doc, purpose, plaintext)

    def unseal(self, purpose: str, sealed: dict) -> bytes:
        """Open a :meth:`seal` result. Raises VaultError if another vault sealed it,
        VaultTampered if it (or its purpose) was modified."""
        self._reload_quietly()
        doc, data_key = self._state
        if not isinstance(sealed, dict) or not isinstance(sealed.get("vault_id"), str):
            raise VaultTampered("a value sealed by the vault")
        if doc is None or sealed["vault_id"] != doc["vault_id"]:
            raise VaultError(f"sealed by another vault than {self.path} (it was replaced)")
        return open_blob(data_key, doc, purpose, sealed)

    def follow(self, watch: FileWatch) -> None:
        """Reload whenever vault.json changes while ``watch`` runs; a 1 s tick re-checks
        too, in case an event came early."""
        self._reload_quietly()
        watch.follow(self.home, [VAULT_FILE], self._reload_quietly, tick=True, label="vault")

    def __repr__(self) -> str:
        providers = [e.provider for e in entries_of(self._doc)]
        return f"Vault(path={str(self.path)!r}, mode={self.mode!r}, providers={providers!r})"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Vault holds its data key and cannot be pickled: open it in each process")

"""The vault's file format and cryptography: parse, seal and open. No I/O, no locking.

``vault.json``::

    {"version": 1,
     "vault_id": "vlt_<32 hex>",
     "kdf": {"type": "keyfile", "kek_id": "<32 hex>"}
         or {"type": "scrypt", "salt": "<b64>", "n": 32768, "r": 8, "p": 1, "kek_id": "<32 hex>"},
     "wrapped_data_key": {"nonce": "<b64>", "ciphertext": "<b64>"},
     "secrets": {"openai": {"nonce": "<b64>", "ciphertext": "<b64>", "last4": "abcd",
                            "added_at": "2025-01-01T00:00:00Z"}}}

* A random 32-byte **data key** seals every secret with AES-256-GCM. Each secret's associated
  data binds it to the format version, the vault id, its provider name, ``last4`` and
  ``added_at``: a ciphertext moved to another provider, or into another vault, fails to open.
* A **key-encryption key** (KEK) wraps the data key with AES-256-GCM whose associated data is
  the canonical JSON of the header (version, vault id, kdf block): editing any header field
  makes the unwrap fail. The KEK is the 32 random bytes of ``vault.key`` (``keyfile``) or
  scrypt(passphrase, salt, n, r, p) (``scrypt``). ``kek_id`` (an HMAC of the KEK, inside the
  authenticated kdf block) tells "wrong passphrase / wrong key file" apart from "tampered".
* ``rekey`` re-wraps the data key only, so the secrets never need re-encrypting.

Limits, by design: an edited scrypt salt or cost reads as a wrong passphrase (the KEK changes
either way); entries deleted from the file, or the whole file rolled back to an older copy, go
unnoticed (there is no MAC over the set of entries); ``last4``/``added_at`` are checked when
the secret is opened, not when listed; and since rekey keeps the data key, an old copy of
vault.json plus the credential it was sealed with still opens today's secrets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from pathlib import Path
from typing import Any


FORMAT_VERSION = 1
PASSPHRASE_ENV = "BEHEST_VAULT_PASSPHRASE"
DEFAULT_SCRYPT_N = 2**15
SCRYPT_R, SCRYPT_P = 8, 1
MAX_SCRYPT_MEMORY = 1 << 30  # refuse files asking for more (128·n·r bytes): a denial of service
KEY_FILE_HEADER = b"behest-local vault key v1\n"
_VAULT_ID = re.compile(r"vlt_[0-9a-f]{32}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_NONCE_LEN = 12


class VaultError(Exception):
    """The vault cannot be read or written, or a request to it cannot be honoured."""


class WrongPassphrase(VaultError):
    def __init__(self) -> None:
        super().__init__(f"the vault passphrase is wrong ({PASSPHRASE_ENV})")


class VaultTampered(VaultError):
    WHY = "failed its integrity check: it was modified outside behest-local"
    """What happened, for messages that give their own remedy (one key: store it again)."""

    def __init__(self, file: str = "vault.json") -> None:
        super().__init__(f"{file} {self.WHY}; restore a backup or remove it and re-add your "
                         "keys")


class VaultLocked(VaultError):
    """The vault is sealed with a passphrase and none was given."""


class BadKeyFormat(VaultError):
    """A provider key does not look like that provider's keys (the message says what would)."""


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: Any, *, length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise VaultTampered()
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise VaultTampered() from None
    if length is not None and len(data) != length:
        raise VaultTampered()
    return data


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def kek_id(kek: bytes) -> str:
    return hmac.new(kek, b"behest-local vault kek id v1", hashlib.sha256).hexdigest()[:32]


def derive_kek(passphrase: str, kdf: dict) -> bytes:
    """scrypt(passphrase) with the salt and cost recorded in a ``scrypt`` kdf block."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = b64d(kdf["salt"], length=16)
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
        passphrase.encode("utf-8"))


def scrypt_kdf(passphrase: str, n: int) -> tuple[dict, bytes]:
    """A fresh ``scrypt`` kdf block (new salt) and the KEK it yields."""
    _check_cost(n, SCRYPT_R, SCRYPT_P)
    kdf = {"type": "scrypt", "salt": b64e(os.urandom(16)), "n": n, "r": SCRYPT_R, "p": SCRYPT_P}
    kek = derive_kek(passphrase, kdf)
    kdf["kek_id"] = kek_id(kek)
    return kdf, kek


def keyfile_kdf(kek: bytes) -> dict:
    return {"type": "keyfile", "kek_id": kek_id(kek)}


def _check_cost(n: Any, r: Any, p: Any) -> None:
    if not all(type(v) is int for v in (n, r, p)) or n < 2 or n & (n - 1) or not 1 <= r <= 32 \
            or not 1 <= p <= 16 or 128 * n * r > MAX_SCRYPT_MEMORY:
        raise VaultError("scrypt cost must be n = a power of 2 ≥ 2, r in 1..32, p in 1..16, "
                         f"memory ≤ {MAX_SCRYPT_MEMORY >> 20} MiB")


def header_aad(doc: dict) -> bytes:
    header = {"version": doc["version"], "vault_id": doc["vault_id"], "kdf": doc["kdf"]}
    return b"behest-local vault header\x00" + canonical(header)


def secret_aad(doc: dict, provider: str, last4: str, added_at: str) -> bytes:
    return b"behest-local vault secret\x00" + canonical(
        [doc["version"], doc["vault_id"], provider, last4, added_at])


def _aead(key: bytes):
    """AES-256-GCM under ``key``. cryptography is imported here, at first use, and not at
    the top: the gateway imports this module at start but opens the vault only when a
    request needs a provider key (``InvalidTag`` likewise, where it is caught)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def wrap_data_key(kek: bytes, data_key: bytes, doc: dict) -> dict:
    nonce = os.urandom(_NONCE_LEN)
    return {"nonce": b64e(nonce), "ciphertext": b64e(_aead(kek).encrypt(nonce, data_key,
                                                                         header_aad(doc)))}


def unwrap_data_key(kek: bytes, doc: dict) -> bytes:
    """The data key, given the right KEK (checked against ``kek_id`` first, by the caller).

    Raises:
        VaultTampered: the header or the wrapped key was modified.
    """
    from cryptography.exceptions import InvalidTag

    wrapped = doc["wrapped_data_key"]
    try:
        data_key = _aead(kek).decrypt(b64d(wrapped["nonce"], length=_NONCE_LEN),
                                       b64d(wrapped["ciphertext"]), header_aad(doc))
    except InvalidTag:
        raise VaultTampered() from None
    if len(data_key) != 32:
        raise VaultTampered()
    return data_key


def seal_secret(data_key: bytes, doc: dict, provider: str, plaintext: str, last4: str,
                added_at: str) -> dict:
    nonce = os.urandom(_NONCE_LEN)
    ct = _aead(data_key).encrypt(nonce, plaintext.encode("utf-8"),
                                  secret_aad(doc, provider, last4, added_at))
    return {"nonce": b64e(nonce), "ciphertext": b64e(ct), "last4": last4, "added_at": added_at}


def open_secret(data_key: bytes, doc: dict, provider: str) -> str:
    """Decrypt ``provider``'s secret. Raises VaultTampered if anything bound to it changed."""
    from cryptography.exceptions import InvalidTag

    entry = doc["secrets"][provider]
    try:
        plaintext = _aead(data_key).decrypt(
            b64d(entry["nonce"], length=_NONCE_LEN), b64d(entry["ciphertext"]),
            secret_aad(doc, provider, entry["last4"], entry["added_at"]))
        return plaintext.decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        raise VaultTampered() from None


def blob_aad(doc: dict, purpose: str) -> bytes:
    return b"behest-local vault blob\x00" + canonical([doc["version"], doc["vault_id"], purpose])


def seal_blob(data_key: bytes, doc: dict, purpose: str, plaintext: bytes) -> dict:
    """Seal bytes kept *outside* vault.json (the platform signing key) under the data key.
    The associated data binds the ciphertext to this vault and to ``purpose``."""
    nonce = os.urandom(_NONCE_LEN)
    ct = _aead(data_key).encrypt(nonce, plaintext, blob_aad(doc, purpose))
    return {"vault_id": doc["vault_id"], "nonce": b64e(nonce), "ciphertext": b64e(ct)}


def open_blob(data_key: bytes, doc: dict, purpose: str, sealed: Any) -> bytes:
    """Open a :func:`seal_blob` result. Raises VaultTampered if it or its purpose changed."""
    if not isinstance(sealed, dict) or set(sealed) != {"vault_id", "nonce", "ciphertext"}:
        raise VaultTampered("a value sealed by the vault")
    from cryptography.exceptions import InvalidTag

    try:
        return _aead(data_key).decrypt(b64d(sealed["nonce"], length=_NONCE_LEN),
                                        b64d(sealed["ciphertext"]), blob_aad(doc, purpose))
    except InvalidTag:
        raise VaultTampered("a value sealed by the vault") from None


def parse_doc(raw: bytes, path: Path) -> dict:
    """Structural check of a ``vault.json``; the cryptographic checks come later.

    Raises:
        VaultError: a format version this release does not read.
        VaultTampered: not a vault file at all, or fields of the wrong shape.
    """
    try:
        doc = json.loads(raw)
        version = doc["version"]
    except (ValueError, TypeError, KeyError):
        raise VaultTampered(path.name) from None
    if type(version) is not int or version != FORMAT_VERSION:
        raise VaultError(f"{path}: format version {version!r}; this behest-local reads version "
                         f"{FORMAT_VERSION} (a newer release wrote it, or it was modified)")
    try:
        _check_shape(doc)
    except (KeyError, TypeError, AttributeError, ValueError, VaultError):
        raise VaultTampered(path.name) from None
    return doc


def _check_shape(doc: dict) -> None:
    def need(condition: object) -> None:
        if not condition:
            raise ValueError

    need(set(doc) == {"version", "vault_id", "kdf", "wrapped_data_key", "secrets"})
    need(isinstance(doc["vault_id"], str) and _VAULT_ID.fullmatch(doc["vault_id"]))
    kdf = doc["kdf"]
    need(isinstance(kdf, dict) and isinstance(kdf.get("kek_id"), str)
         and _HEX32.fullmatch(kdf["kek_id"]))
    if kdf["type"] == "keyfile":
        need(set(kdf) == {"type", "kek_id"})
    else:
        need(kdf["type"] == "scrypt" and set(kdf) == {"type", "salt", "n", "r", "p", "kek_id"})
        _check_cost(kdf["n"], kdf["r"], kdf["p"])
    wrapped = doc["wrapped_data_key"]
    need(isinstance(wrapped, dict) and set(wrapped) == {"nonce", "ciphertext"})
    need(isinstance(doc["secrets"], dict))
    for entry in doc["secrets"].values():
        need(isinstance(entry, dict) and set(entry) == {"nonce", "ciphertext", "last4", "added_at"}
             and isinstance(entry["last4"], str) and isinstance(entry["added_at"], str))


def dump_doc(doc: dict) -> bytes:
    return json.dumps(doc, indent=2).encode() + b"\n"


def key_file_bytes(kek: bytes) -> bytes:
    return KEY_FILE_HEADER + base64.b64encode(kek) + b"\n"


def parse_key_file(raw: bytes) -> bytes | None:
    """The KEK in a ``vault.key``'s bytes, or None if they are not a key file."""
    if not raw.startswith(KEY_FILE_HEADER):
        return None
    try:
        kek = base64.b64decode(raw[len(KEY_FILE_HEADER):].strip(), validate=True)
    except binascii.Error:
        return None
    return kek if len(kek) == 32 else None

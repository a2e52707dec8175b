"""The vault file's metadata, read without unlocking it.

``read_entries`` lists which providers have a key, their last 4 characters and when they
were added: no passphrase needed, nothing created, nothing verified. The routing index
(``provider_keys.py``), the TUI header and ``vault list`` use it; ``store.Vault`` reads its
document through ``read_doc`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from behest_local.atomic import Signature, file_sig
from behest_local.vault.crypto import parse_doc

VAULT_FILE = "vault.json"


@dataclass(frozen=True)
class VaultEntry:
    """What the vault says about one stored key, without the key."""

    provider: str
    last4: str  # empty for keys shorter than 12 characters
    added_at: str

    @property
    def hint(self) -> str:
        return f"…{self.last4}"


def read_doc(path: Path) -> tuple[dict | None, Signature | None]:
    """The parsed vault document at ``path`` (None when absent) and the file's signature."""
    sig = file_sig(path)  # before reading: if the file changes meanwhile, we re-read next time
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    return parse_doc(raw, path), sig


def read_entries(home: Path) -> list[VaultEntry]:
    """The vault's metadata (provider, last 4, when added) without unlocking it: no passphrase
    needed, nothing created, nothing verified. An absent vault lists empty."""
    doc, _ = read_doc(Path(home) / VAULT_FILE)
    return entries_of(doc)


def entries_of(doc: dict | None) -> list[VaultEntry]:
    """The entries of a parsed vault document (``read_doc``), sorted by provider."""
    return [VaultEntry(p, e["last4"], e["added_at"])
            for p, e in sorted((doc or {"secrets": {}})["secrets"].items())]

"""The platform signing key: made on first use, private half sealed by the vault, never
plaintext on disk; survives restarts and rekeys; a replaced vault means a new key."""

from __future__ import annotations

import json
import logging
import pickle
import stat
import threading

import pytest

from behest_local.identity import jwk
from behest_local.identity.jwt import KeyRing, MintRequest, mint
from behest_local.identity.jwt.platform_key import PLATFORM_FILE, PlatformKey
from behest_local.vault.store import Vault, VaultLocked, VaultTampered

PASS = "correct horse battery"


def _token(signer) -> str:
    return mint(signer, MintRequest(user_id="u"), tenant="local", project="local")["jwt"]


def _everything_on_disk(home) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_first_use_makes_a_sealed_key(tmp_path):
    home = tmp_path / "home"
    platform = PlatformKey(home)
    assert platform.current is None and platform.jwk() is None
    signer = platform.load_signer()
    assert signer.kid.startswith("plat_") and platform.current.kid == signer.kid
    assert stat.S_IMODE((home / PLATFORM_FILE).stat().st_mode) == 0o600
    doc = json.loads((home / PLATFORM_FILE).read_bytes())
    assert set(doc) == {"version", "kid", "alg", "created_at", "public_key_pem",
                        "sealed_private_key"}
    disk = _everything_on_disk(home)
    assert b"PRIVATE KEY" not in disk
    pem = jwk.private_pem(signer._private).reveal()
    for line in pem.splitlines()[1:-1:4]:  # no fragment of the key, in any file
        assert line.encode() not in disk
    assert repr(signer) == f"PlatformSigner(kid={signer.kid!r})"
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_the_key_survives_a_restart_and_a_rekey(tmp_path):
    home = tmp_path / "home"
    token = _token(KeyRing(home).load_signer())
    Vault.open(home, scrypt_n=2**10).rekey(new_passphrase=PASS)
    reopened = KeyRing(home, open_vault=lambda: Vault.open(home, passphrase=PASS))
    assert reopened.verify(token).user == "u"  # the public half needs no vault
    assert reopened.verify(_token(reopened.load_signer())).user == "u"


def test_a_locked_vault_refuses_minting_but_not_verifying(tmp_path, monkeypatch):
    home = tmp_path / "home"
    token = _token(KeyRing(home).load_signer())
    Vault.open(home, scrypt_n=2**10).rekey(new_passphrase=PASS)
    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE", raising=False)
    ring = KeyRing(home)
    with pytest.raises(VaultLocked):
        ring.load_signer()
    assert ring.verify(token).user == "u"


def test_a_replaced_vault_means_a_new_key(tmp_path, caplog):
    home = tmp_path / "home"
    old = KeyRing(home).load_signer().kid
    (home / "vault.json").unlink()
    (home / "vault.key").unlink()
    with caplog.at_level(logging.WARNING):
        new = KeyRing(home).load_signer().kid
    assert new != old and "cannot be opened" in caplog.text


def test_a_tampered_sealed_key_is_refused(tmp_path):
    home = tmp_path / "home"
    KeyRing(home).load_signer()
    path = home / PLATFORM_FILE
    doc = json.loads(path.read_bytes())
    sealed = doc["sealed_private_key"]
    sealed["ciphertext"] = sealed["ciphertext"][:-8] + ("A" * 8 if sealed["ciphertext"][-8:]
                                                       != "A" * 8 else "B" * 8)
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultTampered):
        KeyRing(home).load_signer()
    doc["sealed_private_key"] = None
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultTampered):
        KeyRing(home).load_signer()


def test_concurrent_first_uses_agree_on_one_key(tmp_path):
    home = tmp_path / "home"
    Vault.open(home)  # both racers find the vault; the race is over the platform key
    kids: list[str] = []
    start = threading.Barrier(4)

    def first_use() -> None:
        start.wait()
        kids.append(PlatformKey(home).load_signer().kid)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(kids) == 4 and len(set(kids)) == 1


def test_a_key_made_by_another_process_is_picked_up(tmp_path):
    home = tmp_path / "home"
    server = KeyRing(home)
    assert server.jwks() == {"keys": []}
    token = _token(KeyRing(home).load_signer())  # `behest-local mint` elsewhere
    assert server.verify(token).user == "u"
    assert [k["kid"] for k in server.jwks()["keys"]] == [server.platform.current.kid]

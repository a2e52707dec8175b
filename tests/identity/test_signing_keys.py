"""The tenant signing-key registry: public halves only, revocation seen at once by every
process, bad edits survived."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys

import pytest

from behest_local.identity import jwk
from behest_local.identity.signing_keys import (SIGNING_KEYS_FILE, SigningKeyNotFound, SigningKeyStore)


def test_create_returns_the_private_key_once_and_stores_only_the_public_half(tmp_path):
    store = SigningKeyStore(tmp_path)
    pem, key = store.create("local", "local")
    assert key.kid.startswith("sk_") and len(key.kid) == 19
    assert pem.reveal().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, as the dashboard
    assert str(pem) == "****" and "PRIVATE" not in repr(key)
    raw = (tmp_path / SIGNING_KEYS_FILE).read_bytes()
    assert b"PRIVATE KEY" not in raw and pem.reveal().splitlines()[5].encode() not in raw
    assert stat.S_IMODE((tmp_path / SIGNING_KEYS_FILE).stat().st_mode) == 0o600
    assert jwk.public_pem(jwk.load_private(pem.reveal()).public_key()) == \
        json.loads(raw)["keys"][0]["public_key_pem"]


def test_list_filters_and_revoke_is_idempotent(tmp_path):
    store = SigningKeyStore(tmp_path)
    _, a = store.create("local", "local")
    _, b = store.create("local", "other")
    assert [k.kid for k in store.list()] == [a.kid, b.kid]
    assert [k.kid for k in store.list("other")] == [b.kid]
    first = store.revoke(a.kid)
    assert first.revoked and store.revoke(a.kid).revoked_at == first.revoked_at
    assert [k.kid for k in store.list()] == [b.kid]
    assert [k.kid for k in store.list(include_revoked=True)] == [a.kid, b.kid]
    with pytest.raises(SigningKeyNotFound, match=b.kid):
        store.revoke("sk_nope")


def test_a_revocation_in_another_process_is_seen_by_the_next_lookup(tmp_path):
    store = SigningKeyStore(tmp_path)
    _, key = store.create("local", "local")
    assert not store.lookup(key.kid).revoked
    code = ("import sys; from behest_local.identity.signing_keys import SigningKeyStore; "
            "SigningKeyStore(sys.argv[1]).revoke(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path), key.kid], check=True, timeout=60)
    assert store.lookup(key.kid).revoked  # no watcher, no wait: the file's signature changed


def test_a_bad_edit_keeps_the_last_good_state(tmp_path, caplog):
    store = SigningKeyStore(tmp_path)
    _, key = store.create("local", "local")
    (tmp_path / SIGNING_KEYS_FILE).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert store.lookup(key.kid) is not None
    assert "keeping the previous signing keys" in caplog.text
    (tmp_path / SIGNING_KEYS_FILE).write_text(json.dumps(
        {"version": 1, "keys": [{"kid": "sk_x", "public_key_pem": "nope"}]}))
    assert store.lookup(key.kid) is not None and store.lookup("sk_x") is None


def test_weak_keys_are_refused_on_load(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="2048"):
        jwk.load_public(jwk.public_pem(small.public_key()))

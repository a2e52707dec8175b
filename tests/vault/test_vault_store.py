"""Vault: sealing, integrity, atomicity, rekey crash windows, cross-process use, the canary."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from behest_local.vault import crypto as vault_crypto
from behest_local.secret import Secret
from behest_local.file_watch import FileWatch
from behest_local.vault.entries import VAULT_FILE, VaultEntry, read_entries
from behest_local.vault.key_formats import normalize_provider
from behest_local.vault.store import (KEY_FILE, NEW_KEY_FILE, BadKeyFormat, Vault, VaultError,
                                      VaultLocked, VaultTampered, WrongPassphrase)
from tests.conftest import poll_until

FAST_N = 2**4  # scrypt cost for tests; test_default_scrypt_cost uses the real one
OPENAI = "sk-proj-" + "A1b2C3d4" * 6
ANTHROPIC = "sk-ant-api03-" + "z" * 40
GOOGLE = "AIza" + "G" * 30 + "_-x9Q"
TAMPERED = ("vault.json failed its integrity check: it was modified outside behest-local; "
            "restore a backup or remove it and re-add your keys")


@pytest.fixture(autouse=True)
def no_env_passphrase(monkeypatch):
    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE", raising=False)


def open_vault(home: Path, passphrase: str | None = None) -> Vault:
    return Vault.open(home, passphrase=passphrase, scrypt_n=FAST_N)


def snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir()) if p.is_file()}


def doc_of(home: Path) -> dict:
    return json.loads((home / VAULT_FILE).read_text())


def write_doc(home: Path, doc: dict) -> None:
    (home / VAULT_FILE).write_text(json.dumps(doc))


def flip(b64: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.fixture
def filled(tmp_path) -> Path:
    v = open_vault(tmp_path)
    v.set("openai", OPENAI)
    v.set("anthropic", ANTHROPIC)
    v.set("gemini", GOOGLE)
    return tmp_path


def test_round_trip(tmp_path):
    v = open_vault(tmp_path)
    assert v.created and v.mode == "keyfile" and v.list() == []
    v.set("OpenAI", Secret(OPENAI))
    v.set(" gemini ", GOOGLE)
    v.set("my-llm", "x")
    again = open_vault(tmp_path)
    assert not again.created
    got = again.get("openai")
    assert isinstance(got, Secret) and got.reveal() == OPENAI
    assert again.get("google").reveal() == GOOGLE == again.get("GEMINI").reveal()
    assert again.get("my-llm").reveal() == "x" and again.get("cohere") is None
    entries = again.list()
    assert [e.provider for e in entries] == ["google", "my-llm", "openai"]
    assert entries[2] == VaultEntry("openai", OPENAI[-4:], entries[2].added_at)
    assert entries[2].hint == "…" + OPENAI[-4:] and entries[1].last4 == ""  # too short to hint
    assert entries[0].added_at.endswith("Z") and len(entries[0].added_at) == 20
    assert read_entries(tmp_path) == entries
    v.set("openai", OPENAI[:-4] + "WXYZ")  # replace
    assert again.get("openai").reveal().endswith("WXYZ")
    assert again.remove("openai") is True and again.remove("openai") is False
    assert v.get("openai") is None and [e.provider for e in v.list()] == ["google", "my-llm"]


def test_file_modes_are_0600_and_no_temp_files_remain(filled):
    for name in (VAULT_FILE, KEY_FILE, VAULT_FILE + ".lock"):
        assert stat.S_IMODE((filled / name).stat().st_mode) == 0o600, name
    assert {p.name for p in filled.iterdir()} == {KEY_FILE, VAULT_FILE, VAULT_FILE + ".lock"}
    doc = doc_of(filled)
    assert doc["version"] == 1 and doc["kdf"]["type"] == "keyfile"
    assert set(doc["secrets"]["openai"]) == {"nonce", "ciphertext", "last4", "added_at"}
    v = open_vault(filled)
    v.rekey(new_passphrase="passphrase-one")
    assert stat.S_IMODE((filled / VAULT_FILE).stat().st_mode) == 0o600
    v.rekey(new_passphrase=None)
    assert stat.S_IMODE((filled / KEY_FILE).stat().st_mode) == 0o600


def test_passphrase_vault_wrong_and_missing_passphrase(tmp_path, monkeypatch):
    v = open_vault(tmp_path, "correct horse")
    assert v.mode == "passphrase" and not (tmp_path / KEY_FILE).exists()
    v.set("openai", OPENAI)
    before = snapshot(tmp_path)
    with pytest.raises(WrongPassphrase) as exc:
        open_vault(tmp_path, "wrong horse")
    assert str(exc.value) == "the vault passphrase is wrong (BEHEST_VAULT_PASSPHRASE)"
    with pytest.raises(VaultLocked, match="BEHEST_VAULT_PASSPHRASE"):
        open_vault(tmp_path)
    assert snapshot(tmp_path) == before  # a failing open overwrites nothing
    monkeypatch.setenv("BEHEST_VAULT_PASSPHRASE", "correct horse")
    assert open_vault(tmp_path).get("openai").reveal() == OPENAI
    with pytest.raises(VaultError, match="at least 8"):
        open_vault(tmp_path / "new", "short")  # new passphrases are checked


def test_passphrase_for_a_keyfile_vault_is_ignored_with_a_warning(filled, caplog):
    with caplog.at_level(logging.WARNING, logger="behest_local.vault.store"):
        v = open_vault(filled, "not needed")
    assert v.mode == "keyfile" and v.get("openai").reveal() == OPENAI
    assert "passphrase" in caplog.text and "rekey" in caplog.text


def test_tampered_ciphertext_byte(filled):
    doc = doc_of(filled)
    doc["secrets"]["openai"]["ciphertext"] = flip(doc["secrets"]["openai"]["ciphertext"], 5)
    write_doc(filled, doc)
    v = open_vault(filled)  # the header is intact: opens
    with pytest.raises(VaultTampered) as exc:
        v.get("openai")
    assert str(exc.value) == TAMPERED
    assert v.get("anthropic").reveal() == ANTHROPIC  # the others are unaffected


@pytest.mark.parametrize("field", ["last4", "added_at", "nonce"])
def test_tampered_secret_metadata(filled, field):
    doc = doc_of(filled)
    entry = doc["secrets"]["openai"]
    entry[field] = {"last4": "0000", "added_at": "2000-01-01T00:00:00Z",
                    "nonce": flip(entry["nonce"])}[field]
    write_doc(filled, doc)
    with pytest.raises(VaultTampered):
        open_vault(filled).get("openai")


def test_swapped_ciphertexts_between_providers_fail(filled):
    doc = doc_of(filled)
    s = doc["secrets"]
    s["openai"], s["anthropic"] = s["anthropic"], s["openai"]
    write_doc(filled, doc)
    v = open_vault(filled)
    for provider in ("openai", "anthropic"):
        with pytest.raises(VaultTampered):
            v.get(provider)
    assert v.get("google").reveal() == GOOGLE


def test_a_secret_moved_into_another_vault_fails(filled, tmp_path):
    other = tmp_path / "other"
    open_vault(other).set("openai", "sk-" + "o" * 30)
    doc = doc_of(other)
    doc["secrets"]["openai"] = doc_of(filled)["secrets"]["openai"]
    write_doc(other, doc)
    with pytest.raises(VaultTampered):
        open_vault(other).get("openai")


def _tamper_keyfile(name: str, doc: dict) -> type[VaultError]:
    if name == "vault_id":
        doc["vault_id"] = "vlt_" + "0" * 32
        return VaultTampered
    if name == "version":
        doc["version"] = 2
        return VaultError
    if name == "kdf kek_id":
        doc["kdf"]["kek_id"] = "f" * 32
        return VaultError  # "vault.key is missing or belongs to another vault"
    if name == "kdf type":
        doc["kdf"] = {"type": "scrypt", "salt": base64.b64encode(b"s" * 16).decode(), "n": 16,
                      "r": 8, "p": 1, "kek_id": doc["kdf"]["kek_id"]}
        return VaultLocked
    if name == "kdf extra field":
        doc["kdf"]["note"] = "x"
        return VaultTampered
    if name == "wrapped key":
        doc["wrapped_data_key"]["ciphertext"] = flip(doc["wrapped_data_key"]["ciphertext"])
        return VaultTampered
    if name == "wrapped nonce":
        doc["wrapped_data_key"]["nonce"] = flip(doc["wrapped_data_key"]["nonce"])
        return VaultTampered
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["vault_id", "version", "kdf kek_id", "kdf type",
                                  "kdf extra field", "wrapped key", "wrapped nonce"])
def test_tampered_header_keyfile_mode(filled, name):
    doc = doc_of(filled)
    expected = _tamper_keyfile(name, doc)
    write_doc(filled, doc)
    before = snapshot(filled)
    with pytest.raises(expected) as exc:
        open_vault(filled)
    if expected is VaultTampered:
        assert str(exc.value) == TAMPERED
    assert snapshot(filled) == before


@pytest.mark.parametrize("name,value,expected", [
    ("vault_id", "vlt_" + "1" * 32, VaultTampered),
    ("salt", base64.b64encode(b"t" * 16).decode(), WrongPassphrase),  # see vault_crypto
    ("n", 32, WrongPassphrase),
    ("r", 4, WrongPassphrase),
    ("n", 2**40, VaultTampered),  # an absurd cost is refused before any work
    ("type", "keyfile", VaultTampered),
])
def test_tampered_header_passphrase_mode(tmp_path, name, value, expected):
    open_vault(tmp_path, "passphrase-one").set("openai", OPENAI)
    doc = doc_of(tmp_path)
    (doc if name == "vault_id" else doc["kdf"])[name] = value
    write_doc(tmp_path, doc)
    before = snapshot(tmp_path)
    with pytest.raises(expected):
        open_vault(tmp_path, "passphrase-one")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"version": 1}', b"\xff\xfe",
                                 b'{"version": true, "secrets": {}}'])
def test_not_a_vault_file(tmp_path, raw):
    (tmp_path / VAULT_FILE).write_bytes(raw)
    with pytest.raises(VaultError):
        open_vault(tmp_path)
    assert (tmp_path / VAULT_FILE).read_bytes() == raw and not (tmp_path / KEY_FILE).exists()


def test_missing_key_file_is_a_clear_error_and_writes_nothing(filled):
    (filled / KEY_FILE).rename(filled / "elsewhere")
    before = snapshot(filled)
    with pytest.raises(VaultError, match="vault.key is missing or belongs to another vault"):
        open_vault(filled)
    assert snapshot(filled) == before
    (filled / "elsewhere").rename(filled / KEY_FILE)
    assert open_vault(filled).get("openai").reveal() == OPENAI


def test_a_foreign_key_file_is_never_overwritten(tmp_path):
    (tmp_path / KEY_FILE).write_bytes(b"my precious\n")
    with pytest.raises(VaultError, match="not a vault key file"):
        open_vault(tmp_path)
    assert (tmp_path / KEY_FILE).read_bytes() == b"my precious\n"
    assert not (tmp_path / VAULT_FILE).exists()


def test_interrupted_write_keeps_the_previous_vault(filled, monkeypatch):
    v = open_vault(filled)
    before = snapshot(filled)
    seen: list[bytes] = []
    real_replace = os.replace

    def crash(src, dst):
        seen.append(Path(src).read_bytes())  # the temp file, fully written and fsynced
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        v.set("cohere", "co-" + "CANARYCOHERE" * 3)
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(seen) == 1 and b"CANARYCOHERE" not in seen[0] and b"cohere" in seen[0]
    assert snapshot(filled) == before  # no temp left behind either
    assert v.get("cohere") is None and v.get("openai").reveal() == OPENAI
    fresh = open_vault(filled)
    assert fresh.get("cohere") is None and fresh.get("openai").reveal() == OPENAI


class Crash(BaseException):
    """A simulated power cut: not an Exception, so nothing on the way up handles it."""


def count_steps(monkeypatch, crash_at: int | None) -> list[str]:
    """Patch the calls that change what is on disk (renames and unlinks) to count themselves,
    and raise Crash instead of performing call number ``crash_at``."""
    steps: list[str] = []
    real = {"replace": os.replace, "unlink": os.unlink}

    def patched(name):
        def call(*args, **kwargs):
            steps.append(f"{name} {Path(args[0]).name}")
            if len(steps) == crash_at:
                raise Crash(steps[-1])
            return real[name](*args, **kwargs)
        return call

    for name in real:
        monkeypatch.setattr(os, name, patched(name))
    return steps


TO_PASSPHRASE = ["replace .vault.json.tmp", "unlink vault.key.new", "unlink vault.key"]
TO_KEYFILE = ["replace .vault.key.new.tmp", "replace .vault.json.tmp", "replace vault.key.new"]
REKEYS = [(None, "passphrase-one", TO_PASSPHRASE),  # (old, new credential; None = key file)
          ("passphrase-one", "passphrase-two", TO_PASSPHRASE),
          ("passphrase-two", None, TO_KEYFILE),
          (None, None, TO_KEYFILE)]


def _prepare(home: Path, old: str | None) -> dict[str, str]:
    keys = {"openai": OPENAI, "anthropic": ANTHROPIC, "google": GOOGLE}
    v = open_vault(home, old)
    if v.mode == "keyfile" and old is not None:
        v.rekey(new_passphrase=old)
    for provider, key in keys.items():
        v.set(provider, key)
    return keys


@pytest.mark.parametrize("old,new,expected_steps", REKEYS)
def test_interrupted_rekey_loses_no_key(tmp_path, monkeypatch, old, new, expected_steps):
    with monkeypatch.context() as m:  # a dry run counts the steps
        _prepare(tmp_path / "dry", old)
        v = open_vault(tmp_path / "dry", old)
        steps = count_steps(m, None)
        v.rekey(new_passphrase=new)
    assert [re.sub(r"\.\w+\.tmp$", ".tmp", step) for step in steps] == expected_steps
    for crash_at in range(1, len(steps) + 1):
        home = tmp_path / f"crash{crash_at}"
        keys = _prepare(home, old)
        v = open_vault(home, old)
        with monkeypatch.context() as m:
            count_steps(m, crash_at)
            with pytest.raises(Crash):
                v.rekey(new_passphrase=new)
        (home / f".vault.json.stray{crash_at}.tmp").write_bytes(b"{")  # what a real crash leaves
        opened = {}  # credential -> vault it opens
        for credential in (old, new):
            try:
                opened[credential] = open_vault(home, credential)
            except (WrongPassphrase, VaultLocked):
                pass
        assert opened, f"no credential opens the vault after a crash at {steps[crash_at - 1]}"
        for vault in opened.values():
            assert {p: vault.get(p).reveal() for p in keys} == keys
        # The next write finishes the job: stray files gone, key files as the mode requires.
        credential, vault = next(iter(opened.items()))
        vault.set("cohere", "cohere-key-123")
        names = {p.name for p in home.iterdir()}
        assert not any(n.endswith(".tmp") for n in names) and NEW_KEY_FILE not in names
        if vault.mode == "keyfile":
            assert KEY_FILE in names
        else:  # a crash after the switch, before rekey deleted it, leaves the retired key file
            assert (KEY_FILE in names) == (old is None)
        assert open_vault(home, credential).get("openai").reveal() == OPENAI


def test_only_rekey_deletes_a_key_file(filled, caplog):
    (filled / VAULT_FILE).rename(filled / "backup.json")  # sealed with vault.key
    v = open_vault(filled, "passphrase-one")  # a new vault, sealed with the passphrase
    assert v.created and v.mode == "passphrase"
    v.set("openai", OPENAI)
    assert (filled / KEY_FILE).exists()
    with caplog.at_level(logging.WARNING, logger="behest_local.vault.store"):
        open_vault(filled, "passphrase-one")
    assert "vault.key is not used" in caplog.text
    (filled / VAULT_FILE).rename(filled / "new.json")
    (filled / "backup.json").rename(filled / VAULT_FILE)
    assert open_vault(filled).get("anthropic").reveal() == ANTHROPIC  # the backup still opens


def test_rekey_cycle(tmp_path):
    server = open_vault(tmp_path)  # a running gateway: keeps working through every rekey
    server.set("openai", OPENAI)
    doc0 = doc_of(tmp_path)
    key0 = (tmp_path / KEY_FILE).read_bytes()

    cli = open_vault(tmp_path)
    cli.rekey(new_passphrase="passphrase-one")
    assert not (tmp_path / KEY_FILE).exists() and doc_of(tmp_path)["kdf"]["type"] == "scrypt"
    with pytest.raises(VaultLocked):
        open_vault(tmp_path)
    assert open_vault(tmp_path, "passphrase-one").get("openai").reveal() == OPENAI

    cli.rekey(new_passphrase="passphrase-two")
    with pytest.raises(WrongPassphrase):
        open_vault(tmp_path, "passphrase-one")
    cli.set("anthropic", ANTHROPIC)
    assert open_vault(tmp_path, "passphrase-two").get("anthropic").reveal() == ANTHROPIC

    cli.rekey(new_passphrase=None)
    key3 = (tmp_path / KEY_FILE).read_bytes()
    assert key3 != key0 and stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    final = open_vault(tmp_path)
    assert final.mode == "keyfile" and final.get("anthropic").reveal() == ANTHROPIC
    doc3 = doc_of(tmp_path)
    assert doc3["vault_id"] == doc0["vault_id"]  # re-wrapped, not re-encrypted
    assert doc3["secrets"]["openai"] == doc0["secrets"]["openai"]
    assert server.get("openai").reveal() == OPENAI and server.get("anthropic").reveal() == ANTHROPIC
    assert server.mode == "keyfile"


def test_default_scrypt_cost(tmp_path):
    v = Vault.open(tmp_path, passphrase="passphrase-one")
    v.set("openai", OPENAI)
    kdf = doc_of(tmp_path)["kdf"]
    assert (kdf["n"], kdf["r"], kdf["p"]) == (2**15, 8, 1)
    assert len(base64.b64decode(kdf["salt"])) == 16
    assert Vault.open(tmp_path, passphrase="passphrase-one").get("openai").reveal() == OPENAI


def test_changes_by_another_instance_are_seen_at_once(tmp_path):
    server = open_vault(tmp_path)
    assert server.get("openai") is None
    cli = open_vault(tmp_path)
    cli.set("openai", OPENAI)
    assert server.get("openai").reveal() == OPENAI
    cli.set("openai", "sk-" + "n" * 30)
    assert server.get("openai").reveal() == "sk-" + "n" * 30
    cli.remove("openai")
    assert server.get("openai") is None and server.list() == []


def test_vault_removed_and_recreated(filled):
    server = open_vault(filled)
    vault_id = doc_of(filled)["vault_id"]
    (filled / VAULT_FILE).unlink()
    assert server.get("openai") is None and server.list() == [] and server.mode is None
    cli = open_vault(filled)  # reuses the surviving key file
    assert cli.created
    cli.set("cohere", "cohere-key-123")
    assert doc_of(filled)["vault_id"] != vault_id
    assert server.get("cohere").reveal() == "cohere-key-123"
    server.set("mistral", "mistral-key-123")  # the server can write to the new vault too
    assert cli.get("mistral").reveal() == "mistral-key-123"


def test_a_bad_edit_keeps_the_last_good_state(filled, caplog):
    server = open_vault(filled)
    (filled / VAULT_FILE).write_text("{ not json")
    with caplog.at_level(logging.WARNING, logger="behest_local.vault.store"):
        assert server.get("openai").reveal() == OPENAI
    assert "keeping the previous vault state" in caplog.text


_CHILD = textwrap.dedent("""
    import sys
    from behest_local.vault.store import Vault
    home, tag = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    assert sys.stdin.readline() == "go\\n"
    vault = Vault.open(home)  # the vault does not exist yet: the two race to create it
    for i in range(10):
        vault.set(f"{tag}{i}", f"key-{tag}-{i}-0123456789")
""")


def test_concurrent_sets_from_two_processes_lose_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BEHEST_VAULT_PASSPHRASE"}
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), tag], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for tag in ("a", "b")]
    for child in children:  # both imported and waiting: start them together
        assert child.stdout.readline() == "ready\n"
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        child.stdin.close()
        assert child.wait(timeout=30) == 0
        child.stdout.close()
    v = open_vault(tmp_path)
    assert len(v.list()) == 20
    for tag in "ab":
        for i in range(10):
            assert v.get(f"{tag}{i}").reveal() == f"key-{tag}-{i}-0123456789"


async def test_watch_applies_another_processes_set(tmp_path):
    server = open_vault(tmp_path)
    stop = asyncio.Event()
    watch = FileWatch()
    server.follow(watch)
    task = asyncio.create_task(watch.run(stop))
    await asyncio.sleep(0)
    before = server.changed_at
    open_vault(tmp_path).set("openai", OPENAI)
    await poll_until(lambda: server.changed_at > before)  # only the watcher's reload moves it
    assert [e.provider for e in server.list()] == ["openai"]
    assert server.get("openai").reveal() == OPENAI
    stop.set()
    await asyncio.wait_for(task, 5)
    assert task.done() and task.exception() is None


def test_vault_is_not_picklable_and_reprs_are_safe(filled):
    import pickle

    v = open_vault(filled)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(v)
    assert repr(v).startswith("Vault(path=") and "'keyfile'" in repr(v) and "openai" in repr(v)


def test_provider_names():
    assert normalize_provider(" OpenAI ") == "openai" and normalize_provider("Gemini") == "google"
    assert normalize_provider("my-llm.v2_x") == "my-llm.v2_x"
    for bad in ("", " ", "a b", "-x", "x/y", "ü", "a" * 33):
        with pytest.raises(VaultError):
            normalize_provider(bad)
    for keylike in (OPENAI, GOOGLE, "sk-short", "a" * 40):
        with pytest.raises(VaultError, match="looks like an API key") as exc:
            normalize_provider(keylike)
        assert keylike not in str(exc.value)


# A canary: the one string that must appear nowhere but in the Secret it is revealed from.
CANARY = "sk-proj-CANARY" + "c4n4ry" * 8 + "Zz9Q"
CANARY_BODY = CANARY[8:-4]  # not even the part before the last 4


def test_canary_never_leaks(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    texts: list[str] = []
    v = open_vault(home)
    v.set("openai", CANARY)
    v.set("my-llm", CANARY)
    server = open_vault(home)
    got = server.get("openai")
    assert got.reveal() == CANARY and server.get("my-llm").reveal() == CANARY
    texts += [repr(got), str(got), f"{got}", repr(v), str(v), repr(server.list()),
              str(server.list()[0]), repr(read_entries(home))]
    for provider in ("google", "anthropic", "openrouter", "mistral"):  # wrong-format messages
        with pytest.raises(BadKeyFormat) as exc:
            v.set(provider, CANARY + " " if provider == "mistral" else CANARY)
        texts.append(str(exc.value))
    with pytest.raises(VaultError) as exc:
        v.set(CANARY, "x")  # the key pasted as the provider name
    texts.append(str(exc.value))
    v.rekey(new_passphrase="passphrase-one")
    v.rekey(new_passphrase=None)
    doc = doc_of(home)
    doc["secrets"]["openai"]["ciphertext"] = flip(doc["secrets"]["openai"]["ciphertext"])
    write_doc(home, doc)
    with pytest.raises(VaultTampered) as exc:
        server.get("openai")
    texts.append(str(exc.value))
    (home / VAULT_FILE).write_text("{")
    assert server.get("my-llm").reveal() == CANARY  # logs a warning, keeps the last good state
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert CANARY not in text and CANARY_BODY not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {VAULT_FILE, KEY_FILE}
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data and CANARY_BODY.encode() not in data, path
        assert base64.b64encode(CANARY.encode()) not in data


def test_key_formats():
    from behest_local.vault.key_formats import validate_provider_key as check

    good = [("openai", "sk-abc"), ("openai", OPENAI), ("anthropic", ANTHROPIC),
            ("google", GOOGLE), ("gemini", GOOGLE), ("openrouter", "sk-or-v1-" + "0af9" * 16),
            ("mistral", "m" * 10), ("cohere", "c" * 32), ("custom-x", "x"), ("local", "a b")]
    for provider, key in good:
        check(provider, key)
        check(provider, Secret(key))
    bad = [
        ("openai", "pk-" + "x" * 30, "an OpenAI key starts with sk- or sk-proj-"),
        ("openai", ANTHROPIC,
         "this looks like an Anthropic key, not an OpenAI key: use `behest-local vault set anthropic`"),
        ("openai", "sk-" + "x" * 20 + "\n", "no spaces or line breaks"),
        ("anthropic", OPENAI, "an Anthropic key starts with sk-ant-"),
        ("anthropic", GOOGLE, "looks like a Google (Gemini) key, not an Anthropic key"),
        ("openai", "sk-or-v1-" + "0" * 64, "looks like an OpenRouter key"),
        ("google", "AIza" + "x" * 34, "AIza followed by 35 letters, digits, '_' or '-', "
                                     "39 characters in all (got 38)"),
        ("gemini", "AIza" + "x" * 34 + "!", "got 39"),
        ("google", OPENAI, "a Google (Gemini) key is AIza"),
        ("openrouter", "sk-or-v1-" + "g" * 64, "sk-or-v1- followed by 64 hex digits"),
        ("openrouter", "sk-or-v1-" + "0" * 63, "(got 72)"),
        ("mistral", "m" * 9, "a Mistral key has at least 10 characters (got 9)"),
        ("cohere", "short", "a Cohere key has at least 10 characters (got 5)"),
        ("custom-x", "", "the custom-x key is empty"),
        ("openai", "", "the OpenAI key is empty"),
    ]
    for provider, key, message in bad:
        with pytest.raises(BadKeyFormat) as exc:
            check(provider, key)
        assert message in str(exc.value), (provider, str(exc.value))
        assert not key or key.strip() not in str(exc.value)
    assert issubclass(BadKeyFormat, VaultError)


def test_set_validates_before_storing(tmp_path):
    v = open_vault(tmp_path)
    with pytest.raises(BadKeyFormat):
        v.set("google", OPENAI)
    assert v.list() == [] and doc_of(tmp_path)["secrets"] == {}


def test_scrypt_cost_guard():
    with pytest.raises(VaultError, match="power of 2"):
        vault_crypto.scrypt_kdf("passphrase-one", 3)
    with pytest.raises(VaultError):
        vault_crypto.scrypt_kdf("passphrase-one", 2**24)


def test_the_provider_key_index_tells_its_subscribers_after_each_refresh(tmp_path):
    """The TUI's header follows the vault through this, instead of polling it."""
    from behest_local.vault.provider_keys import ProviderKeyIndex

    index = ProviderKeyIndex(tmp_path)
    seen: list[frozenset[str]] = []
    unsubscribe = index.subscribe(lambda: seen.append(index.providers))
    open_vault(tmp_path).set("openai", OPENAI)
    index.refresh()
    assert seen == [frozenset({"openai"})]
    unsubscribe()
    index.refresh()
    assert len(seen) == 1

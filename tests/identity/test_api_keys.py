"""KeyStore: issue/verify/revoke, hashed-only storage, cross-process visibility, the cache."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import stat

import pytest

from behest_local.identity import api_keys as keys
from behest_local.file_watch import FileWatch
from behest_local.identity.api_keys import KeyNotFound, KeyRecord, KeyStore, is_key_format
from tests.conftest import poll_until

FAST_N = 2**4  # scrypt cost for tests; one test below uses the default


@pytest.fixture
def store(tmp_path):
    return KeyStore(tmp_path, scrypt_n=FAST_N)


@pytest.fixture
def slow_hash_calls(monkeypatch):
    """Counts calls of the slow hash check (the store looks it up as a module global)."""
    calls: list[str] = []
    real = keys.check_key

    def counting(key: str, encoded: str) -> bool:
        calls.append(key)
        return real(key, encoded)

    monkeypatch.setattr(keys, "check_key", counting)
    return calls


def test_create_then_verify(store):
    key, rec = store.create("demo")
    assert is_key_format(key) and key.startswith("behest_sk_live_") and len(key) == 47
    assert rec.project == "demo" and rec.id.startswith("key_") and len(rec.id) == 16
    assert rec.prefix == key[:20] and rec.last4 == key[-4:] and not rec.revoked
    assert rec.created_at.endswith("Z")
    assert store.verify(key) == rec


def test_wrong_and_malformed_keys_fail_without_slow_hash(store, slow_hash_calls):
    key, _ = store.create("demo")
    other = "behest_sk_live_" + "0" * 32
    for bad in (other, key[:-1], key.upper(), key + "0", "", "sk-abc", None, 123):
        assert store.verify(bad) is None
    assert slow_hash_calls == []


def test_tampered_hash_fails_the_slow_check(tmp_path):
    store = KeyStore(tmp_path, scrypt_n=FAST_N)
    key, _ = store.create("demo")
    doc = json.loads(store.path.read_text())
    victim = KeyStore(tmp_path, scrypt_n=FAST_N)
    doc["keys"][0]["hash"] = keys.hash_key("behest_sk_live_" + "1" * 32, n=FAST_N)
    store.path.write_text(json.dumps(doc))
    assert victim.reload() is True
    assert victim.verify(key) is None


# Written by cryptography's Scrypt (salt 0..15, n=16, r=8, p=1), as keys.json held before
# the check moved to hashlib.scrypt: stored keys must keep verifying.
STORED_HASH = "scrypt$16$8$1$AAECAwQFBgcICQoLDA0ODw==$Nntaxq2IuV2Ofi+rAOJxWFx99xcc8I73Nm4RdKuTER8="


def test_hashes_written_by_earlier_versions_still_verify():
    assert keys.check_key("bk-example", STORED_HASH)
    assert not keys.check_key("bk-examplf", STORED_HASH)


@pytest.mark.parametrize("encoded", ["scrypt$3$8$1$AAAA$AAAA", "scrypt$1$8$1$AAAA$AAAA",
                                     "scrypt$99999999999999999999999$8$1$AAAA$AAAA",
                                     "scrypt$16$8$1$not-base64$AAAA", "bcrypt$x", "x"])
def test_a_malformed_or_refused_hash_fails_the_check_without_raising(encoded):
    assert keys.check_key("bk-example", encoded) is False


def test_revoked_key_fails_even_after_a_cached_verify(store, slow_hash_calls):
    key, rec = store.create("demo")
    assert store.verify(key) == rec
    revoked = store.revoke(rec.id)
    assert revoked.revoked and revoked.revoked_at is not None
    assert store.verify(key) is None
    assert store.revoke(rec.prefix) == revoked  # idempotent: same timestamp, no error
    assert len(slow_hash_calls) == 1


def test_slow_hash_runs_once_per_key(store, slow_hash_calls):
    a, _ = store.create("p1")
    b, _ = store.create("p2")
    for _ in range(50):
        assert store.verify(a) is not None and store.verify(b) is not None
    assert sorted(slow_hash_calls) == sorted([a, b])


def test_stored_file_never_contains_the_key(store):
    key, rec = store.create("demo")
    other, _ = store.create("demo")
    raw = store.path.read_bytes() + store._lock_path.read_bytes()
    for k in (key, other):
        assert k.encode() not in raw and k[15:].encode() not in raw  # not even the hex part
    listed = store.list("demo")
    assert [r.prefix for r in listed] == [key[:20], other[:20]]
    for text in (repr(listed), str(rec), repr(store.list())):
        assert key not in text and rec.lookup not in text and "scrypt" not in text
        assert "behest_sk_live_" in text
    doc = json.loads(raw.decode())
    assert doc["version"] == keys.FORMAT_VERSION
    assert set(doc["keys"][0]) == {"id", "project", "prefix", "last4", "created_at", "revoked_at", "lookup", "hash"}


def test_file_mode_is_0600(store):
    store.create("demo")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store._lock_path.stat().st_mode) == 0o600
    assert [p.name for p in store.home.iterdir() if p.name.endswith(".tmp")] == []


def test_list_filters_by_project_and_revocation(store):
    _, a = store.create("alpha")
    _, b = store.create("beta")
    store.revoke(a.id)
    assert store.list() == [b]
    assert store.list("alpha") == []
    assert [r.id for r in store.list(include_revoked=True)] == [a.id, b.id]
    assert store.list("alpha", include_revoked=True)[0].revoked


def test_revoke_unknown_or_ambiguous_names_the_known_keys(store):
    _, a = store.create("demo")
    with pytest.raises(KeyNotFound) as exc:
        store.revoke("key_000000000000")
    assert a.id in str(exc.value) and a.prefix in str(exc.value)
    twin_a = store.import_key("behest_sk_live_00000" + "a" * 27, "demo")
    store.import_key("behest_sk_live_00000" + "b" * 27, "demo")  # same 20-char prefix
    with pytest.raises(KeyNotFound, match="ambiguous"):
        store.revoke("behest_sk_live_00000")
    with pytest.raises(KeyNotFound, match="matches no key"):
        store.revoke("behest_sk_live_")  # a bare type prefix never matches, even one key
    assert store.revoke(twin_a.id).revoked
    with pytest.raises(KeyNotFound):
        KeyStore(store.home / "empty", scrypt_n=FAST_N).revoke("key_x")


def test_revoke_by_prefix_with_ellipsis_and_by_full_key(store):
    _, r1 = store.create("demo")
    k2, r2 = store.create("demo")
    assert store.revoke(r1.prefix + "…").id == r1.id
    assert store.revoke(k2).id == r2.id
    assert store.list() == []
    _, r3 = store.create("demo")
    assert store.revoke(f"{r3.prefix}…{r3.last4}").id == r3.id  # as `keys list` prints it
    with pytest.raises(KeyNotFound):
        store.revoke(f"{r3.prefix}…0000" if r3.last4 != "0000" else f"{r3.prefix}…1111")


def test_key_created_elsewhere_verifies_at_once(tmp_path, slow_hash_calls):
    server = KeyStore(tmp_path, scrypt_n=FAST_N)  # e.g. the running gateway
    assert server.list() == []
    key, rec = KeyStore(tmp_path, scrypt_n=FAST_N).create("demo")  # e.g. `keys create`
    assert server.verify(key) == rec
    assert server.verify("behest_sk_live_" + "a" * 32) is None  # miss: stat only, no slow hash
    assert len(slow_hash_calls) == 1


def test_reload_reports_change_and_reconciles_the_cache(tmp_path):
    server = KeyStore(tmp_path, scrypt_n=FAST_N)
    cli = KeyStore(tmp_path, scrypt_n=FAST_N)
    key, rec = cli.create("demo")
    assert server.verify(key) == rec
    assert server.reload() is False
    cli.revoke(rec.id)
    assert server.verify(key) == rec  # cached until the server notices the file changed
    assert server.reload() is True
    assert server.verify(key) is None
    server.path.unlink()
    assert server.reload() is True and server.list(include_revoked=True) == []


def test_legacy_keys(store):
    key, rec = store.create("legacy", legacy=True)
    assert key.startswith("bh_live_") and len(key) == 40 and rec.prefix == key[:20]
    assert store.verify(key) == rec
    imported = "bh_live_" + "ab" * 16
    with pytest.raises(ValueError, match="legacy=True"):
        store.import_key(imported, "legacy")
    imported_rec = store.import_key(imported, "legacy", legacy=True)
    assert store.verify(imported) == imported_rec
    with pytest.raises(ValueError, match="already"):
        store.import_key(imported, "legacy", legacy=True)


def test_default_scrypt_cost(tmp_path):
    store = KeyStore(tmp_path)
    key, rec = store.create("demo")
    assert json.loads(store.path.read_text())["keys"][0]["hash"].startswith("scrypt$16384$8$1$")
    assert KeyStore(tmp_path).verify(key) == rec


def test_concurrent_creates_from_two_processes_lose_nothing(tmp_path):
    store = KeyStore(tmp_path, scrypt_n=FAST_N)
    # spawn (fork is unsafe once threads exist); the bound method pickles with its store, so
    # the workers need nothing from this test module, whatever pytest's import mode.
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        created = pool.map(store.create, ["a", "b"] * 20, chunksize=1)
    assert len(store.list("a")) == 20 and len(store.list("b")) == 20
    assert len({r.id for r in store.list()}) == 40
    assert all(store.verify(key) == rec for key, rec in created)


@pytest.mark.asyncio
async def test_watch_applies_another_instances_revocation(tmp_path):
    home = tmp_path / "state"  # does not exist yet: watch must create/tolerate it
    server = KeyStore(home, scrypt_n=FAST_N)
    stop = asyncio.Event()
    watch = FileWatch()
    server.follow(watch)
    task = asyncio.create_task(watch.run(stop))
    cli = KeyStore(home, scrypt_n=FAST_N)
    key, rec = cli.create("demo")
    assert server.verify(key) == rec  # now cached: verify alone would never notice a revocation
    cli.revoke(rec.id)
    await poll_until(lambda: server.verify(key) is None)  # only the watcher's reload can do this
    stop.set()
    await asyncio.wait_for(task, 5)
    assert task.done() and task.exception() is None


def test_keyrecord_is_frozen_and_repr_is_safe():
    rec = KeyRecord("key_0123456789ab", "p", "behest_sk_live_01234", "cdef", "2025-01-01T00:00:00Z", None, "f" * 64)
    with pytest.raises(AttributeError):
        rec.project = "q"  # type: ignore[misc]
    assert "f" * 64 not in repr(rec) and "revoked=False" in repr(rec)


def test_cached_answers_only_keys_verified_before(store, slow_hash_calls):
    key, rec = store.create("demo")
    assert store.cached(key) is None  # created, never verified: cached does no slow hash
    assert store.cached("not a key") is None and slow_hash_calls == []
    assert store.verify(key) == rec and store.cached(key) == rec
    store.revoke(rec.id)
    assert store.cached(key) is None and store.verify(key) is None


def test_a_revocation_during_a_threaded_verify_is_not_undone(store, monkeypatch):
    """verify runs in a worker thread (auth.authenticate_async) while the event loop may
    revoke: the slow hash runs outside the lock and only a still-active key is cached."""
    import threading

    key, rec = store.create("demo")
    real, entered, release = keys.check_key, threading.Event(), threading.Event()

    def held(presented: str, encoded: str) -> bool:
        entered.set()
        release.wait(5)
        return real(presented, encoded)

    monkeypatch.setattr(keys, "check_key", held)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(store.verify(key)))
    worker.start()
    assert entered.wait(5)
    store.revoke(rec.id)  # takes the lock the worker does not hold during the slow hash
    release.set()
    worker.join(5)
    assert result == [None] and store.cached(key) is None

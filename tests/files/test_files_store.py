"""The file store: rows per project, bytes on disk written through a limited writer."""

from __future__ import annotations

import stat
import time

import pytest

from behest_local.errors import GatewayError, InvalidRequestError, NotFoundError
from behest_local.files.blobs import TooLarge
from behest_local.files.objects import expiry
from behest_local.files.store import FileStore


async def put(store: FileStore, project: str, data: bytes, *, purpose: str = "user_data",
              name: str = "a.txt", expires_at: int | None = None) -> dict:
    writer = await store.writer(1 << 20)
    for start in range(0, len(data), 1000):
        await writer.write(data[start:start + 1000])
    return await store.add(project, name, purpose, writer, expires_at,
                           created_at=int(time.time()))


async def test_a_file_is_private_on_disk_and_belongs_to_one_project(tmp_path):
    store = FileStore(tmp_path)
    made = await put(store, "p1", b"x" * 2500)
    assert made["bytes"] == 2500 and made["object"] == "file"
    blob = store.blob(made["id"])
    assert blob.read_bytes() == b"x" * 2500
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data" / "files.sqlite3").stat().st_mode) == 0o600
    assert (await store.get("p1", made["id"]))["id"] == made["id"]
    with pytest.raises(NotFoundError, match=made["id"]):
        await store.get("p2", made["id"])
    with pytest.raises(NotFoundError):
        await store.delete("p2", made["id"])
    assert (await store.list("p2", purpose=None, limit=10, after=None, order="desc"))[0] == []
    await store.close()


async def test_files_survive_a_new_store_on_the_same_state_dir(tmp_path):
    first = FileStore(tmp_path)
    made = await put(first, "p1", b"kept")
    await first.close()
    second = FileStore(tmp_path)
    assert (await second.get("p1", made["id"]))["bytes"] == 4
    await second.close()


async def test_a_writer_past_its_limit_raises_and_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)
    writer = await store.writer(1500)
    await writer.write(b"x" * 1000)
    with pytest.raises(TooLarge):
        await writer.write(b"x" * 1000)
    await writer.discard()
    assert list(store.folder.iterdir()) == []
    await store.close()


async def test_pages_follow_the_cursor_in_either_order(tmp_path):
    store = FileStore(tmp_path)
    ids = [(await put(store, "p", b"1", purpose=p))["id"]
           for p in ("batch", "user_data", "batch", "batch")]

    async def listed(**query):
        query = {"purpose": None, "limit": 10, "after": None, "order": "desc", **query}
        data, more = await store.list("p", **query)
        return [f["id"] for f in data], more

    assert await listed(limit=2) == ([ids[3], ids[2]], True)
    assert await listed(limit=2, after=ids[2]) == ([ids[1], ids[0]], False)
    assert await listed(order="asc", after=ids[1]) == ([ids[2], ids[3]], False)
    assert await listed(purpose="batch", order="asc") == ([ids[0], ids[2], ids[3]], False)
    assert await listed(after="file-unknown") == ([], False)
    await store.close()


async def test_an_expired_file_is_gone_and_purged_at_the_next_start(tmp_path):
    store = FileStore(tmp_path)
    old = await put(store, "p", b"old", expires_at=int(time.time()) - 1)
    with pytest.raises(NotFoundError):
        await store.get("p", old["id"])
    await store.close()
    again = FileStore(tmp_path)
    await (await again.writer(10)).discard()  # the first write of a process purges
    assert not again.blob(old["id"]).exists()
    await again.close()


def test_expiry_follows_openais_rules():
    assert expiry("batch", None, None, created_at=100) == 100 + 30 * 86400
    assert expiry("user_data", None, None, created_at=100) is None
    assert expiry("user_data", "created_at", "3600", created_at=100) == 3700
    for anchor, seconds in [("created_at", "60"), ("last_active_at", "3600"),
                            ("created_at", "soon")]:
        with pytest.raises(InvalidRequestError, match="expires_after"):
            expiry("user_data", anchor, seconds, created_at=100)


async def test_an_upload_completes_from_its_parts_in_order_once(tmp_path):
    store = FileStore(tmp_path)
    upload = await store.create_upload("p", filename="u.bin", purpose="batch", size=6,
                                       mime_type="text/jsonl")
    parts = []
    for chunk in (b"abc", b"def"):
        writer = await store.writer(10, part=True)
        await writer.write(chunk)
        parts.append((await store.add_part("p", upload["id"], writer))["id"])
    with pytest.raises(NotFoundError):
        await store.upload("other", upload["id"])
    done = await store.complete("p", upload["id"], parts[::-1], None, max_bytes=100)
    assert done["status"] == "completed"
    assert store.blob(done["file"]["id"]).read_bytes() == b"defabc"
    assert list(store.parts.iterdir()) == []
    with pytest.raises(InvalidRequestError, match="completed"):
        await store.complete("p", upload["id"], parts, None, max_bytes=100)
    await store.close()


async def test_a_damaged_database_is_set_aside_for_a_new_one(tmp_path, caplog):
    path = tmp_path / "data" / "files.sqlite3"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    store = FileStore(tmp_path)
    made = await put(store, "p", b"fresh")
    assert (await store.get("p", made["id"]))["bytes"] == 5
    assert list(path.parent.glob("files.sqlite3.corrupt-*"))
    assert "is damaged" in caplog.text
    await store.close()


async def test_a_database_that_cannot_be_opened_is_a_503(tmp_path):
    (tmp_path / "data" / "files.sqlite3").mkdir(parents=True)  # a directory in its place
    store = FileStore(tmp_path)
    with pytest.raises(GatewayError) as caught:
        await store.get("p", "file-x")
    assert caught.value.status == 503 and "files.sqlite3" in caught.value.message
    await store.close()

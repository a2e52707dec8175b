"""``/v1/files`` and ``/v1/uploads`` through the gateway, with the openai SDK and raw HTTP."""

from __future__ import annotations

import hashlib
import io
from contextlib import AsyncExitStack
from dataclasses import replace

import openai
import pytest
from aiohttp import FormData

from tests.conftest import TEST_SETTINGS
from tests.e2e.parity_support import openai_sdk


@pytest.fixture
async def gw(make_gateway_client):
    async with AsyncExitStack() as stack:
        async def start(**server):
            settings = replace(TEST_SETTINGS, server=replace(TEST_SETTINGS.server, **server))
            client = await make_gateway_client(settings)
            client.sdk = openai_sdk(client.key["Authorization"].split()[1],
                                    str(client.make_url("/v1")), stack)
            return client
        yield start


async def test_a_file_is_uploaded_listed_read_and_deleted(gw):
    client = await gw()
    sdk = client.sdk
    made = await sdk.files.create(file=("in.jsonl", b'{"a": 1}\n'), purpose="batch")
    assert (made.filename, made.bytes, made.purpose, made.object) == ("in.jsonl", 9, "batch",
                                                                      "file")
    assert made.id.startswith("file-") and made.expires_at == made.created_at + 30 * 86400
    assert (await sdk.files.retrieve(made.id)).id == made.id
    assert (await sdk.files.content(made.id)).content == b'{"a": 1}\n'
    assert [f.id async for f in sdk.files.list()] == [made.id]
    deleted = await sdk.files.delete(made.id)
    assert deleted.deleted and deleted.id == made.id
    with pytest.raises(openai.NotFoundError, match=f"No such File object: {made.id}"):
        await sdk.files.retrieve(made.id)
    assert not list(client.gateway.home.joinpath("data", "files").glob("file-*"))


async def test_the_list_pages_filters_by_purpose_and_orders(gw):
    sdk = (await gw()).sdk
    ids = [(await sdk.files.create(file=(f"f{i}.txt", b"x"), purpose=p)).id
           for i, p in enumerate(["user_data", "batch", "user_data", "user_data"])]
    page = await sdk.files.list(limit=2)
    assert [f.id for f in page.data] == [ids[3], ids[2]] and page.has_more
    assert [f.id async for f in await sdk.files.list(limit=1)] == ids[::-1]  # SDK pages on
    assert [f.id for f in (await sdk.files.list(order="asc")).data] == ids
    assert [f.id for f in (await sdk.files.list(purpose="batch")).data] == [ids[1]]


async def test_a_file_over_the_limit_is_refused_with_413(gw):
    client = await gw(max_file_bytes=1000)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.sdk.files.create(file=("big.bin", b"x" * 5000), purpose="user_data")
    assert caught.value.status_code == 413
    assert "max_file_bytes" in caught.value.body["message"]
    # Without a Content-Length the bytes themselves are counted.
    async def chunks():
        yield b"x" * 600
        yield b"x" * 600
    form = FormData()
    form.add_field("purpose", "user_data")
    form.add_field("file", chunks(), filename="big.bin")
    async with client.post("/v1/files", data=form, headers=client.key) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "file_too_large"
    assert not list(client.gateway.home.joinpath("data", "files").iterdir())


@pytest.mark.parametrize("form, param", [
    ({"purpose": "nonsense"}, "purpose"),
    ({}, "purpose"),
])
async def test_a_bad_purpose_is_a_400_naming_it(gw, form, param):
    client = await gw()
    data = FormData()
    for name, value in form.items():
        data.add_field(name, value)
    data.add_field("file", io.BytesIO(b"abc"), filename="a.txt")
    async with client.post("/v1/files", data=data, headers=client.key) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["param"] == param


async def test_a_form_field_over_its_limit_is_refused_naming_it(gw):
    client = await gw()
    data = FormData()
    data.add_field("purpose", "batch" * 10_000)
    data.add_field("file", io.BytesIO(b"abc"), filename="a.txt")
    async with client.post("/v1/files", data=data, headers=client.key) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == {
            "message": "The form field 'purpose' is too long.", "type": "invalid_request_error",
            "param": "purpose", "code": "invalid_multipart"}


async def test_bad_multipart_bodies_are_400s(gw):
    client = await gw()
    cases = [
        ({"Content-Type": "application/json"}, b'{"purpose": "batch"}', "invalid_multipart"),
        ({"Content-Type": "multipart/form-data; boundary=zz"},
         b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nab",
         "invalid_multipart"),
        ({"Content-Type": "multipart/form-data; boundary=zz"},
         b"--zz\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--zz--\r\n",
         "missing_required_parameter"),
    ]
    for headers, body, code in cases:
        async with client.post("/v1/files", data=body, headers={**client.key, **headers}) as r:
            assert r.status == 400, await r.text()
            assert (await r.json())["error"]["code"] == code


async def test_another_projects_files_are_unknown(gw):
    client = await gw()
    made = await client.sdk.files.create(file=("a.txt", b"secret"), purpose="user_data")
    other, _ = client.gateway.keys.create("prompted")
    headers = {"Authorization": f"Bearer {other}"}
    for method, path in [("GET", f"/v1/files/{made.id}"), ("GET", f"/v1/files/{made.id}/content"),
                         ("DELETE", f"/v1/files/{made.id}")]:
        async with client.request(method, path, headers=headers) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["message"] == f"No such File object: {made.id}"
    async with client.get("/v1/files", headers=headers) as resp:
        assert (await resp.json())["data"] == []
    assert (await client.sdk.files.content(made.id)).content == b"secret"


async def test_an_upload_joins_its_parts_in_the_order_given(gw):
    sdk = (await gw()).sdk
    data = bytes(range(256)) * 40
    upload = await sdk.uploads.create(filename="big.bin", purpose="user_data",
                                      bytes=len(data), mime_type="application/octet-stream")
    assert upload.status == "pending"
    second = await sdk.uploads.parts.create(upload.id, data=data[4000:])
    first = await sdk.uploads.parts.create(upload.id, data=data[:4000])
    done = await sdk.uploads.complete(upload.id, part_ids=[first.id, second.id],
                                      md5=hashlib.md5(data).hexdigest())
    assert done.status == "completed" and done.file.bytes == len(data)
    assert (await sdk.files.content(done.file.id)).content == data
    with pytest.raises(openai.BadRequestError, match="completed"):
        await sdk.uploads.parts.create(upload.id, data=b"more")


async def test_an_upload_whose_parts_do_not_add_up_is_refused_then_cancelled(gw):
    sdk = (await gw()).sdk
    upload = await sdk.uploads.create(filename="a.bin", purpose="user_data", bytes=10,
                                      mime_type="application/octet-stream")
    part = await sdk.uploads.parts.create(upload.id, data=b"12345")
    with pytest.raises(openai.BadRequestError, match="declared 10"):
        await sdk.uploads.complete(upload.id, part_ids=[part.id])
    cancelled = await sdk.uploads.cancel(upload.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="cancelled"):
        await sdk.uploads.complete(upload.id, part_ids=[part.id])


async def test_a_file_belongs_to_its_project_not_to_the_key_that_made_it(gw):
    client = await gw()
    made = await client.sdk.files.create(file=("a.txt", b"mine"), purpose="user_data")
    for record in client.gateway.keys.list("local"):
        client.gateway.keys.revoke(record.prefix)
    with pytest.raises(openai.AuthenticationError):
        await client.sdk.files.retrieve(made.id)
    other, _ = client.gateway.keys.create("prompted")
    async with client.get(f"/v1/files/{made.id}",
                          headers={"Authorization": f"Bearer {other}"}) as resp:
        assert resp.status == 404
    again, _ = client.gateway.keys.create("local")
    async with client.get(f"/v1/files/{made.id}/content",
                          headers={"Authorization": f"Bearer {again}"}) as resp:
        assert resp.status == 200 and await resp.read() == b"mine"


async def test_a_part_larger_than_its_upload_is_refused_with_413(gw):
    sdk = (await gw()).sdk
    upload = await sdk.uploads.create(filename="a.bin", purpose="user_data", bytes=10,
                                      mime_type="application/octet-stream")
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk.uploads.parts.create(upload.id, data=b"x" * 70_000)
    assert caught.value.status_code == 413 and "declared bytes" in caught.value.message


async def test_expires_after_sets_the_files_expiry_and_is_checked(gw):
    sdk = (await gw()).sdk
    made = await sdk.files.create(file=("a.txt", b"x"), purpose="user_data",
                                  expires_after={"anchor": "created_at", "seconds": 3600})
    assert made.expires_at == made.created_at + 3600
    with pytest.raises(openai.BadRequestError, match="expires_after.seconds"):
        await sdk.files.create(file=("a.txt", b"x"), purpose="user_data",
                               expires_after={"anchor": "created_at", "seconds": 5})

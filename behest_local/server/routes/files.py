"""``/v1/files`` and ``/v1/uploads``: OpenAI's Files and Uploads APIs over ``files.FileStore``.

A file arrives as ``multipart/form-data`` (``purpose``, ``expires_after[anchor]``,
``expires_after[seconds]``, ``file``: reference/openai-surface.md §0, §3) and is read as a
stream, chunk by chunk, into a temp file written off the event loop (``files.blobs``): the
gateway's JSON body limit (``[server] max_body_bytes``) is not involved, the file limit
(``[server] max_file_bytes``, 512 MB) is, checked on the declared ``Content-Length`` before
a byte is read and again on the bytes themselves. Over it: 413; a body that is not
multipart, a broken one, a missing ``file`` or a bad ``purpose``: 400, all in OpenAI's error
JSON. Content goes back as aiohttp's ``FileResponse`` (sendfile, streamed from disk). The
Uploads API (create, parts, complete, cancel) builds one large file from parts of up to
64 MB. Every call is scoped to the caller's project (``PRINCIPAL``): another project's ids
are unknown here. Authentication and the caller's limits are the gateway middleware's.
"""

from __future__ import annotations

import time

from aiohttp import http_exceptions, web

from behest_local.errors import GatewayError, InvalidRequestError
from behest_local.files.blobs import BlobWriter, TooLarge
from behest_local.files.objects import (LISTED_PURPOSES, MAX_PART_BYTES, MAX_UPLOAD_BYTES,
                                        check_purpose, expiry)
from behest_local.files.store import FileStore
from behest_local.server.body import form_field, note_part, payload_error, read_json
from behest_local.server.keys import FILES, GATEWAY, PRINCIPAL
from behest_local.server.render import json_response

_FIELD_BYTES = 1024
"""A text field of the form (``purpose``, ``expires_after[…]``) is short; more is refused."""
_FORM_SLACK = 64 * 1024
"""Bytes a form may hold beyond its file (boundaries, part headers, text fields)."""
_CHUNK = 256 * 1024


def setup_files(app: web.Application, store: FileStore) -> None:
    app[FILES] = store
    router = app.router
    router.add_post("/v1/files", create_file)
    router.add_get("/v1/files", list_files)
    router.add_get("/v1/files/{file_id}", retrieve_file)
    router.add_delete("/v1/files/{file_id}", delete_file)
    router.add_get("/v1/files/{file_id}/content", file_content)
    router.add_post("/v1/uploads", create_upload)
    router.add_post("/v1/uploads/{upload_id}/parts", add_upload_part)
    router.add_post("/v1/uploads/{upload_id}/complete", complete_upload)
    router.add_post("/v1/uploads/{upload_id}/cancel", cancel_upload)

    async def close(app: web.Application) -> None:
        await app[FILES].close()

    app.on_cleanup.append(close)


def _project(request: web.Request) -> str:
    return request[PRINCIPAL].project.id


FILE_LIMIT = "([server] max_file_bytes in behest.toml)"


def too_large(limit: int, why: str = FILE_LIMIT) -> GatewayError:
    return InvalidRequestError(f"The file is larger than the limit of {limit} bytes {why}.",
                               status=413, code="file_too_large")


async def _form(request: web.Request, file_field: str, limit: int, why: str = FILE_LIMIT
                ) -> tuple[dict[str, str], BlobWriter | None, str | None]:
    """The form's text fields, and its file part streamed into a writer (with its name)."""
    if request.content_type != "multipart/form-data":
        raise InvalidRequestError("This endpoint expects a multipart/form-data body "
                                  f"with a '{file_field}' part.", code="invalid_multipart")
    if request.content_length is not None and request.content_length > limit + _FORM_SLACK:
        raise too_large(limit, why)
    fields: dict[str, str] = {}
    writer: BlobWriter | None = None
    filename = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == file_field and writer is None:
                filename = part.filename or "upload"
                writer = await request.app[FILES].writer(limit, part=file_field == "data")
                head, size = b"", 0
                while chunk := await part.read_chunk(_CHUNK):
                    await writer.write(chunk)
                    head, size = head or chunk, size + len(chunk)
                note_part(request, part, head, size)
            else:
                fields[part.name or ""] = await form_field(part, _FIELD_BYTES)
                note_part(request, part, fields[part.name or ""])
    except TooLarge:
        await writer.discard()
        raise too_large(limit, why) from None
    except web.RequestPayloadError as exc:  # the HTTP body itself is broken
        if writer is not None:
            await writer.discard()
        raise payload_error(exc) from None
    except (ValueError, RuntimeError, http_exceptions.BadHttpMessage, web.HTTPException):
        # What aiohttp's multipart reader raises for a broken form: a bad boundary, a part
        # cut off, a part's unknown encoding, too many part headers.
        if writer is not None:
            await writer.discard()
        raise InvalidRequestError("The multipart/form-data body could not be read: it is "
                                  "malformed or cut short.", code="invalid_multipart") from None
    except BaseException:
        if writer is not None:
            await writer.discard()
        raise
    return fields, writer, filename


async def create_file(request: web.Request) -> web.Response:
    """``POST /v1/files``."""
    limit = request.app[GATEWAY].settings.server.max_file_bytes
    fields, writer, filename = await _form(request, "file", limit)
    if writer is None:
        raise InvalidRequestError("Missing required parameter: 'file'.", param="file",
                                  code="missing_required_parameter")
    try:
        unknown = sorted(set(fields) - {"purpose", "expires_after[anchor]",
                                        "expires_after[seconds]"})
        if unknown:
            raise InvalidRequestError(f"Unknown parameter: '{unknown[0]}'.", param=unknown[0],
                                      code="unknown_parameter")
        purpose = check_purpose(fields.get("purpose"))
        now = int(time.time())
        expires_at = expiry(purpose, fields.get("expires_after[anchor]"),
                            fields.get("expires_after[seconds]"), created_at=now)
    except BaseException:
        await writer.discard()
        raise
    try:
        return json_response(await request.app[FILES].add(
            _project(request), filename, purpose, writer, expires_at, created_at=now))
    finally:
        await writer.discard()  # nothing left after a commit; the temp file otherwise


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidRequestError(f"Invalid value for '{name}': {raw!r}; expected an integer "
                                  f"from {low} to {high}.", param=name, code="invalid_value")
    return value


async def list_files(request: web.Request) -> web.Response:
    """``GET /v1/files``: ``purpose``, ``limit`` (1-10,000), ``order``, ``after``."""
    query = request.query
    purpose = query.get("purpose")
    if purpose is not None and purpose not in LISTED_PURPOSES:
        raise InvalidRequestError(f"Invalid value for 'purpose': {purpose!r}.",
                                  param="purpose", code="invalid_value")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError(f"Invalid value for 'order': {order!r}; expected 'asc' or "
                                  "'desc'.", param="order", code="invalid_value")
    limit = query_int(request, "limit", 10_000, 1, 10_000)
    data, more = await request.app[FILES].list(_project(request), purpose=purpose, limit=limit,
                                               after=query.get("after"), order=order)
    return json_response(page(data, more))


def page(data: list[dict], has_more: bool) -> dict:
    """OpenAI's cursor page (the SDK asks for the next one ``after`` the last id)."""
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": has_more}


async def retrieve_file(request: web.Request) -> web.Response:
    return json_response(await request.app[FILES].get(_project(request),
                                                      request.match_info["file_id"]))


async def delete_file(request: web.Request) -> web.Response:
    file_id = request.match_info["file_id"]
    await request.app[FILES].delete(_project(request), file_id)
    return json_response({"id": file_id, "object": "file", "deleted": True})


async def file_content(request: web.Request) -> web.StreamResponse:
    """The file's bytes, streamed from disk (aiohttp's ``FileResponse``: sendfile)."""
    files = request.app[FILES]
    file = await files.get(_project(request), request.match_info["file_id"])
    kind = "application/jsonl" if file["filename"].endswith(".jsonl") else \
        "application/octet-stream"
    return web.FileResponse(files.blob(file["id"]), headers={"Content-Type": kind})


# -- uploads --------------------------------------------------------------------------------

def _upload_request(raw: object) -> dict:
    if not isinstance(raw, dict):
        raise InvalidRequestError("The body must be a JSON object.", code="invalid_value")
    for name in ("filename", "purpose", "bytes", "mime_type"):
        if raw.get(name) in (None, ""):
            raise InvalidRequestError(f"Missing required parameter: '{name}'.", param=name,
                                      code="missing_required_parameter")
    size = raw["bytes"]
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_UPLOAD_BYTES:
        raise InvalidRequestError(f"Invalid value for 'bytes': {size!r}; expected 1 to "
                                  f"{MAX_UPLOAD_BYTES}.", param="bytes", code="invalid_value")
    for name in ("filename", "mime_type"):
        if not isinstance(raw[name], str):
            raise InvalidRequestError(f"Invalid type for '{name}': expected a string.",
                                      param=name, code="invalid_type")
    check_purpose(raw["purpose"])
    return raw


async def create_upload(request: web.Request) -> web.Response:
    """``POST /v1/uploads``: an upload of ``bytes`` bytes, pending its parts."""
    body = await read_json(request, _upload_request)
    limit = request.app[GATEWAY].settings.server.max_file_bytes
    if body["bytes"] > limit:
        raise too_large(limit)
    return json_response(await request.app[FILES].create_upload(
        _project(request), filename=body["filename"], purpose=body["purpose"],
        size=body["bytes"], mime_type=body["mime_type"]))


async def add_upload_part(request: web.Request) -> web.Response:
    """``POST /v1/uploads/{id}/parts``: one part (``data``), up to 64 MB."""
    files, project = request.app[FILES], _project(request)
    upload_id = request.match_info["upload_id"]
    row = await files.pending_upload(project, upload_id)
    limit = min(MAX_PART_BYTES, row[3])
    fields, writer, _name = await _form(
        request, "data", limit, "(a part holds at most 64 MB, and no more than the upload's "
        "declared bytes)")
    if writer is None:
        raise InvalidRequestError("Missing required parameter: 'data'.", param="data",
                                  code="missing_required_parameter")
    try:
        return json_response(await files.add_part(project, upload_id, writer))
    finally:
        await writer.discard()


def _complete_request(raw: object) -> dict:
    ids = raw.get("part_ids") if isinstance(raw, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidRequestError("Missing required parameter: 'part_ids' (a list of part "
                                  "ids, in order).", param="part_ids",
                                  code="missing_required_parameter")
    md5 = raw.get("md5")
    if md5 is not None and not isinstance(md5, str):
        raise InvalidRequestError("Invalid type for 'md5': expected a string.", param="md5",
                                  code="invalid_type")
    return raw


async def complete_upload(request: web.Request) -> web.Response:
    body = await read_json(request, _complete_request)
    return json_response(await request.app[FILES].complete(
        _project(request), request.match_info["upload_id"], body["part_ids"], body.get("md5"),
        max_bytes=request.app[GATEWAY].settings.server.max_file_bytes))


async def cancel_upload(request: web.Request) -> web.Response:
    return json_response(await request.app[FILES].cancel_upload(
        _project(request), request.match_info["upload_id"]))

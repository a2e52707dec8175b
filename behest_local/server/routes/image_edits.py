"""``POST /v1/images/edits`` and ``/v1/images/variations``: multipart image uploads.

Admission has run in the middleware. The form is read here with a cap per file (OpenAI's:
4 MB for DALL·E 2's PNGs, 50 MB for GPT image models' inputs) and on the whole body, its
text fields typed (``n=2`` arrives as a string), then checked by
``providers/emulated/images.validate_generation`` like a generations body. The uploads
are opened with Pillow beside the loop (``images.check_upload``: a real PNG, JPEG or WebP;
square for DALL·E 2; a mask of the image's size), and the edit is drawn there too
(``images.edit``): the placeholder where the mask is transparent, the original elsewhere.
The answer is built as for generations (``images.respond``).

With an OpenAI key (``images.route``: the key and plan rules), the form is relayed
instead, once its fields are checked: re-sent as the multipart upload it came as
(``providers/form.Form``: every ``image[]``, the mask, each field, filenames and types
kept), answered as OpenAI answers (``images.relay_images``), a ``stream: true`` edit
event by event. The uploads are not opened here then: OpenAI judges its own inputs, and
the Pillow checks exist for the emulated drawing.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import http_exceptions, web

from behest_local.errors import InvalidRequestError
from behest_local.offload import off_loop
from behest_local.policy import routing
from behest_local.providers.emulated import images
from behest_local.providers.form import Form
from behest_local.server.body import note_part
from behest_local.server.guard_inputs import guard_inputs
from behest_local.server.keys import EXCHANGE, GATEWAY
from behest_local.server.routes.images import relay_images, respond, route

MB = 1024 * 1024
FILE_CAP = 50 * MB  # GPT image models' per-image limit; DALL·E 2's 4 MB is checked after
MAX_IMAGES = 16
_FIELD_BYTES = 64 * 1024
_INTS = ("n", "output_compression", "partial_images")


def setup_edit_routes(app: web.Application) -> None:
    """Add the two upload routes (after ``images.setup_image_routes``: they use its store)."""
    app.router.add_post("/v1/images/edits", edits)
    app.router.add_post("/v1/images/variations", variations)


async def edits(request: web.Request) -> web.StreamResponse:
    fields, files, form = await _form(request)
    uploads = files.get("image", []) + files.get("image[]", [])
    if not uploads:
        raise InvalidRequestError("Missing required parameter: 'image'.", param="image",
                                  code="missing_required_parameter")
    req = images.validate_generation(fields, operation="edits")
    dalle = req.family == "dall-e-2"
    if len(uploads) > (1 if dalle else MAX_IMAGES):
        raise InvalidRequestError(f"Invalid 'image': at most {1 if dalle else MAX_IMAGES} "
                                  "images.", param="image")
    target = _routed(request, fields.get("model"), req)
    if (prompt := (await guard_inputs(request, [req.prompt]))[0]) is not req.prompt:
        form.set_value("prompt", prompt)
        req = replace(req, prompt=prompt)
    if target != routing.EMULATED:
        provider = request.app[GATEWAY].provider(target)
        return await relay_images(request, provider, "image_edits", form, req)
    masks = files.get("mask", [])
    mask = masks[0] if masks else None
    await off_loop(_check, uploads, mask, dalle)
    return await respond(request, req,
                         lambda index: off_loop(images.edit, req, index, uploads[0], mask))


async def variations(request: web.Request) -> web.StreamResponse:
    fields, files, form = await _form(request)
    uploads = files.get("image", [])
    if not uploads:
        raise InvalidRequestError("Missing required parameter: 'image'.", param="image",
                                  code="missing_required_parameter")
    req = images.validate_generation(fields, operation="variations")
    if (target := _routed(request, fields.get("model"), req)) != routing.EMULATED:
        provider = request.app[GATEWAY].provider(target)
        return await relay_images(request, provider, "image_variations", form, req)
    await off_loop(_check, uploads[:1], None, True)
    return await respond(request, req,
                         lambda index: off_loop(images.edit, req, index, uploads[0], None))


def _check(uploads: list[bytes], mask: bytes | None, dalle: bool) -> None:
    size = None
    for data in uploads:
        size = images.check_upload(data, "image", png_only=dalle, square=dalle,
                                   max_bytes=4 * MB if dalle else FILE_CAP)
    if mask is not None:
        mask_size = images.check_upload(mask, "mask", png_only=True, square=False,
                                        max_bytes=4 * MB)
        if mask_size != size:
            raise InvalidRequestError(f"Invalid 'mask': its size {mask_size[0]}x{mask_size[1]} "
                                      f"differs from the image's {size[0]}x{size[1]}.",
                                      param="mask")


def _routed(request: web.Request, requested: object, req: images.ImageRequest) -> str:
    """The provider ``req`` goes to, recorded on the exchange."""
    target = route(request, req.model)
    exchange = request[EXCHANGE]
    exchange.routed(requested_model=requested if isinstance(requested, str) else None,
                    model=req.model, provider=target.provider, reason=target.reason,
                    stream=req.stream and target.provider != routing.EMULATED)
    exchange.upstream_started()
    return target.provider


async def _form(request: web.Request) -> tuple[dict, dict[str, list[bytes]], Form]:
    """The form's text fields (typed) and its files by field name, each capped; and the
    whole form as it came, to relay."""
    if request.content_type != "multipart/form-data":
        raise InvalidRequestError("This endpoint expects a multipart/form-data body with an "
                                  "'image' part.", code="invalid_multipart")
    cap = FILE_CAP * (MAX_IMAGES + 1)
    if request.content_length is not None and request.content_length > cap:
        raise InvalidRequestError(f"The request is larger than {cap // MB} MB.", status=413,
                                  code="request_too_large")
    fields: dict = {}
    files: dict[str, list[bytes]] = {}
    form = Form()
    total = 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            name = part.name or ""
            limit = FILE_CAP if part.filename is not None else _FIELD_BYTES
            value = bytearray()
            while chunk := await part.read_chunk(256 * 1024):
                value += chunk
                total += len(chunk)
                if len(value) > limit or total > cap:
                    raise InvalidRequestError(f"The form part {name!r} is too large.",
                                              status=413, param=name, code="request_too_large")
            if part.filename is not None:
                data = bytes(value)
                files.setdefault(name, []).append(data)
                note_part(request, part, data)
                form.add_file(name, part.filename, part.headers.get(
                    "Content-Type", "application/octet-stream"), data)
            else:
                text = value.decode("utf-8", "replace")
                fields[name] = _typed(name, text)
                note_part(request, part, text)
                form.add_field(name, text)
    except (ValueError, RuntimeError, http_exceptions.BadHttpMessage,
            web.RequestPayloadError):
        raise InvalidRequestError("The multipart/form-data body could not be read: it is "
                                  "malformed or cut short.", code="invalid_multipart") from None
    return fields, files, form


def _typed(name: str, text: str) -> object:
    """A form field as the JSON value the check expects: ``n=2`` is 2, ``stream=true`` True
    (a non-number stays a string, for the check to refuse naming the field)."""
    if name in _INTS:
        try:
            return int(text)
        except ValueError:
            return text
    if name == "stream":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text

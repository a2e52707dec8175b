"""Deterministic offline images for ``POST /v1/images/generations``.

The route (``server/routes/images.py``) answers here when no OpenAI key routes the call
upstream. :func:`validate_generation` checks the body per model as OpenAI does (reference
openai-surface.md §6: sizes, ``n``, qualities, and which parameters only GPT image models
take; a 400 naming the field). :func:`render` draws one real image of the requested size
with Pillow: diagonal stripes in colours derived from the prompt, a "PLACEHOLDER" banner and
the prompt's words, so nobody mistakes it for a generated picture; the same prompt, size,
format and index always give the same bytes. Rendering a 1024² PNG takes ~50-100 ms of
CPU, so the route calls it beside the event loop (``offload.off_loop``). Usage follows
OpenAI's output tokens per image for GPT image models (``OUTPUT_TOKENS``).
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from hashlib import blake2b

from behest_local.errors import InvalidRequestError
from behest_local.providers.tokens import count_tokens

SIZES: dict[str, tuple[str, ...]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
QUALITIES: dict[str, tuple[str, ...]] = {
    "dall-e-2": ("standard", "auto"), "dall-e-3": ("standard", "hd", "auto"),
    "gpt-image": ("low", "medium", "high", "auto"),
}
PROMPT_MAX = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image": 32000}
GPT_ONLY = ("output_format", "output_compression", "background", "moderation", "stream",
            "partial_images")
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# OpenAI's image output tokens for GPT image models, per quality and shape (its pricing page).
OUTPUT_TOKENS = {("low", "square"): 272, ("low", "wide"): 408,
                 ("medium", "square"): 1056, ("medium", "wide"): 1584,
                 ("high", "square"): 4160, ("high", "wide"): 6240}
_KNOWN = {
    "generations": frozenset({"prompt", "model", "n", "size", "quality", "response_format",
                              "style", "user", *GPT_ONLY}),
    "edits": frozenset({"prompt", "model", "n", "size", "quality", "response_format",
                        "input_fidelity", "user", *GPT_ONLY}),
    "variations": frozenset({"model", "n", "size", "response_format", "user"}),
}
# Which models each operation takes (reference §6: dall-e-3 cannot edit, only dall-e-2 varies).
_FAMILIES = {"generations": ("dall-e-2", "dall-e-3", "gpt-image"),
             "edits": ("dall-e-2", "gpt-image"), "variations": ("dall-e-2",)}
VARIATION_PROMPT = "variation"
"""The caption of a variation (it has no prompt)."""


@dataclass(frozen=True, slots=True)
class ImageRequest:
    prompt: str
    model: str
    family: str
    """``dall-e-2``, ``dall-e-3`` or ``gpt-image`` (every GPT image model)."""
    n: int
    size: str
    """``WxH`` as answered (``auto`` resolved to 1024x1024)."""
    quality: str
    response_format: str
    output_format: str
    compression: int
    background: str
    stream: bool = False
    partial_images: int = 0

    @property
    def width_height(self) -> tuple[int, int]:
        w, h = self.size.split("x")
        return int(w), int(h)


def family_of(model: str) -> str | None:
    if model in ("dall-e-2", "dall-e-3"):
        return model
    return "gpt-image" if model.startswith(("gpt-image", "chatgpt-image")) else None


def validate_generation(raw: object, *, operation: str = "generations") -> ImageRequest:
    """A body of ``operation`` (``generations``, ``edits``, ``variations``: a form's fields
    typed) as an ``ImageRequest``.

    Raises:
        InvalidRequestError: what OpenAI refuses, naming the parameter.
    """
    if not isinstance(raw, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    if unknown := sorted(set(raw) - _KNOWN[operation]):
        raise InvalidRequestError(f"Unrecognized request argument supplied: {unknown[0]}",
                                  param=unknown[0])
    prompt = raw.get("prompt") if operation != "variations" else VARIATION_PROMPT
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequestError("Missing required parameter: 'prompt'.", param="prompt",
                                  code="missing_required_parameter" if prompt is None else None)
    model = raw.get("model")
    if model is None and operation == "edits":  # the spec's default, unless dall-e-2's
        model = "dall-e-2" if raw.get("response_format") is not None else "gpt-image-1.5"
    elif model is None:  # the spec: dall-e-2 unless a GPT-image-only parameter is present
        model = "gpt-image-1" if any(raw.get(k) is not None for k in GPT_ONLY) else "dall-e-2"
    family = family_of(model) if isinstance(model, str) else None
    if family not in _FAMILIES[operation]:
        raise InvalidRequestError(f"Invalid value for 'model': {model!r}; image {operation} "
                                  f"take {', '.join(_FAMILIES[operation])}"
                                  f"{' models' if 'gpt-image' in _FAMILIES[operation] else ''}.",
                                  param="model", code="invalid_value")
    if len(prompt) > PROMPT_MAX[family]:
        raise InvalidRequestError(f"Invalid 'prompt': string too long. Expected a string with "
                                  f"maximum length {PROMPT_MAX[family]}, but got a string with "
                                  f"length {len(prompt)} instead.", param="prompt",
                                  code="string_above_max_length")
    if family != "gpt-image":
        for key in GPT_ONLY:
            if raw.get(key) is not None:
                raise InvalidRequestError(f"Unknown parameter: '{key}' is only supported for "
                                          "GPT image models.", param=key)
    n = raw.get("n", 1) if raw.get("n") is not None else 1
    top = 1 if family == "dall-e-3" else 10
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= top:
        raise InvalidRequestError(f"Invalid 'n': expected an integer from 1 to {top}"
                                  f"{' (dall-e-3 makes one image per request)' if top == 1 else ''}"
                                  f", got {n!r}.", param="n")
    size = _choice(raw, "size", SIZES[family], "1024x1024" if family != "gpt-image" else "auto")
    quality = _choice(raw, "quality", QUALITIES[family], "auto")
    response_format = _choice(raw, "response_format", ("url", "b64_json"),
                              "b64_json" if family == "gpt-image" else "url")
    if family == "gpt-image" and raw.get("response_format") is not None:
        raise InvalidRequestError("Unknown parameter: 'response_format' is not supported for "
                                  "GPT image models (they always return b64_json).",
                                  param="response_format")
    output_format = _choice(raw, "output_format", tuple(FORMATS), "png")
    background = _choice(raw, "background", ("transparent", "opaque", "auto"), "auto")
    if background == "transparent" and output_format == "jpeg":
        raise InvalidRequestError("Transparent background requires output_format png or "
                                  "webp.", param="background")
    compression = raw.get("output_compression", 100)
    if compression is None:
        compression = 100
    if isinstance(compression, bool) or not isinstance(compression, int) \
            or not 0 <= compression <= 100:
        raise InvalidRequestError("Invalid 'output_compression': expected an integer from 0 "
                                  f"to 100, got {compression!r}.", param="output_compression")
    stream = raw.get("stream") or False
    if not isinstance(stream, bool):
        raise InvalidRequestError(f"Invalid 'stream': expected a boolean, got {stream!r}.",
                                  param="stream")
    partial = raw.get("partial_images") or 0
    if isinstance(partial, bool) or not isinstance(partial, int) or not 0 <= partial <= 3:
        raise InvalidRequestError("Invalid 'partial_images': expected an integer from 0 to 3, "
                                  f"got {partial!r}.", param="partial_images")
    _choice(raw, "style", ("vivid", "natural") if family == "dall-e-3" else (), None)
    _choice(raw, "moderation", ("low", "auto"), "auto")
    return ImageRequest(prompt, model, family, n, "1024x1024" if size == "auto" else size,
                        _resolved_quality(family, quality), response_format, output_format,
                        compression, "opaque" if background == "auto" else background,
                        stream, partial)


def _choice(raw: dict, key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = raw.get(key)
    if value is None:
        return default
    if value not in allowed:
        if not allowed:
            raise InvalidRequestError(f"Unknown parameter: '{key}' is not supported by this "
                                      "model.", param=key)
        raise InvalidRequestError(f"Invalid value: {value!r}. Supported values are: "
                                  f"{', '.join(repr(a) for a in allowed)}.", param=key,
                                  code="invalid_value")
    return value


def _resolved_quality(family: str, quality: str) -> str:
    if quality != "auto":
        return quality
    return "medium" if family == "gpt-image" else "standard"


def output_tokens(req: ImageRequest) -> int:
    """Image output tokens of one image (GPT image models; 0 for DALL·E, billed per image)."""
    if req.family != "gpt-image":
        return 0
    w, h = req.width_height
    return OUTPUT_TOKENS[(req.quality, "square" if w == h else "wide")]


def usage(req: ImageRequest) -> dict:
    """``ImagesResponse.usage`` for the whole request (GPT image models only)."""
    text = count_tokens(req.prompt)
    out = output_tokens(req) * req.n
    return {"input_tokens": text, "input_tokens_details": {"text_tokens": text,
                                                           "image_tokens": 0},
            "output_tokens": out, "output_tokens_details": {"image_tokens": out,
                                                            "text_tokens": 0},
            "total_tokens": text + out}


def render(req: ImageRequest, index: int, *, seed: str = "") -> bytes:
    """Image ``index`` of ``req``, encoded in its output format. CPU-bound: call it beside
    the loop."""
    return encode(canvas(req, index, seed=seed), req)


def render_partial(req: ImageRequest, index: int, step: int) -> bytes:
    """Partial image ``step`` (of ``req.partial_images``) of image ``index``: a share of the
    stripes, no caption yet, as a streamed preview. CPU-bound: call it beside the loop."""
    return encode(canvas(req, index, detail=(step + 1) / (req.partial_images + 1)), req)


def edit(req: ImageRequest, index: int, image: bytes, mask: bytes | None) -> bytes:
    """An edit of ``image``: the placeholder where ``mask`` is transparent (everywhere, and
    blended, without a mask), the original elsewhere, at the requested size. A variation
    is an edit without mask. CPU-bound: call it beside the loop."""
    from PIL import Image

    seed = blake2b(image, digest_size=8).hexdigest()
    drawn = canvas(req, index, seed=seed)
    original = Image.open(io.BytesIO(image)).convert(drawn.mode).resize(drawn.size)
    if mask is None:
        out = Image.blend(original, drawn, 0.6)
    else:
        alpha = Image.open(io.BytesIO(mask)).convert("RGBA").getchannel("A").resize(drawn.size)
        out = Image.composite(original, drawn, alpha)  # opaque mask keeps the original
    return encode(out, req)


def check_upload(data: bytes, param: str, *, png_only: bool, square: bool,
                 max_bytes: int) -> tuple[int, int]:
    """The size of an uploaded image, or a 400 naming ``param`` for what OpenAI refuses."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > max_bytes:
        raise InvalidRequestError(f"Invalid '{param}': the image must be less than "
                                  f"{max_bytes // (1024 * 1024)} MB.", param=param)
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InvalidRequestError(f"Invalid '{param}': the file is not a PNG, JPEG or WebP "
                                  "image.", param=param, code="invalid_image_format") from None
    allowed = ("PNG",) if png_only else ("PNG", "JPEG", "WEBP")
    if kind not in allowed:
        raise InvalidRequestError(f"Invalid '{param}': {kind} images are not supported; send "
                                  f"{' or '.join(allowed)}.", param=param,
                                  code="invalid_image_format")
    if square and size[0] != size[1]:
        raise InvalidRequestError(f"Invalid '{param}': the image must be square, got "
                                  f"{size[0]}x{size[1]}.", param=param)
    return size


def canvas(req: ImageRequest, index: int, *, seed: str = "", detail: float = 1.0):
    """The placeholder as a Pillow image. ``detail`` < 1 draws a partial image (fewer
    stripes, no text), for streamed previews."""
    from PIL import Image, ImageDraw, ImageFont  # the gateway starts without Pillow loaded

    w, h = req.width_height
    digest = blake2b(f"{req.prompt}\x00{index}\x00{seed}".encode("utf-8", "surrogatepass"),
                     digest_size=12).digest()
    base, stripe = tuple(digest[0:3]), tuple(digest[3:6])
    transparent = req.background == "transparent"
    image = Image.new("RGBA" if transparent else "RGB", (w, h),
                      (0, 0, 0, 0) if transparent else _soft(base))
    draw = ImageDraw.Draw(image)
    step = max(16, min(w, h) // 12)
    colour = _soft(stripe) + ((200,) if transparent else ())
    for x in range(-h, int(w * detail), step * 2):  # diagonal stripes: the placeholder look
        draw.polygon([(x, 0), (x + step, 0), (x + step + h, h), (x + h, h)], fill=colour)
    if detail >= 1.0:
        _caption(draw, ImageFont, req.prompt, w, h)
    return image


def encode(image, req: ImageRequest) -> bytes:
    out = io.BytesIO()
    options = {"quality": max(1, req.compression)} if req.output_format != "png" else {}
    if req.output_format == "jpeg" and image.mode != "RGB":
        image = image.convert("RGB")
    image.save(out, FORMATS[req.output_format], **options)
    return out.getvalue()


def _soft(rgb: tuple[int, ...]) -> tuple[int, int, int]:
    """A light pastel of ``rgb``, so black text stays readable on it."""
    return tuple(160 + c * 95 // 255 for c in rgb[:3])  # type: ignore[return-value]


def _caption(draw, font_module, prompt: str, w: int, h: int) -> None:
    size = max(10, min(w, h) // 24)
    font = font_module.load_default(size=size)
    words = " ".join(prompt.split())
    width = max(8, int(w * 0.8) // max(1, int(size * 0.55)))
    lines = ["PLACEHOLDER IMAGE · behest-local", ""] + textwrap.wrap(words, width)[:8]
    line_h = int(size * 1.3)
    top = (h - line_h * len(lines)) // 2
    pad = size // 2
    draw.rectangle([w * 0.08, top - pad, w * 0.92, top + line_h * len(lines) + pad],
                   fill=(255, 255, 255, 230) if draw.mode == "RGBA" else (255, 255, 255))
    for i, line in enumerate(lines):
        draw.text((w / 2, top + i * line_h), line, fill=(20, 20, 20, 255) if
                  draw.mode == "RGBA" else (20, 20, 20), font=font, anchor="ma")

"""Deterministic offline moderation for ``POST /v1/moderations``.

The route (``server/routes/moderations.py``) answers here when no OpenAI key routes the call
upstream: :func:`validate_moderation_request` checks the body as OpenAI does (a 400 naming the
field), :func:`moderate` returns OpenAI's ``{id, model, results}`` object with every category
of ``omni-moderation-latest`` in all three maps. The model is a small keyword/pattern one: a
category whose pattern matches the text scores high and is flagged; every other score is a
small value derived from a hash of the input, so answers are stable across runs and machines.
Image parts cannot be looked at offline: they add ``"image"`` to the applied input types of
the image-capable categories and score low. Tests pin a verdict with the ``x-behest-emulate``
directive ``flag=violence|hate`` (those categories flagged for every input). Pure computation.
"""

from __future__ import annotations

import re
from hashlib import blake2b

from behest_local.errors import InvalidRequestError

MODERATION_MODELS = ("omni-moderation-latest", "omni-moderation-2024-09-26",
                     "text-moderation-latest", "text-moderation-stable")
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"
# Categories that can apply to images (the others are judged on text only).
IMAGE_CATEGORIES = frozenset({"self-harm", "self-harm/intent", "self-harm/instructions",
                              "sexual", "violence", "violence/graphic"})
# Text-moderation models predate these two: OpenAI sends them as null (reference §8).
OMNI_ONLY = frozenset({"illicit", "illicit/violent"})

# Category → pattern of obvious cases. Word boundaries keep "skill" from matching "kill".
_PATTERNS: dict[str, str] = {
    "hate": r"\b(i hate (all )?(jews|muslims|christians|blacks|whites|gays|immigrants)|"
            r"subhuman|vermin race|inferior race)\b",
    "hate/threatening": r"\b(exterminate|wipe out|kill all) (the )?(jews|muslims|christians|"
                        r"blacks|whites|gays|immigrants)\b",
    "harassment": r"\b(you('re| are) (an? )?(idiot|moron|worthless|pathetic|loser)|"
                  r"shut up,? (you )?idiot|nobody likes you)\b",
    "harassment/threatening": r"\b(i('m| am| will|'ll) (going to )?(kill|hurt|find|beat) you|"
                              r"you('re| are) (dead|going to die))\b",
    "illicit": r"\b(how (do i|to) (make|cook|buy|sell) (meth|cocaine|heroin|drugs)|"
               r"launder(ing)? money|steal (a|someone's) (car|identity))\b",
    "illicit/violent": r"\b(how (do i|to) (make|build) (a )?(bomb|pipe bomb|explosive|gun)|"
                       r"hire a hitman)\b",
    "self-harm": r"\b(hurt(ing)? myself|cut(ting)? myself|self[- ]harm|kill myself|"
                 r"end my life|suicide)\b",
    "self-harm/intent": r"\b(i want to (die|kill myself|end my life|hurt myself)|"
                        r"i('m| am) going to kill myself)\b",
    "self-harm/instructions": r"\b(how (do i|to) (kill myself|commit suicide|cut myself)|"
                              r"best way to (die|kill myself))\b",
    "sexual": r"\b(porn|pornographic|explicit sex|sexual intercourse|nude|naked)\b",
    "sexual/minors": r"\b((sexual|nude|naked)\b.*\b(child|children|minor|kid)s?|"
                     r"(child|children|minor|kid)s?\b.*\b(sexual|nude|naked))\b",
    # Not "kill the process" or "shoot a screenshot": a machine's objects are not victims.
    "violence": r"\b(kill|murder|stab|shoot|strangle|behead|torture|slaughter)(s|ed|ing)?\b"
                r"(?! (?:the |a |an |this |that |my |all |every |any )?(?:\w+ )?"
                r"(?:process(?:es)?|jobs?|tasks?|threads?|servers?|containers?|pods?|sessions?|"
                r"commands?|programs?|apps?|tabs?|daemons?|services?|workers?|pids?|"
                r"screenshots?|emails?|messages?|photos?|videos?|scenes?|films?)\b)",
    "violence/graphic": r"\b(blood everywhere|guts|gore|dismember(ed)?|entrails|"
                        r"mutilat(ed|ion)|severed (head|limb))\b",
}
CATEGORIES: tuple[str, ...] = tuple(_PATTERNS)
_COMPILED = {name: re.compile(p, re.IGNORECASE | re.DOTALL) for name, p in _PATTERNS.items()}
# Parent categories follow their sub-categories: a threat of violence is violence too.
_IMPLIES = {"hate/threatening": ("hate", "violence"), "harassment/threatening":
            ("harassment", "violence"), "illicit/violent": ("illicit", "violence"),
            "self-harm/intent": ("self-harm",), "self-harm/instructions": ("self-harm",),
            "sexual/minors": ("sexual",), "violence/graphic": ("violence",)}
_FLAGGED_SCORE = 0.9
_SEPARATORS = re.compile(r"[|+ ]+")


def validate_moderation_request(raw: object) -> dict:
    """The body as ``{"model", "inputs"}``: ``inputs`` is a list of results to compute,
    each a list of ``("text" | "image", value)`` parts.

    Raises:
        InvalidRequestError: a body that is not an object, no or a malformed ``input``,
            an image part for a text-moderation model.
    """
    if not isinstance(raw, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    model = raw.get("model")
    if model is None:
        model = DEFAULT_MODERATION_MODEL
    elif not isinstance(model, str) or not model:
        raise InvalidRequestError(f"Invalid type for 'model': expected a string, got "
                                  f"{type(model).__name__}.", param="model")
    if "input" not in raw:
        raise InvalidRequestError("Missing required parameter: 'input'.", param="input",
                                  code="missing_required_parameter")
    value = raw["input"]
    if isinstance(value, str):
        inputs = [[("text", value)]]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        inputs = [[("text", v)] for v in value]
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        inputs = [[_part(v, i) for i, v in enumerate(value)]]  # one result for all parts
    else:
        raise InvalidRequestError(
            "Invalid value for 'input': expected a string, an array of strings, or an array "
            "of text and image_url parts.", param="input")
    if not model.startswith("omni") and any(kind == "image" for p in inputs for kind, _ in p):
        raise InvalidRequestError(f"Model {model!r} does not accept image inputs; use "
                                  "omni-moderation-latest.", param="input")
    return {"model": model, "inputs": inputs}


def _part(part: dict, index: int) -> tuple[str, str]:
    kind = part.get("type")
    if kind == "text" and isinstance(part.get("text"), str):
        return "text", part["text"]
    if kind == "image_url":
        url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"),
                                                                      dict) else None
        if isinstance(url, str) and (url.startswith(("http://", "https://", "data:image/"))):
            return "image", url
        raise InvalidRequestError(
            f"Invalid value for 'input[{index}].image_url.url': expected an http(s) URL or a "
            "data:image/… URL.", param=f"input[{index}].image_url.url")
    raise InvalidRequestError(
        f"Invalid value for 'input[{index}]': expected {{'type': 'text', 'text': …}} or "
        "{'type': 'image_url', 'image_url': {'url': …}}.", param=f"input[{index}]")


def pinned_categories(directive: str | None) -> frozenset[str]:
    """The categories an ``x-behest-emulate: flag=…`` directive pins (``|``/``+`` between)."""
    if not directive:
        return frozenset()
    names = frozenset(n for n in _SEPARATORS.split(directive.strip().lower()) if n)
    unknown = sorted(names - set(CATEGORIES))
    if unknown:
        raise InvalidRequestError(
            f"x-behest-emulate: flag= names unknown categories {', '.join(unknown)}; known: "
            f"{' | '.join(CATEGORIES)}.", param="x-behest-emulate",
            code="invalid_emulate_directive")
    return names


def moderate(body: dict, request_id: str, pinned: frozenset[str] = frozenset()) -> dict:
    """OpenAI's moderation object for a validated body (``validate_moderation_request``)."""
    model = body["model"]
    return {"id": f"modr-{request_id}", "model": model,
            "results": [_result(parts, model, pinned) for parts in body["inputs"]]}


def _result(parts: list[tuple[str, str]], model: str, pinned: frozenset[str]) -> dict:
    text = "\n".join(v for kind, v in parts if kind == "text")
    has_image = any(kind == "image" for kind, _ in parts)
    hits = set(pinned) | {name for name, rx in _COMPILED.items() if text and rx.search(text)}
    for name in list(hits):
        hits.update(_IMPLIES.get(name, ()))
    seed = "\x00".join(f"{k}:{v}" for k, v in parts)
    omni = model.startswith("omni")
    categories, scores, applied = {}, {}, {}
    for name in CATEGORIES:
        flagged = name in hits
        categories[name] = None if name in OMNI_ONLY and not omni else flagged
        scores[name] = _score(seed, name, flagged)
        kinds = (["text"] if text or not has_image else []) + \
            (["image"] if has_image and name in IMAGE_CATEGORIES else [])
        applied[name] = kinds
    return {"flagged": bool(hits), "categories": categories, "category_scores": scores,
            "category_applied_input_types": applied}


def _score(seed: str, name: str, flagged: bool) -> float:
    """A stable score: 0.90–0.99 when flagged, else 1e-6–1e-3 (unflagged scores are small
    but never the same for every category, as a real classifier's are not)."""
    h = int.from_bytes(blake2b(f"{name}\x00{seed}".encode("utf-8", "surrogatepass"),
                               digest_size=8).digest(), "little") / 2 ** 64
    if flagged:
        return round(_FLAGGED_SCORE + 0.09 * h, 6)
    return float(f"{10 ** (-6 + 3 * h):.3e}")

"""The price of a model's usage, offline: a bundled table, overridable in ``[prices]``.

Cost is what the FinOps side reports (``GET /v1/usage``, ``/v1/billing/usage``) and what
the dollar budgets (``budgets.*_cost_usd*``) count. The bundled prices are the providers'
public list prices in USD for standard (non-batch, non-cached) input and output, as
published in 2025; they make the numbers plausible with no network. Each is stated in the
unit the provider bills (``Unit``): tokens for language models, characters for ``tts-1``,
minutes of audio for ``whisper-1``, images (by quality and size) for DALL·E. The routes
record usage in those units (``Exchange.usage``: characters, seconds or images as the input
or output count, and ``Exchange.variant`` for a per-image price). A user's
``[prices."model"]`` table replaces or adds entries (``ModelPrice``: ``input``, ``output``),
in the unit of the bundled entry of that name (per million tokens for a new one).

Lookup is by *longest prefix*: ``claude-sonnet-4-20250514`` is priced by
``claude-sonnet-4``, ``gpt-4o-mini-2024-07-18`` by ``gpt-4o-mini``. Names are compared in
lower case with ``.`` read as ``-`` (``claude-opus-4.6`` = ``claude-opus-4-6``) and any
routing prefix (``openai/``, ``anthropic/``, ``gemini/``, ``openrouter/vendor/``) removed.
A model with no entry costs 0 and is reported as unpriced, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from behest_local.config import ModelPrice

BUNDLED: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5": (1.25, 10.0), "gpt-5-mini": (0.25, 2.0), "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0), "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0), "gpt-4o-mini": (0.15, 0.60), "chatgpt-4o": (5.0, 15.0),
    "gpt-4-turbo": (10.0, 30.0), "gpt-4": (30.0, 60.0), "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.0, 60.0), "o1-mini": (1.10, 4.40), "o3": (2.0, 8.0), "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "text-embedding-3-small": (0.02, 0.0), "text-embedding-3-large": (0.13, 0.0),
    "text-embedding-ada-002": (0.10, 0.0),
    # Image models bill text in and image tokens out (providers/emulated/images.OUTPUT_TOKENS):
    # a medium 1024x1024 gpt-image-1 image is 1,056 tokens, OpenAI's $0.042 per image.
    # DALL-E is billed per image: PER_IMAGE.
    "gpt-image-1": (5.0, 40.0),
    # Anthropic
    "claude-opus-4": (15.0, 75.0), "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0), "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0), "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0), "claude-3-5-haiku": (0.80, 4.0),
    "claude-3-opus": (15.0, 75.0), "claude-3-haiku": (0.25, 1.25),
    # Google
    "gemini-2.5-pro": (1.25, 10.0), "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40), "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30), "gemini-1.5-pro": (1.25, 5.0),
    "gemini-1.5-flash": (0.075, 0.30),
    # Mistral
    "mistral-large": (2.0, 6.0), "mistral-medium": (0.40, 2.0), "mistral-small": (0.10, 0.30),
    "codestral": (0.30, 0.90), "open-mistral-nemo": (0.15, 0.15), "ministral-8b": (0.10, 0.10),
    # Cohere
    "command-a": (2.50, 10.0), "command-r-plus": (2.50, 10.0), "command-r": (0.15, 0.60),
    "command-r7b": (0.0375, 0.15),
    # Audio models that bill tokens (tts-1 and whisper-1 do not: PER_UNIT).
    "gpt-4o-mini-tts": (0.60, 12.0), "gpt-4o-transcribe": (6.0, 10.0),
    "gpt-4o-mini-transcribe": (3.0, 5.0),
}
"""USD per million (input, output) tokens, keyed by model name or prefix."""


@dataclass(frozen=True, slots=True)
class Unit:
    """What a price is per: ``per`` of what the usage counts (``counts``)."""

    counts: str
    """What the route records as the input or output count: ``token``, ``character``,
    ``second``, ``image``."""
    per: int
    """How many of them the price is for."""
    label: str
    """The price's unit as said: ``1M tokens``, ``minute``."""


TOKENS = Unit("token", 1_000_000, "1M tokens")
CHARACTERS = Unit("character", 1_000_000, "1M characters")
MINUTES = Unit("second", 60, "minute")  # OpenAI: $0.006 a minute, reported in seconds
IMAGES = Unit("image", 1, "image")

PER_UNIT: dict[str, tuple[float, Unit]] = {
    # speech.billed records the input's characters, transcribe.billed its seconds
    "tts-1": (15.0, CHARACTERS), "tts-1-hd": (30.0, CHARACTERS),
    "whisper-1": (0.006, MINUTES),
}
"""USD per ``Unit`` of input, for the models not billed by the token."""

PER_IMAGE: dict[str, dict[str, float]] = {
    "dall-e-3": {"standard 1024x1024": 0.040, "standard 1024x1792": 0.080,
                 "standard 1792x1024": 0.080, "hd 1024x1024": 0.080,
                 "hd 1024x1792": 0.120, "hd 1792x1024": 0.120},
    "dall-e-2": {"standard 256x256": 0.016, "standard 512x512": 0.018,
                 "standard 1024x1024": 0.020},
}
"""USD per image by ``variant`` (``"<quality> <size>"``, ``image_variant``): the images
routes record ``n`` images as the output count and the variant on the exchange."""


def image_variant(quality: str, size: str) -> str:
    """The ``PER_IMAGE`` key of an image of ``quality`` and ``size`` (``WxH``)."""
    return f"{quality} {size}"

COST_DECIMALS = 6
"""Dollars are reported to the millionth (``GET /v1/usage``'s ``cost_usd``): a short
request to a small model costs a few millionths, which a coarser figure would show as 0."""


def reported_cost(cost: float) -> float:
    """``cost`` as the usage reports state it; what any other view of it derives from."""
    return round(cost, COST_DECIMALS)


_ROUTING_PREFIXES = ("openai/", "anthropic/", "gemini/", "google/", "mistral/", "cohere/")


def normalize(model: str) -> str:
    name = model.strip().lower()
    if name.startswith("openrouter/"):
        name = name[len("openrouter/"):]
    for prefix in _ROUTING_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if "/" in name:  # vendor/model (OpenRouter style): the vendor's own model name
        name = name.rsplit("/", 1)[1]
    return name.replace(".", "-")


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    """USD per ``unit`` of input."""
    output: float
    """USD per ``unit`` of output."""
    source: str
    """Which entry priced it: ``bundled:<name>`` or ``config:<name>``."""
    unit: Unit = TOKENS
    variants: Mapping[str, float] | None = None
    """USD per output unit by variant (DALL·E's per image), in place of ``output``."""

    def cost(self, prompt_tokens: int, completion_tokens: int,
             variant: str | None = None) -> float:
        """USD for the counts; an unknown ``variant`` of a per-variant price is unpriced (0)."""
        output = self.output
        if self.variants is not None:
            output = self.variants.get(variant or "", 0.0)
        return (prompt_tokens * self.input + completion_tokens * output) / self.unit.per


def _bundled() -> dict[str, Price]:
    entries = {name: Price(i, o, f"bundled:{name}") for name, (i, o) in BUNDLED.items()}
    for name, (price, unit) in PER_UNIT.items():
        entries[name] = Price(price, 0.0, f"bundled:{name}", unit)
    for name, variants in PER_IMAGE.items():
        entries[name] = Price(0.0, 0.0, f"bundled:{name}", IMAGES, variants)
    return entries


class PriceTable:
    """The bundled prices with ``overrides`` (``Settings.prices``) laid over them."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self._entries: dict[str, Price] = {
            normalize(name): price for name, price in _bundled().items()}
        for name, price in (overrides or {}).items():
            bundled = self._entries.get(normalize(name))  # its unit, without its variants
            self._entries[normalize(name)] = Price(
                price.input, price.output, f"config:{name}",
                bundled.unit if bundled is not None else TOKENS)
        self._cache: dict[str, Price | None] = {}

    def lookup(self, model: str | None) -> Price | None:
        """The price of ``model`` (longest matching prefix), or None when unpriced."""
        if not model:
            return None
        if model in self._cache:
            return self._cache[model]
        name = normalize(model)
        best = max((key for key in self._entries if name.startswith(key)), key=len,
                   default=None)
        price = self._entries[best] if best is not None else None
        if len(self._cache) < 4096:
            self._cache[model] = price
        return price

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int,
             variant: str | None = None) -> float:
        price = self.lookup(model)
        return 0.0 if price is None else price.cost(prompt_tokens, completion_tokens, variant)



_BUNDLED_TABLE: PriceTable | None = None


def unit_of(model: str | None) -> Unit:
    """The unit ``model``'s usage counts in (``TOKENS`` for a model the table does not
    know): what a view labels its input and output counts with. A ``[prices]`` entry keeps
    the bundled unit, so the bundled table answers for every settings."""
    global _BUNDLED_TABLE
    if _BUNDLED_TABLE is None:
        _BUNDLED_TABLE = PriceTable()
    price = _BUNDLED_TABLE.lookup(model)
    return TOKENS if price is None else price.unit

"""Leaf values for generated JSON: strings, numbers and booleans that fit a schema and the prompt.

``schema_instance`` decides the shape of a value (objects, arrays, branches); when it reaches
a scalar it asks this module. A value is chosen in two steps: first a *meaningful* candidate
from the property name and the prompt's ``Hints`` (a ``city`` field echoes "Paris", an
``email`` field becomes an address, a ``summary`` restates the request, ``age`` takes a number
written in the prompt), then the candidate is bent to the schema's ``format``, ``pattern``,
length, bound and ``multipleOf`` constraints, each result checked by ``schema_check``.
"""

from __future__ import annotations

import math
import random
import re
import uuid

from behest_local.providers.emulated.prompt_cues import Hints, field_words
from behest_local.providers.emulated.regex_sample import sample_pattern
from behest_local.providers.emulated.schema_check import conforms, is_multiple_of, num, pattern_matches

# Client schemas are untrusted: a "minLength: 10**9" must not exhaust memory. Beyond this the
# value is knowingly invalid.
_MAX_STRING = 100_000

# Property-name words grouped by the kind of string they call for. The last word of a name
# decides first ("home_city" is a place), then any other word.
_STRING_ROLES = {
    "place": {"city", "town", "location", "place", "destination", "origin", "country", "region",
              "capital", "venue", "area", "airport", "where"},
    "person": {"author", "person", "user", "username", "owner", "contact", "customer",
               "recipient", "sender", "assignee", "first", "last", "full", "who"},
    "title": {"name", "title", "label", "subject", "heading", "headline", "product",
              "company", "organization", "brand", "project", "team", "event", "entity"},
    "email": {"email", "mail"},
    "url": {"url", "uri", "link", "website", "homepage", "href", "site"},
    "phone": {"phone", "telephone", "mobile", "tel"},
    "id": {"id", "uuid", "guid", "identifier"},
    "date": {"date", "day", "birthday", "deadline", "dob"},
    "datetime": {"datetime", "timestamp", "created", "updated", "at"},
    "time": {"time"},
    "prose": {"description", "summary", "reason", "reasoning", "explanation", "details", "detail",
              "answer", "response", "reply", "text", "content", "message", "comment", "comments",
              "notes", "note", "body", "justification", "feedback", "rationale", "analysis",
              "thoughts", "thought", "conclusion", "output", "result", "instructions", "sentence"},
    "query": {"query", "search", "q", "prompt", "question", "input", "request", "topic"},
    "keyword": {"category", "type", "kind", "genre", "tag", "tags", "keyword", "keywords", "word",
                "term", "terms", "skill", "skills", "item", "items", "ingredient", "value"},
}  # fmt: skip

# Fixed plausible strings for names that the prompt rarely spells out.
_STRING_DEFAULTS = {
    "language": "English", "lang": "en", "locale": "en-US", "color": "blue", "colour": "blue",
    "currency": "USD", "unit": "celsius", "units": "metric", "status": "ok", "state": "active",
    "sentiment": "positive", "mood": "calm", "gender": "unspecified", "version": "1.0.0",
    "password": "correct-horse-battery", "code": "A1", "symbol": "ACME", "ticker": "ACME",
    "zip": "10001", "postcode": "10001", "street": "1 Main Street", "address": "1 Main Street",
    "format": "json", "model": "behest-emulated", "role": "assistant", "priority": "high",
    "level": "medium", "difficulty": "medium", "severity": "low", "action": "none",
}  # fmt: skip

_FORMAT_ALIASES = {"idn-email": "email", "iri": "uri", "uri-reference": "uri", "iri-reference": "uri",
                   "url": "uri", "idn-hostname": "hostname"}  # fmt: skip
_FIXED_FORMATS = {"duration": "PT1H30M", "relative-json-pointer": "0", "regex": "^[a-z]+$",
                  "uri-template": "https://example.com/{id}", "byte": "aGVsbG8="}  # fmt: skip

# Plausible numbers per property-name word, used when the prompt offers none.
_NUMBER_DEFAULTS = {
    "temperature": 21, "temp": 21, "age": 30, "year": 2025, "price": 19.99, "cost": 19.99,
    "amount": 100, "quantity": 3, "count": 3, "rating": 4, "stars": 4, "score": 87,
    "percent": 50, "percentage": 50, "probability": 0.9, "confidence": 0.9, "latitude": 48.8566,
    "lat": 48.8566, "longitude": 2.3522, "lon": 2.3522, "lng": 2.3522, "weight": 70,
    "height": 175, "duration": 30, "minutes": 30, "hours": 2, "days": 7, "page": 1, "limit": 10,
    "humidity": 60, "speed": 12, "distance": 5, "population": 1000000, "priority": 1, "id": 1,
}  # fmt: skip

# Flag names whose natural default is false: nothing is deleted, failed or spam by default.
_TROUBLE_FLAGS = frozenset({"deleted", "disabled", "archived", "spam", "error", "errors", "failed", "blocked",
                            "deprecated", "banned", "expired", "overdue", "fraud", "flagged", "hidden"})  # fmt: skip

# Numeric names that mean "the number the user wrote" rather than a measurement.
_NUMBER_FROM_PROMPT = {"count", "number", "num", "n", "quantity", "qty", "amount", "total", "age",
                       "year", "years", "price", "cost", "value", "sum", "result", "answer", "a", "b",
                       "x", "y", "limit", "days", "hours", "minutes", "seconds", "people", "adults",
                       "guests", "size", "max", "min", "k", "top", "nights", "copies", "pages"}  # fmt: skip

_PROSE_TEMPLATES = {
    "summary": ("In short: {topic}.", "A brief summary of {topic}.", "Summary: {topic}."),
    "reason": ("Because the request is about {topic}.", "Chosen to address {topic}."),
    "description": ("A description of {topic}.", "Describes {topic}."),
    "": ("Regarding {topic}: see the request.", "About {topic}.", "This concerns {topic}."),
}
_PROSE_KIND = {"summary": "summary", "conclusion": "summary", "reason": "reason",
               "reasoning": "reason", "rationale": "reason", "justification": "reason",
               "explanation": "reason", "description": "description", "details": "description",
               "detail": "description"}  # fmt: skip
# Fields that hold the answer itself: filled with the text reply when there is one.
_ANSWER_FIELDS = {"answer", "response", "reply", "output", "result", "text", "content", "message"}


def string_role(field: str) -> tuple[str, str]:
    """The kind of string a property name calls for, and the word that decided it."""
    words = field_words(field)
    # "city_name" is a place and "first_name" a person: a generic "name" defers to its qualifier.
    order = [words[-2], *words[-1:], *words[:-2]] if words[-1:] == ["name"] and len(words) > 1 else [
        *words[-1:], *words[:-1]]
    for word in order:
        for role, names in _STRING_ROLES.items():
            if word in names:
                return role, word
        if word in _STRING_DEFAULTS:
            return "default", word
    return "", words[-1] if words else ""


def slug(text: str, sep: str = "-") -> str:
    """``text`` as a lowercase ASCII slug ("New York" -> "new-york")."""
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep) or "item"


def _meaningful_string(hints: Hints, rng: random.Random) -> str:
    role, word = string_role(hints.field)
    name = hints.nth(hints.names)
    topic = hints.topic or hints.text or "the request"
    if role == "place":
        places = hints.places or hints.names
        if word == "destination" and len(places) > 1:
            return places[-1]
        return hints.nth(places) or ("France" if word == "country" else "Paris")
    if role == "person":
        person = hints.nth(hints.people) or name or "Alex Morgan"
        return person.split()[0] if word == "first" else person.split()[-1] if word == "last" else person
    if role == "title":
        return hints.nth(hints.quoted) or name or (" ".join(hints.terms[:3]).title() or "Untitled")
    if role == "email":
        return hints.nth(hints.emails) or f"{slug(name or 'user', '.')}@example.com"
    if role == "url":
        return hints.nth(hints.urls) or f"https://example.com/{slug(name or topic)[:40]}"
    if role == "phone":
        return "+1-555-0100"
    if role == "id":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if role in ("date", "datetime", "time"):
        return _format_value(role.replace("datetime", "date-time"), hints, rng) or ""
    if role == "prose":
        # The text reply answers the question; after tool calls it also reports the results.
        if hints.answer and (word in _ANSWER_FIELDS or hints.facts):
            return hints.answer
        return rng.choice(_PROSE_TEMPLATES[_PROSE_KIND.get(word, "")]).format(topic=topic)
    if role == "query":
        return hints.nth(hints.quoted) or topic
    if role == "keyword":
        # Skip the field's own name: "tags: chess" should not produce the tag "tags".
        own = {word, word.rstrip("s")}
        terms = tuple(t for t in hints.terms if t not in own and t.rstrip("s") not in own)
        return hints.nth(terms) or hints.nth(hints.keywords) or word
    if role == "default":
        return "fahrenheit" if word == "unit" and "fahrenheit" in hints.keywords else _STRING_DEFAULTS[word]
    if not hints.field:  # a bare string at the top level: the reply itself, or the topic
        return hints.answer or topic
    return hints.nth(hints.quoted) or name or hints.nth(hints.keywords) or " ".join(field_words(hints.field))


def _format_value(fmt: str, hints: Hints, rng: random.Random) -> str | None:
    """A value for a ``format`` (None when the format is unknown)."""
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    name = hints.nth(hints.names) or "user"
    if fmt in ("date", "date-time", "time"):
        date = hints.nth(hints.dates) or f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        clock = f"{rng.randint(8, 18):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
        return {"date": date, "date-time": f"{date}T{clock}Z", "time": f"{clock}Z"}[fmt]
    if fmt == "email":
        return hints.nth(hints.emails) or f"{slug(name, '.')}@example.com"
    if fmt == "uri":
        return hints.nth(hints.urls) or f"https://example.com/{slug(name)}"
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt == "ipv4":
        return f"192.0.2.{rng.randint(1, 254)}"  # TEST-NET-1 (RFC 5737): never a real host
    if fmt == "ipv6":
        return f"2001:db8::{rng.randint(1, 0xFFFF):x}"  # documentation prefix (RFC 3849)
    if fmt == "hostname":
        return f"{slug(name)}.example.com"
    if fmt == "json-pointer":
        return f"/{slug(name)}"
    return _FIXED_FORMATS.get(fmt)


def fit_length(text: str, low: int, high: float, hints: Hints) -> str:
    """``text`` cut or extended (with words from the prompt) to ``low..high`` characters."""
    low = min(low, _MAX_STRING)
    if len(text) > high:
        cut = text[: int(high)]
        # Prefer ending on a word boundary when that keeps the string long enough.
        trimmed = cut.rsplit(" ", 1)[0] if " " in cut else cut
        text = trimmed if len(trimmed) >= low else cut
    filler = " ".join(hints.keywords) or "emulated value"
    if len(text) < low:
        copies = (low - len(text)) // (len(filler) + 1) + 1
        text = " ".join([text, *[filler] * copies]) if text else " ".join([filler] * copies)
    return text[: int(high)] if len(text) > high else text


def string_for(schema: dict, rng: random.Random, hints: Hints) -> str:
    """A string valid against ``schema``'s string keywords, echoing the prompt where it can."""
    low = int(num(schema, "minLength", 0) or 0)
    high = num(schema, "maxLength", math.inf)
    fmt = schema.get("format")
    base = (_format_value(fmt, hints, rng) if isinstance(fmt, str) else None) or _meaningful_string(hints, rng)
    pattern = schema.get("pattern")
    if not isinstance(pattern, str):
        return fit_length(base, low, high, hints)
    return _string_for_pattern(pattern, base, low, high, rng, hints)


def _string_for_pattern(pattern: str, base: str, low: int, high: float, rng: random.Random, hints: Hints) -> str:
    """Prefer a prompt-derived string the pattern accepts; else sample the pattern itself."""

    def fits(text: str | None) -> bool:
        return text is not None and low <= len(text) <= high and pattern_matches(pattern, text)

    numbers = [str(n) for n in hints.numbers]
    words = [w for phrase in (*hints.names, *hints.quoted) for w in (phrase, *phrase.split())]
    for candidate in (base, base.lower(), base.upper(), slug(base), slug(base, "_"), *words, *numbers):
        for text in (candidate, fit_length(candidate, low, high, hints)):
            if fits(text):
                return text
    sampled: str | None = None
    # Random repeat counts first, then fixed ones sized to the length limits.
    stretches = [None, 0, None, low, max(low - 1, 0), low // 2, None, 1, 2, None, 3, low // 3]
    for extra in stretches:
        sampled = sample_pattern(pattern, rng, extra=extra) or sampled
        if fits(sampled):
            return sampled  # type: ignore[return-value]
    return sampled if sampled is not None else fit_length(base, low, high, hints)


def number_for(schema: dict, rng: random.Random, hints: Hints, *, integer: bool) -> int | float:
    """A number within ``schema``'s bounds and ``multipleOf``, preferring the prompt's numbers."""
    words = field_words(hints.field)
    preferred: list[float] = []
    # Measurements ("temperature") keep their plausible default; counts and unknown names take
    # the numbers the user wrote, starting with this slot's own (a=3, b=5 for "3 + 5").
    if not words or set(words) & _NUMBER_FROM_PROMPT or not set(words) & _NUMBER_DEFAULTS.keys():
        start = hints.item % len(hints.numbers) if hints.numbers else 0
        preferred += [*hints.numbers[start:], *hints.numbers[:start]]
    preferred += [_NUMBER_DEFAULTS[w] for w in reversed(words) if w in _NUMBER_DEFAULTS]
    preferred.append(10)

    def fits(value: float) -> bool:
        return (not integer or float(value).is_integer()) and conforms(value, _numeric_part(schema))

    for value in (*preferred, *_fallbacks(schema, preferred[0], integer)):
        if isinstance(value, (int, float)) and math.isfinite(value) and fits(value):
            return int(value) if integer else value
    return 0


def _numeric_part(schema: dict) -> dict:
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
    return {k: schema[k] for k in keys if k in schema}


def _fallbacks(schema: dict, target: float, integer: bool) -> list[float]:
    """Candidates near ``target`` that respect the bounds, then multiples of ``multipleOf``."""
    low = num(schema, "minimum", -math.inf)
    high = num(schema, "maximum", math.inf)
    low = max(low, num(schema, "exclusiveMinimum", -math.inf))  # exclusivity is re-checked later
    high = min(high, num(schema, "exclusiveMaximum", math.inf))
    if integer:
        low, high = math.ceil(low) if math.isfinite(low) else low, math.floor(high) if math.isfinite(high) else high
    inside = min(max(target, low), high)
    candidates = [inside, low, high, low + 1, high - 1, (low + high) / 2]
    if integer and math.isfinite(low) and math.isfinite(high):
        candidates.append(math.floor((low + high) / 2))
    step = num(schema, "multipleOf")
    if step and step > 0:
        centres = [c for c in (target, inside, low, high) if math.isfinite(c)] or [0.0]
        for centre in centres:
            # Whole numbers stay in exact integer arithmetic: 10**30 / 7 as a float loses digits.
            k = centre // step if isinstance(centre, int) and isinstance(step, int) else round(centre / step)
            for delta in (0, 1, -1, 2, -2, 3, -3):
                value = (k + delta) * step
                # Round away float noise (3 * 0.1 = 0.30000000000000004) when that stays a multiple.
                rounded = round(value, 10)
                candidates += [rounded, value] if is_multiple_of(rounded, step) else [value]
    return candidates


def boolean_for(hints: Hints) -> bool:
    """True for most flags ("is_available", "success"); false for ones that flag trouble."""
    return not set(field_words(hints.field)) & _TROUBLE_FLAGS

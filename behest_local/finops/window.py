"""Time ranges for the usage endpoints: ``from``/``to`` parsed leniently, and granularity.

Clients spell instants several ways (reference/behest-api.md §1.6), all accepted:

* a date, ``2026-04-01``: midnight UTC; as ``to`` the whole day is included (the docs'
  ``?from=2026-04-01&to=2026-04-30`` means all of April);
* RFC 3339 / ISO 8601 with ``Z`` or an offset, with or without fractions:
  ``2026-04-10T00:00:00.000Z`` (the TS SDK's ``toISOString()``, percent-encoded);
* the Python SDK's ``isoformat()`` sent **unescaped**: ``...T00:00:00+00:00`` reaches the
  server form-decoded as ``...T00:00:00 00:00`` (in a query string ``+`` means space,
  WHATWG URL §5.1). A space right before an ``HH:MM`` offset is read back as ``+``;
* a naive date-time (taken as UTC) and Unix seconds.

Anything else is the client's error: ``WindowError`` names the parameter and the forms
accepted. Bounds are half-open, ``[from, to)``.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone

GRANULARITIES = {"minute": 60, "hour": 3600, "day": 86_400}
_SPACE_OFFSET = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) (\d{2}(?::?\d{2})?)")
_FORMS = ("2026-04-01, 2026-04-01T00:00:00Z, 2026-04-01T00:00:00+00:00 or Unix seconds")


class WindowError(ValueError):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def parse_instant(text: str, *, param: str, end: bool = False) -> float:
    """Unix time of ``text``; a bare date as an ``end`` bound means the following midnight."""
    raw = text.strip()
    if not raw:
        raise WindowError(f"{param} is empty: expected {_FORMS}", param)
    if re.fullmatch(r"\d{9,12}(\.\d+)?", raw):
        return float(raw)
    fixed = _SPACE_OFFSET.fullmatch(raw)
    if fixed:  # "+00:00" that arrived form-decoded as " 00:00"
        raw = f"{fixed.group(1)}+{fixed.group(2)}"
    if raw.endswith(("z", "Z")):
        raw = raw[:-1] + "+00:00"
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = date.fromisoformat(raw) + timedelta(days=1 if end else 0)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        moment = datetime.fromisoformat(raw.replace(",", "."))
    except ValueError:
        raise WindowError(f"{param}={text!r} is not a date or time: expected {_FORMS}",
                          param) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_granularity(text: str | None) -> tuple[str, int]:
    name = (text or "day").strip().lower()
    if name not in GRANULARITIES:
        raise WindowError(f"granularity={text!r}: expected one of "
                          f"{', '.join(GRANULARITIES)}", "granularity")
    return name, GRANULARITIES[name]


def parse_window(query, *, now: float, default: str = "30d") -> tuple[float, float]:
    """``[from, to)`` from a query mapping. Defaults: ``to`` is now (the next whole second,
    so what was recorded this instant is in); ``from`` is 30 days before ``to``
    (``default="30d"``) or the first of ``to``'s month (``"month"``)."""
    until = parse_instant(query["to"], param="to", end=True) if query.get("to") \
        else math.floor(now) + 1
    if query.get("from"):
        since = parse_instant(query["from"], param="from")
    elif default == "month":
        moment = datetime.fromtimestamp(until, timezone.utc)
        since = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp()
    else:
        since = until - 30 * 86_400
    if since > until:
        raise WindowError(f"from ({iso(since)}) is after to ({iso(until)})", "from")
    return since, until


def iso(seconds: float) -> str:
    """``2026-04-01T00:00:00Z``: second precision, UTC, as Behest's docs show it."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_start(seconds: float) -> float:
    return seconds - seconds % 86_400


def month_start(seconds: float) -> float:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp()

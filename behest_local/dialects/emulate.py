"""The ``x-behest-emulate`` header: per-request pacing and failures of the emulated model.

Grammar (documented in the README): ``name=value`` pairs separated by ``;`` or ``,``,
whitespace ignored, names case-insensitive::

    x-behest-emulate: status=429; retry_after=2
    x-behest-emulate: first_token_ms=800, tokens_per_second=20
    x-behest-emulate: error_after=5
    x-behest-emulate: drop_after=3
    x-behest-emulate: stall_ms=1500; stall_after=4
    x-behest-emulate: replay=req_3f2a…; replay_speed=2
    x-behest-emulate: flag=violence|harassment

Parsing happens once per request in the handler; a bad directive is the client's error
(400 naming the header), never a silent no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from behest_local.errors import InvalidRequestError
from behest_local.printable import is_utf8_text

HEADER = "x-behest-emulate"


@dataclass(frozen=True, slots=True)
class _Spec:
    kind: type
    low: float
    high: float
    help: str


DIRECTIVES: dict[str, _Spec] = {
    "status": _Spec(int, 400, 599, "answer with this HTTP error status instead of a reply"),
    "message": _Spec(str, 0, 0, "error message to use with status= or error_after="),
    "retry_after": _Spec(float, 0, 86400, "Retry-After seconds sent with status=429/503"),
    "first_token_ms": _Spec(float, 0, 600_000, "delay before the first token (and before a "
                                               "non-streamed reply)"),
    "tokens_per_second": _Spec(float, 0, 1_000_000, "streaming pace; 0 = unpaced"),
    "stall_ms": _Spec(float, 0, 600_000, "pause once mid-stream for this long"),
    "stall_after": _Spec(int, 0, 1_000_000, "stream event index before which the stall "
                                            "happens (default: halfway)"),
    "drop_after": _Spec(int, 0, 1_000_000, "drop the connection after N stream events"),
    "error_after": _Spec(int, 0, 1_000_000, "send an in-stream error event after N stream "
                                            "events, then close"),
    "replay": _Spec(str, 0, 0, "stream a saved fixture (behest-local traces fixture ID) "
                               "with its recorded timing"),
    "replay_speed": _Spec(float, 0.01, 1000, "replay faster (2) or slower (0.5)"),
    "flag": _Spec(str, 0, 0, "moderations: flag these categories, e.g. violence|hate"),
}
ALIASES = {"tps": "tokens_per_second", "ttft_ms": "first_token_ms", "code": "status"}


def parse(header: str | None) -> dict:
    """Parse the header value into ``{name: value}``.

    Raises:
        InvalidRequestError: an unknown name, a missing ``=``, or a value out of range.
    """
    if not header:
        return {}
    if not header.isascii() and not is_utf8_text(header):
        # aiohttp keeps a header's non-UTF-8 bytes as lone surrogates: a message= made of
        # them would fail wherever it is encoded (the error reply, the trace).
        raise InvalidRequestError(
            f"{HEADER}: the header holds bytes that are not UTF-8 text; send directives "
            "as UTF-8 (or ASCII) name=value pairs.", param=HEADER,
            code="invalid_emulate_directive")
    out: dict = {}
    for part in header.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, raw = part.partition("=")
        name = ALIASES.get(name.strip().lower(), name.strip().lower())
        raw = raw.strip()
        spec = DIRECTIVES.get(name)
        if spec is None or not eq:
            known = ", ".join(sorted(DIRECTIVES))
            what = f"unknown directive {name!r}" if spec is None else f"{name!r} needs a value"
            raise InvalidRequestError(
                f"{HEADER}: {what}. Use name=value pairs separated by ';' with names from: {known}.",
                param=HEADER, code="invalid_emulate_directive")
        out[name] = _value(name, raw, spec)
    return out


def _value(name: str, raw: str, spec: _Spec) -> object:
    if spec.kind is str:
        return raw
    try:
        value = spec.kind(raw)
    except ValueError:
        raise InvalidRequestError(
            f"{HEADER}: {name} must be a{'n integer' if spec.kind is int else ' number'}, "
            f"got {raw!r}", param=HEADER, code="invalid_emulate_directive") from None
    if not spec.low <= value <= spec.high:
        raise InvalidRequestError(
            f"{HEADER}: {name} must be between {spec.low:g} and {spec.high:g}, got {raw}",
            param=HEADER, code="invalid_emulate_directive")
    return value

"""``Server-Timing`` on every response: how long the gateway itself took.

Browsers show this header in devtools' Timing tab, next to the request's own bars, so a
user can see at a glance what the gateway cost them (peers.md §5: MLflow emits a per-response
overhead header; no other gateway does). The app's ``on_response_prepare`` hook
(``app.prepare_response``) adds it to every response the app prepares (JSON, errors,
SSE streams alike), timed at headers-out:

    Server-Timing: gateway;dur=0.412;desc="behest-local", provider;dur=10.021, total;dur=10.433

* ``total``: from the moment the ``Exchange`` opened (``gateway_middleware``, before auth)
  to the response headers leaving. For a stream that is its time to headers, which waits
  for the first event (``streaming.relay`` pulls it before preparing the response).
* ``provider``: the part of ``total`` spent waiting on the provider: the upstream's answer
  (``providers/upstream.py``) or a stream's first event (``streaming.relay``). Absent when
  no provider was asked (an auth failure, ``/v1/models``).
* ``gateway``: ``total - provider``, the gateway's own time: parsing, auth, routing,
  translation, tracing. The emulated model is part of the gateway, so the simulated latency
  of a non-streamed emulated answer counts here; on streams it counts as ``provider``.

Durations are milliseconds with microsecond resolution (W3C Server Timing §3: ``dur`` is
a DOMHighResTimeStamp in ms). Cross-origin pages see the metrics in the Resource Timing API
only with ``Timing-Allow-Origin``, which is the CORS policy's to grant; devtools shows
them either way.

Wiring: ``server/app.py``'s one response hook (``prepare_response``) sets it from the
``Exchange``, after the trace headers and before the capture hook records the headers.
"""

from __future__ import annotations

HEADER = "Server-Timing"
DESCRIPTION = "behest-local"
# The header's constant text, formatted with ``%`` once per response: one formatting call
# instead of an f-string's three (``%.3f`` and ``:.3f`` print a float identically).
_WITH_PROVIDER = f'gateway;dur=%.3f;desc="{DESCRIPTION}", provider;dur=%.3f, total;dur=%.3f'
_WITHOUT_PROVIDER = f'gateway;dur=%.3f;desc="{DESCRIPTION}", total;dur=%.3f'


def format_server_timing(total: float, provider: float | None) -> str:
    """The header value for ``total`` and ``provider`` seconds (``provider`` may be None).

    >>> format_server_timing(0.010433, 0.010021)
    'gateway;dur=0.412;desc="behest-local", provider;dur=10.021, total;dur=10.433'
    """
    total_ms = total * 1000.0
    if provider is None:
        return _WITHOUT_PROVIDER % (total_ms, total_ms)
    provider_ms = provider * 1000.0
    if provider_ms > total_ms:
        provider_ms = total_ms
    return _WITH_PROVIDER % (total_ms - provider_ms, provider_ms, total_ms)


def parse_server_timing(value: str) -> dict[str, float]:
    """``{name: dur_ms}`` from a ``Server-Timing`` value (metrics without ``dur`` are skipped).

    Used by the benchmark and tests to read the gateway's own time back.
    """
    out: dict[str, float] = {}
    for metric in value.split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "dur":
                try:
                    out[name] = float(raw.strip().strip('"'))
                except ValueError:
                    pass
    return out

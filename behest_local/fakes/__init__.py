"""Fake upstreams: each provider's native API, served offline, scripted by the prompt.

One aiohttp app per dialect (``make_app(key=…)`` in ``openai`` — with ``flavor="mistral"``,
``"openrouter"`` or ``"ollama"`` (a local server: no auth) —, ``anthropic``, ``gemini``,
``cohere``), speaking the provider's own
wire format as ``shared/reference/providers.md`` describes it: native auth checks, native
error bodies and statuses, native stream framing. They serve the adapter and SDK tests,
and users who want to demo a migration offline (``behest-local fake-upstream PROVIDER``,
see ``fakes/serve.py``). ``PROVIDERS`` maps each name to its app factory and ``BASE_PATHS``
to what an SDK's ``base_url`` should end with.

Prompt script
-------------
The *last user message* steers the reply (or, when the conversation ends with tool
results, those results: the fake then answers them in text). Directives are bracketed,
case-insensitive, may appear anywhere, and are removed from the text the fake echoes;
``N`` is a whole number.

=================  ==========================================================================
``[tool]``          reply with one tool call (to the first declared tool, or ``get_weather``
                    when none is declared), arguments built from the tool's JSON schema
``[tools N]``       N parallel tool calls, cycling through the declared tools (default 2)
``[error S]``       answer HTTP status S with the provider's native error body (e.g. 401,
                    429 with ``Retry-After``, 500, Anthropic's 529 ``overloaded_error``)
``[fail N]``        streams: after N frames send the provider's native *mid-stream* error
                    (OpenAI ``data: {"error"…}``, Anthropic ``event: error``, Gemini raw
                    JSON, Cohere ``message-end`` ``ERROR``, OpenRouter ``finish_reason:
                    "error"``) and end the body
``[truncate N]``    streams: close the connection after N frames, with no terminator
``[slow MS]``       wait MS milliseconds between frames (default 50); non-streamed replies
                    wait once before answering
``[hold N]``        streams: after N frames wait until the test sets ``state.release``;
                    non-streamed replies wait before answering. A client that disconnects
                    while held sets ``state.disconnected``
``[filter]``        end with the provider's content-filter reason (Anthropic ``refusal``,
                    Gemini ``SAFETY``, OpenAI ``content_filter``)
``[cached N]``      report N cached prompt tokens (included in the prompt count)
``[think N]``       report N reasoning tokens (Gemini ``thoughtsTokenCount``, OpenAI
                    ``reasoning_tokens``)
=================  ==========================================================================

Otherwise the reply is deterministic text: ``Hello from the fake <provider> upstream. You
said: <prompt>``, cut at the request's max tokens (with the native length reason). Frames
count every SSE event the fake writes, comments and pings included. Usage is counted with
the emulated model's tokenizer.

Test hooks
----------
``app[fakes.base.STATE]`` is a ``FakeState``: ``requests`` (every request received: path,
query and headers with credentials removed, ``auth_ok``, JSON body), and the events
``stream_started``, ``release`` and ``disconnected``. Disconnects are seen at once when
the server runs with ``handler_cancellation=True`` (``aiohttp_server`` and ``fakes.serve``
both do).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from aiohttp import web

from behest_local.fakes import anthropic, cohere, gemini, openai
from behest_local.fakes.base import STATE, FakeState, RecordedRequest

PROVIDERS: dict[str, Callable[..., web.Application]] = {
    "openai": partial(openai.make_app, flavor="openai"),
    "mistral": partial(openai.make_app, flavor="mistral"),
    "openrouter": partial(openai.make_app, flavor="openrouter"),
    "ollama": partial(openai.make_app, flavor="ollama"),
    "anthropic": anthropic.make_app,
    "gemini": gemini.make_app,
    "cohere": cohere.make_app,
}
"""Provider name → ``make_app(key=None)``."""

BASE_PATHS = {"openai": "/v1", "mistral": "/v1", "openrouter": "/api/v1", "ollama": "/v1",
              "anthropic": "", "gemini": "", "cohere": ""}
"""What each SDK's (and adapter's) ``base_url`` appends to the fake's origin."""

__all__ = ["BASE_PATHS", "PROVIDERS", "STATE", "FakeState", "RecordedRequest"]

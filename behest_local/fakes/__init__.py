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

The directives and what each does are declared once, in ``script.DIRECTIVES``;
``behest-local fake-upstream --help`` prints that table.

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

"""Dialect translators: the public OpenAI endpoints that are not chat, served through chat.

The gateway's lingua franca is OpenAI Chat Completions: every provider takes a chat
request dict and returns a ``chat.completion`` dict or a stream of
``chat.completion.chunk`` dicts. ``/v1/responses`` and the legacy ``/v1/completions`` are
served by translating the request to chat, running it like any chat request, and
translating the result (whole or chunk by chunk) back.

Everything here is pure: dicts in, dicts out, no I/O and no clock. Stream translators
are small stateful objects fed one chat chunk at a time; the server owns the sockets,
the ids and the timestamps, and passes them in.

- ``responses``: ``/v1/responses`` (facade over ``responses_request`` and
  ``responses_stream``).
- ``completions``: legacy ``/v1/completions``.
- ``messages_*``: Anthropic's ``/v1/messages``, the second front door (its facts in
  ``messages_wire``, shared with the Anthropic provider and fake).

``dialect_of`` names the dialect an exchange spoke when it is not OpenAI's (the gateway's
own, which needs no label), for the TUI.
"""

from __future__ import annotations

DIALECTS = {"/v1/messages": "Anthropic messages",
            "/v1/messages/count_tokens": "Anthropic count_tokens"}
"""The paths of the dialects other than OpenAI's, and their names."""


def dialect_of(path: str, provider: str | None = None) -> str | None:
    """The dialect ``path`` speaks (None: OpenAI's) and how it reached ``provider``: relayed
    natively to Anthropic, or translated through chat."""
    name = DIALECTS.get(path)
    if name is None or provider is None:
        return name
    return f"{name} (native)" if provider == "anthropic" else f"{name} (via chat)"

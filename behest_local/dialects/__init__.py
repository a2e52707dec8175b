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
"""


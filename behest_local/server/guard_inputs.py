"""Where a project's guardrails run on the inference routes that are not chat-shaped.

``POST /v1/embeddings`` (its ``input``: a string or a list of strings),
``/v1/images/generations`` and ``/v1/images/edits`` (``prompt``) and ``/v1/audio/speech``
(``input``) hand their text here after routing (so a refusal is counted in usage as
``blocked``, as a chat one is) and before any provider, real or emulated, is asked. The
texts go through ``guard.check`` as user messages: the chat path's one decision, so
BLOCK is the same 451, MASK and REDACT give the texts to send on with placeholders, and
shadow only records. A MASK placeholder is never put back: a vector, an image or audio
holds no text to restore it in (the emulated image's caption shows ``<PERSON_1>``, the
voice speaks it).

Not guarded: an embedding's token arrays (ids of the model's tokenizer, which the gateway
cannot read as the provider does: they go as they are), and moderations, which classify
the text: a masked text would be judged as another text (README, "Guardrails").
"""

from __future__ import annotations

from aiohttp import web

from behest_local.guardrails.shield import active as guards_on
from behest_local.server.guard import check
from behest_local.server.keys import EXCHANGE, PRINCIPAL


async def guard_inputs(request: web.Request, inputs: list[str]) -> list[str]:
    """``inputs`` as the request's project lets them go on: ``inputs`` itself when nothing
    changed (no guardrail on, shadow, nothing found), else masked or redacted copies; a
    block raises ``GuardrailBlocked`` (451)."""
    project = request[PRINCIPAL].project
    if not guards_on(project.guardrails):
        return inputs
    messages = [{"role": "user", "content": text} for text in inputs]
    result = await check(messages, project.guardrails, request[EXCHANGE], project=project.id)
    if result.messages is messages:
        return inputs
    return [message["content"] for message in result.messages]


async def guard_field(request: web.Request, body: dict, name: str) -> dict:
    """``body`` with its ``name`` field guarded (``guard_inputs``) when it is a string or a
    list of strings: ``body`` itself when nothing changed, else a copy. Any other value
    (token arrays) goes as it is."""
    if not guards_on(request[PRINCIPAL].project.guardrails):
        return body
    value = body.get(name)
    if isinstance(value, str):
        out = await guard_inputs(request, [value])
        return body if out[0] is value else {**body, name: out[0]}
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        out = await guard_inputs(request, value)
        return body if out is value else {**body, name: out}
    return body

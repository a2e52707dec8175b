"""Transport for OpenAI-compatible upstreams: base URL, endpoint per operation, auth headers.

One pass-through adapter serves OpenAI, Mistral, OpenRouter and custom OpenAI-compatible
servers (Ollama, llama.cpp, vLLM, LM Studio). What differs between them at this layer is
a ``Profile``: default base URL, whether a key is required, and extra headers (OpenRouter's
attribution headers, providers.md §10.1). Payload quirks are applied by ``translate``.

``request(op, payload, key, …)`` is the entry point the upstream client calls: it returns
an ``UpstreamRequest`` (method, URL, headers, native JSON). OpenAI's own routes are relayed
as sent (``NATIVE``): a JSON body as it is, an upload (``providers/form.Form``) encoded as
multipart/form-data here. The key is taken per call and revealed only into the returned
headers; nothing here stores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from behest_local.providers import form as multipart
from behest_local.providers.openai_compat import translate
from behest_local.providers.shapes import UpstreamRequest, join_url, reveal
from behest_local.secret import Secret


@dataclass(frozen=True, slots=True)
class Profile:
    """One OpenAI-compatible provider's differences from OpenAI itself."""

    name: str
    base_url: str
    """Default base URL, including the version prefix (``…/v1``); config may override."""
    key_required: bool = True
    """Local servers (Ollama, llama.cpp) take no key; an absent key sends no auth header."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra headers sent on every request."""
    strict_fields: bool = False
    """Mistral: unknown fields are a 422, so only known fields are sent (§9.2)."""
    nine_char_tool_ids: bool = False
    """Mistral: tool-call ids must match ``[A-Za-z0-9]{9}`` (§9.2)."""
    usage_always_on: bool = False
    """Whether to ask for stream usage even when the client did not (so the gateway can
    record it); the translator then hides the usage chunk from the client."""
    embeddings: bool = True
    native_ops: frozenset[str] = frozenset()
    """OpenAI's own routes relayed as sent (a native body): ``moderations``, ``images`` …"""


UPLOADS = {"transcriptions": "audio/transcriptions", "translations": "audio/translations",
           "image_edits": "images/edits", "image_variations": "images/variations"}
"""The native operations whose body is a multipart upload (a ``Form``), by path."""
NATIVE = frozenset({"moderations", "images", "speech", *UPLOADS})
"""Operations whose body is OpenAI's own, relayed untranslated (OpenAI's profile only)."""
OPENAI = Profile("openai", "https://api.openai.com/v1", usage_always_on=True, native_ops=NATIVE)
MISTRAL = Profile("mistral", "https://api.mistral.ai/v1", strict_fields=True,
                  nine_char_tool_ids=True)
# OpenRouter's attribution headers (§10.1); both title spellings are seen in clients.
OPENROUTER = Profile("openrouter", "https://openrouter.ai/api/v1", usage_always_on=True,
                     headers={"HTTP-Referer": "https://github.com/behest-ai/behest-local",
                              "X-Title": "behest-local"}, embeddings=False)
CUSTOM = Profile("custom", "http://127.0.0.1:11434/v1", key_required=False)

PROFILES = {p.name: p for p in (OPENAI, MISTRAL, OPENROUTER, CUSTOM)}

PATHS = {"chat": "chat/completions", "embed": "embeddings", "models": "models",
         "moderations": "moderations", "images": "images/generations",
         "speech": "audio/speech", **UPLOADS}


def request(op: str, payload: object, key: Secret | str | None, *, profile: Profile = OPENAI,
            base_url: str | None = None, headers: dict[str, str] | None = None) -> UpstreamRequest:
    """The upstream request for ``op``.

    Args:
        op: ``"chat"`` (payload: ``ChatCall``), ``"embed"`` (payload: ``EmbedCall``) or
            ``"models"`` (payload ignored).
        key: the provider key for this one request (a ``Secret`` is revealed here).
        base_url: overrides ``profile.base_url`` (config, a proxy, or a fake upstream).
        headers: extra headers (configured per provider), applied last.
    """
    if op not in PATHS or (op == "embed" and not profile.embeddings) \
            or (op in NATIVE and op not in profile.native_ops):
        raise ValueError(f"{profile.name} has no {op!r} operation")
    url = join_url(base_url or profile.base_url, PATHS[op])
    out = {"Accept": _accept(op, payload), **profile.headers}
    secret = reveal(key)
    if secret:
        out["Authorization"] = f"Bearer {secret}"
    if headers:
        out.update(headers)
    if op == "models":
        return UpstreamRequest("GET", url, out)
    if op in UPLOADS:
        out["Content-Type"], body = multipart.encode(payload)  # type: ignore[arg-type]
        return UpstreamRequest("POST", url, out, body=body)
    out["Content-Type"] = "application/json"
    if op in NATIVE:  # a native body: OpenAI's own API, nothing to translate
        return UpstreamRequest("POST", url, out, payload)
    return UpstreamRequest("POST", url, out, translate.to_native(op, payload, profile))


def _accept(op: str, payload: object) -> str:
    """Server-sent events for a stream; for speech and the transcripts (audio, or ``text``,
    ``srt`` and ``vtt``), anything; else JSON."""
    if op in UPLOADS:
        streams = payload.streams()  # type: ignore[union-attr]
    elif op == "speech":
        streams = payload.get("stream_format") == "sse"  # type: ignore[union-attr]
    elif op in NATIVE:
        streams = bool(payload.get("stream"))  # type: ignore[union-attr]
    else:
        streams = op == "chat" and bool(getattr(payload, "request", {}).get("stream"))
    if streams:
        return "text/event-stream"
    return "*/*" if op in ("speech", "transcriptions", "translations") else "application/json"

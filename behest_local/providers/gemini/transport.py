"""Transport for the Gemini API: base URL, endpoint per operation, auth header.

The model is part of the path (``/v1beta/models/{model}:generateContent``); streams use
``:streamGenerateContent?alt=sse``, without which Gemini streams a JSON array instead of
SSE (providers.md §7.1). Auth is the ``x-goog-api-key`` header, which is what the
python-genai SDK sends; the ``?key=`` query form is never used, so the key cannot end up
in a logged URL. The base URL follows the SDK's convention (host only, API version
separate). Vertex AI (OAuth, other host and paths) is out of scope.
"""

from __future__ import annotations

from urllib.parse import quote

from behest_local.providers.gemini import translate
from behest_local.providers.shapes import UpstreamRequest, join_url, reveal
from behest_local.secret import Secret

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"
OPERATIONS = ("chat", "embed", "models")


def request(op: str, payload: object, key: Secret | str | None, *, base_url: str | None = None,
            headers: dict[str, str] | None = None) -> UpstreamRequest:
    """The upstream request for ``op`` (``"chat"``/``"embed"`` with a call, or ``"models"``)."""
    if op not in OPERATIONS:
        raise ValueError(f"gemini has no {op!r} operation")
    root = join_url(base_url or DEFAULT_BASE_URL, API_VERSION)
    out = {"x-goog-api-key": reveal(key), "Accept": "application/json"}
    if op == "models":
        out.update(headers or {})
        # 50 per page by default, more models than that exist: ask for the largest page.
        return UpstreamRequest("GET", join_url(root, "models?pageSize=1000"), out)
    model = quote(translate.model_name(payload.model), safe="-._")
    if op == "embed":
        path = f"models/{model}:batchEmbedContents"
    elif payload.request.get("stream"):
        path = f"models/{model}:streamGenerateContent?alt=sse"
        out["Accept"] = "text/event-stream"
    else:
        path = f"models/{model}:generateContent"
    out["Content-Type"] = "application/json"
    out.update(headers or {})
    return UpstreamRequest("POST", join_url(root, path), out, translate.to_native(op, payload))

"""Transport for Cohere's v2 API: base URL, endpoint per operation, auth header.

``Authorization: Bearer <key>`` (providers.md §8.1; cohere-python ``client_wrapper.py``).
Chat is ``/v2/chat``, embeddings ``/v2/embed``; the models list is still ``/v1/models``.
The base URL follows the Cohere SDK's ``base_url`` convention (host only). Payloads are
``translate``'s; the key is taken per call and revealed only into the returned headers.
"""

from __future__ import annotations

from behest_local.providers.cohere import translate
from behest_local.providers.shapes import (UpstreamRequest, join_url,
                                                       native_request, reveal)
from behest_local.secret import Secret

DEFAULT_BASE_URL = "https://api.cohere.com"
# The models list pages at 20 by default; 1000 is its maximum page (one request lists all).
PATHS = {"chat": "v2/chat", "embed": "v2/embed", "models": "v1/models?page_size=1000"}


def request(op: str, payload: object, key: Secret | str | None, *, base_url: str | None = None,
            headers: dict[str, str] | None = None) -> UpstreamRequest:
    """The upstream request for ``op`` (``"chat"``/``"embed"`` with a call, or ``"models"``)."""
    if op not in PATHS:
        raise ValueError(f"cohere has no {op!r} operation")
    url = join_url(base_url or DEFAULT_BASE_URL, PATHS[op])
    auth = {"Authorization": f"Bearer {reveal(key)}"}
    return native_request(op, url, auth, payload, translate.to_native, headers)

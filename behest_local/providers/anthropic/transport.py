"""Transport for Anthropic's Messages API: base URL, endpoint per operation, auth headers.

Auth is ``x-api-key`` plus the mandatory ``anthropic-version: 2023-06-01``
(providers.md §6.1; anthropic-sdk-python ``_client.py``). The base URL follows the
Anthropic SDK's ``base_url`` convention (no ``/v1``), so a value copied from SDK docs or a
proxy's instructions works unchanged. Payloads are ``translate``'s; the key is taken per
call and revealed only into the returned headers.
"""

from __future__ import annotations

from behest_local.providers.anthropic import translate
from behest_local.providers.shapes import (UpstreamRequest, join_url,
                                                       native_request, reveal)
from behest_local.secret import Secret

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
# The models list pages at 20 by default; 1000 is its maximum page (one request lists all).
# ``messages`` and ``count_tokens`` carry a Messages body as the client wrote it (the native
# relay of ``/v1/messages``): sent as is, not translated from chat.
PATHS = {"chat": "v1/messages", "models": "v1/models?limit=1000", "messages": "v1/messages",
         "count_tokens": "v1/messages/count_tokens"}


def request(op: str, payload: object, key: Secret | str | None, *, base_url: str | None = None,
            headers: dict[str, str] | None = None) -> UpstreamRequest:
    """The upstream request for ``op`` (``"chat"`` with a ``ChatCall``, or ``"models"``)."""
    if op not in PATHS:
        raise ValueError(f"anthropic has no {op!r} operation")
    url = join_url(base_url or DEFAULT_BASE_URL, PATHS[op])
    auth = {"x-api-key": reveal(key), "anthropic-version": API_VERSION}
    return native_request(op, url, auth, payload,
                          translate.to_native if op == "chat" else _as_sent, headers)


def _as_sent(op: str, body: dict) -> dict:
    return body

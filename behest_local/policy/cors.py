"""The CORS policy as pure functions: which origins a project allows, which headers pass.

Behest keeps each project's **Allowed Origins** and "Kong returns
``Access-Control-Allow-Origin: <your-origin>`` only for matching origins", matching
protocol, host and port exactly with no trailing slash (reference/behest-api.md §5.1).
This module decides; ``server/admission/cors.py`` speaks HTTP. A project allows:

* its ``cors_origins``: exact origins; patterns whose ``*`` stands for part of one DNS
  label (``https://*.vercel.app``, ``https://app-*.vercel.app``; never a dot, so
  ``https://evil.com?.vercel.app`` tricks fail) or any port (``http://localhost:*``);
  extension origins (``chrome-extension://<id>``); ``*`` for any origin;
* the dashboard origin (``emulator.dashboard_origin``), which the cloud allows on every
  new project ("After project creation, the dashboard's origin is automatically
  allowed", migration guide), so a new project allows that origin and nothing else.

Credentials: an origin matched by name is echoed with ``Access-Control-Allow-Credentials:
true``; one matched only by ``*`` gets ``Access-Control-Allow-Origin: *`` and no credentials
flag, because the Fetch standard fails a credentialed response whose allow-origin is ``*``
(Fetch standard, "CORS check"). Bearer tokens need no credentials mode: they are
request headers, allowed by name in the preflight (``*`` in ``Access-Control-Allow-Headers``
never covers ``Authorization``: Fetch standard §3.2, "HTTP responses").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from behest_local.config import ProjectConfig

ALLOW_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
ALLOW_HEADERS = frozenset({
    "authorization", "content-type", "accept", "accept-language", "content-language",
    "x-session-id", "x-thread-id", "x-end-user-id", "x-request-id", "x-behest-emulate",
    "openai-beta", "openai-organization", "openai-project", "idempotency-key",
    "traceparent", "tracestate", "cache-control", "x-requested-with"})
"""Request headers real clients send: Behest's (§1.4, §5.1), the OpenAI JS SDK's, tracing."""
ALLOW_HEADER_PREFIXES = ("x-stainless-",)
"""The OpenAI/Anthropic JS SDKs add ``x-stainless-os``, ``-lang``, ``-retry-count`` …"""
EXPOSE_HEADERS = (
    "Retry-After", "retry-after-ms", "X-Request-Id", "X-Trace-Id", "x-should-retry",
    "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "Server-Timing")
"""Response headers a page may read beyond the CORS-safelisted ones (Fetch standard §3.2,
``Access-Control-Expose-Headers``); a
credentialed response cannot use ``*`` here, so they are listed by name."""
MAX_AGE = 600
"""Seconds a browser may cache a preflight answer (``Access-Control-Max-Age``). Chromium
caps it at 7200 and Firefox at 86400; ten minutes keeps a config edit visible soon."""


@dataclass(frozen=True, slots=True)
class Decision:
    origin: str
    allow_origin: str | None
    """The ``Access-Control-Allow-Origin`` value (the origin or ``*``); None: refused."""
    credentials: bool
    matched: str | None
    """The allowed-origins entry that matched."""
    project: str | None
    allowed: tuple[str, ...]
    reason: str = ""
    """Why it was refused, and what to add where."""

    @property
    def allowed_origin(self) -> bool:
        return self.allow_origin is not None


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern:
    scheme, sep, rest = pattern.lower().partition("://")
    host, colon, port = rest.rpartition(":") if not rest.endswith("]") else (rest, "", "")
    if not colon or not (port.isdigit() or port == "*"):
        host, colon, port = rest, "", ""
    host_re = r"[a-z0-9-]+".join(re.escape(part) for part in host.split("*"))
    port_re = (r":\d{1,5}" if port == "*" else re.escape(colon + port)) if colon else ""
    return re.compile(re.escape(scheme + sep) + host_re + port_re)


def matches(origin: str, pattern: str) -> bool:
    """Whether ``origin`` (as the browser sent it) is allowed by one entry."""
    if pattern == "*":
        return True
    origin = origin.lower()
    if "*" not in pattern:
        return origin == pattern.lower()
    return _compile(pattern).fullmatch(origin) is not None


def decide(origin: str, projects: Sequence[ProjectConfig], dashboard: str | None, *,
           scope: str) -> Decision:
    """Check ``origin`` against ``projects``' lists and the dashboard origin.

    Args:
        projects: the request's project, or every project when it cannot be told (a
            preflight carries no credentials; without a slug host any project's list is
            enough, and the actual response is checked against the caller's own).
        scope: how to name what was checked, for the refusal reason.
    """
    entries = [(p.id, entry) for p in projects for entry in p.cors_origins]
    if dashboard:
        entries.append((None, dashboard))
    allowed = tuple(dict.fromkeys(entry for _, entry in entries))
    named = [(pid, entry) for pid, entry in entries if entry != "*" and matches(origin, entry)]
    if named:
        pid, entry = named[0]
        return Decision(origin, origin, True, entry, pid, allowed)
    star = next((pid for pid, entry in entries if entry == "*"), "")
    if star != "":
        return Decision(origin, "*", False, "*", star, allowed)
    target = projects[0].id if len(projects) == 1 else None
    listed = ", ".join(repr(e) for e in allowed) or "nothing"
    fix = (f"add {origin!r} to cors_origins of project {target!r} (behest.toml, or PUT "
           f"/v1/projects/{target}/settings and deploy)" if target else
           f"add {origin!r} to the cors_origins of the project the page calls")
    if not projects:
        fix = "only the dashboard origin may call it (emulator.dashboard_origin)"
    return Decision(origin, None, False, None, target, allowed,
                    f"origin {origin!r} is not allowed by {scope} (allowed: {listed}); "
                    f"{fix}")


def refused_request_headers(requested: str) -> list[str]:
    """Names in ``Access-Control-Request-Headers`` that the policy does not allow."""
    names = [name.strip().lower() for name in requested.split(",") if name.strip()]
    return [n for n in names if n not in ALLOW_HEADERS and not n.startswith(ALLOW_HEADER_PREFIXES)]


SIMPLE_METHODS = frozenset({"GET", "HEAD", "POST"})
SIMPLE_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data",
                                  "text/plain"})
"""The CORS-safelisted methods and ``Content-Type`` essences (Fetch standard §2.2.2, §3.2.3)."""


def page_can_forge(method: str, content_type: str | None, authorization: str | None) -> bool:
    """Whether this request carries no credential and needs no CORS preflight, so any web
    page could have sent it: a CORS-safelisted method, ``Content-Type`` absent or
    safelisted, ``Authorization`` absent or blank (never safelisted: a page can send a
    credential only after a preflight the gateway answered). Such a request proves
    nothing about who sent it, so it must not spend a real client's per-IP allowance
    (``admission/limits.check_ip``)."""
    if (authorization and not authorization.isspace()) or method not in SIMPLE_METHODS:
        return False
    return content_type is None or \
        content_type.split(";", 1)[0].strip().lower() in SIMPLE_CONTENT_TYPES


def project_for_host(projects: Sequence[ProjectConfig], host: str) -> ProjectConfig | None:
    """The project named by a slug host (``amber-fox-042.localhost:7717``), as Kong reads
    the slug from ``Host`` (reference §0); None for a bare ``127.0.0.1:7717``."""
    label = host.lower().split(".", 1)[0] if "." in host else ""
    return next((p for p in projects if p.slug == label), None) if label else None

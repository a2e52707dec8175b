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

Matching is indexed once per settings snapshot (``OriginTable`` → ``OriginRules``): exact
origins in a dict, patterns filed by their fixed trailing labels and compiled on first use,
so a preflight checked against every project costs a few lookups, not one regex per entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from behest_local.config import ProjectConfig, Settings
from behest_local.exchange.exchange import WARNING_HEADER

ALLOW_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
ALLOW_HEADERS = frozenset({
    "authorization", "content-type", "accept", "accept-language", "content-language",
    "x-session-id", "x-thread-id", "x-end-user-id", "x-request-id", "x-behest-emulate",
    "openai-beta", "openai-organization", "openai-project", "idempotency-key",
    "traceparent", "tracestate", "cache-control", "x-requested-with",
    "x-api-key", "anthropic-version", "anthropic-beta",
    "anthropic-dangerous-direct-browser-access", "x-claude-code-session-id", "x-app"})
"""Request headers real clients send: Behest's (§1.4, §5.1), the OpenAI and Anthropic JS
SDKs' (anthropic-ingress.md §2), tracing."""
ALLOW_HEADER_PREFIXES = ("x-stainless-",)
"""The OpenAI/Anthropic JS SDKs add ``x-stainless-os``, ``-lang``, ``-retry-count`` …"""
EXPOSE_HEADERS = (
    "Retry-After", "retry-after-ms", "X-Request-Id", "X-Trace-Id", "x-should-retry",
    "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "Server-Timing", WARNING_HEADER,
    "request-id", "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset")
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


def _split(origin: str) -> tuple[str, str, str]:
    """``(scheme + "://", host, ":port" or "")`` of a lowercased origin or pattern; a port
    is only digits or ``*`` (an IPv6 host keeps its colons)."""
    scheme, sep, rest = origin.partition("://")
    host, colon, port = rest.rpartition(":") if not rest.endswith("]") else (rest, "", "")
    if not colon or not (port.isdigit() or port == "*"):
        return scheme + sep, rest, ""
    return scheme + sep, host, colon + port


def _compile(pattern: str) -> re.Pattern:
    """A lowercased pattern as a regex: ``*`` in the host is part of one DNS label, ``:*``
    any port."""
    scheme, host, port = _split(pattern)
    host_re = r"[a-z0-9-]+".join(re.escape(part) for part in host.split("*"))
    port_re = r":\d{1,5}" if port == ":*" else re.escape(port)
    return re.compile(re.escape(scheme) + host_re + port_re)


def _pattern_key(pattern: str) -> tuple[str, int, str]:
    """Where a lowercased pattern is filed: scheme, label count, and the labels after its
    last wildcard label. An origin it matches has the same three (a ``*`` never spans a
    dot), so a lookup finds it among the origin's label suffixes."""
    scheme, host, _ = _split(pattern)
    labels = host.split(".")
    last = max((i for i, label in enumerate(labels) if "*" in label), default=-1)
    return scheme, len(labels), ".".join(labels[last + 1:])


def matches(origin: str, pattern: str) -> bool:
    """Whether ``origin`` (as the browser sent it) is allowed by one entry."""
    if pattern == "*":
        return True
    origin = origin.lower()
    if "*" not in pattern:
        return origin == pattern.lower()
    return _compile(pattern.lower()).fullmatch(origin) is not None


_LISTED = 20
"""Allowed origins a refusal's reason names before it says how many more there are."""


class OriginRules:
    """The allowed origins of some projects plus the dashboard's, indexed once.

    Exact entries sit in a dict; patterns are filed by ``_pattern_key`` and compiled the
    first time an origin reaches them, so a check costs a few dict lookups whether one
    project or ten thousand are listed (compiling every pattern on every preflight took
    seconds with ten thousand projects). Entries keep their order: the first that matches
    decides, as in the list. Built per settings snapshot by ``OriginTable``; event-loop only.
    """

    __slots__ = ("allowed", "listed", "target", "empty", "_exact", "_patterns",
                 "_label_counts", "_star", "_compiled")

    def __init__(self, projects: Sequence[ProjectConfig], dashboard: str | None) -> None:
        entries = [(p.id, entry) for p in projects for entry in p.cors_origins]
        if dashboard:
            entries.append((None, dashboard))
        self.allowed = tuple(dict.fromkeys(entry for _, entry in entries))
        shown = ", ".join(repr(e) for e in self.allowed[:_LISTED]) or "nothing"
        more = len(self.allowed) - _LISTED
        self.listed = f"{shown} and {more:,} more" if more > 0 else shown
        """``allowed`` for a refusal's reason, shortened: a page polling a gateway of ten
        thousand projects must not make each refusal a megabyte of log."""
        self.target = projects[0].id if len(projects) == 1 else None
        """The project a refusal's fix names (None when several were checked)."""
        self.empty = not projects
        # (position, project id, entry) of the first entry of each kind.
        self._exact: dict[str, tuple[int, str | None, str]] = {}
        self._patterns: dict[tuple[str, int, str], dict[str, tuple[int, str | None, str]]] = {}
        self._star: tuple[str | None] | None = None
        for position, (pid, entry) in enumerate(entries):
            lowered = entry.lower()
            if entry == "*":
                self._star = self._star or (pid,)
            elif "*" in entry:
                filed = self._patterns.setdefault(_pattern_key(lowered), {})
                filed.setdefault(lowered, (position, pid, entry))
            else:
                self._exact.setdefault(lowered, (position, pid, entry))
        self._label_counts = frozenset(key[1] for key in self._patterns)
        self._compiled: dict[str, re.Pattern] = {}

    def first_named(self, origin: str) -> tuple[str | None, str] | None:
        """``(project id, entry)`` of the first entry other than ``*`` allowing ``origin``."""
        origin = origin.lower()
        best = self._exact.get(origin)
        scheme, host, _ = _split(origin)
        labels = host.split(".")
        if len(labels) in self._label_counts:
            for start in range(len(labels) + 1):
                key = (scheme, len(labels), ".".join(labels[start:]))
                for pattern, hit in self._patterns.get(key, {}).items():
                    if (best is None or hit[0] < best[0]) and self._regex(pattern).fullmatch(origin):
                        best = hit
        return None if best is None else best[1:]

    @property
    def star(self) -> tuple[str | None] | None:
        """``(project id,)`` of the first ``*`` entry, or None."""
        return self._star

    def _regex(self, pattern: str) -> re.Pattern:
        compiled = self._compiled.get(pattern)
        if compiled is None:
            compiled = self._compiled[pattern] = _compile(pattern)
        return compiled


def decide(origin: str, rules: OriginRules, *, scope: str) -> Decision:
    """Check ``origin`` against ``rules``: the request's project, every active project when
    it cannot be told (a preflight carries no credentials; without a slug host any
    project's list is enough, and the actual response is checked against the caller's
    own), or none (the management API: the dashboard only).

    Args:
        scope: how to name what was checked, for the refusal reason.
    """
    named = rules.first_named(origin)
    if named is not None:
        pid, entry = named
        return Decision(origin, origin, True, entry, pid, rules.allowed)
    if rules.star is not None:
        return Decision(origin, "*", False, "*", rules.star[0], rules.allowed)
    target = rules.target
    fix = (f"add {origin!r} to cors_origins of project {target!r} (behest.toml, or PUT "
           f"/v1/projects/{target}/settings and deploy)" if target else
           f"add {origin!r} to the cors_origins of the project the page calls")
    if rules.empty:
        fix = "only the dashboard origin may call it (emulator.dashboard_origin)"
    return Decision(origin, None, False, None, target, rules.allowed,
                    f"origin {origin!r} is not allowed by {scope} (allowed: {rules.listed}); "
                    f"{fix}")


class OriginTable:
    """``OriginRules`` built once per settings snapshot: the management API's (dashboard
    only), each project's, and any active project's, plus the projects by slug.

    The table starts afresh when the settings object changes (a reload or a deploy makes a
    new one), like ``policy.tiers.LimitTable``. One per application
    (``server/admission/cors.py``); event-loop only.
    """

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._shared: dict[str, OriginRules] = {}
        self._projects: dict[str, tuple[ProjectConfig, OriginRules]] = {}
        self._slugs: dict[str, ProjectConfig] = {}

    def _dashboard(self, settings: Settings) -> str | None:
        if settings is not self._settings:
            self._settings, self._shared, self._projects = settings, {}, {}
            self._slugs = {}
            for project in reversed(settings.projects):  # the first of a slug wins
                self._slugs[project.slug] = project
        return settings.emulator.dashboard_origin or None

    def management(self, settings: Settings) -> OriginRules:
        dashboard = self._dashboard(settings)
        if "management" not in self._shared:
            self._shared["management"] = OriginRules((), dashboard)
        return self._shared["management"]

    def any_project(self, settings: Settings) -> OriginRules:
        dashboard = self._dashboard(settings)
        if "any" not in self._shared:
            active = [p for p in settings.projects if p.status == "active"]
            self._shared["any"] = OriginRules(active, dashboard)
        return self._shared["any"]

    def project(self, settings: Settings, project: ProjectConfig) -> OriginRules:
        """``project``'s rules; it may come from the caller's older snapshot, so they are
        kept for that very project object."""
        dashboard = self._dashboard(settings)
        hit = self._projects.get(project.id)
        if hit is None or hit[0] is not project:
            hit = self._projects[project.id] = (project, OriginRules((project,), dashboard))
        return hit[1]

    def project_for_host(self, settings: Settings, host: str) -> ProjectConfig | None:
        """``project_for_host`` with one dict lookup."""
        self._dashboard(settings)
        label = host.lower().split(".", 1)[0] if "." in host else ""
        return self._slugs.get(label) if label else None


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

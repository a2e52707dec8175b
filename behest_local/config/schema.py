"""The configuration schema: every ``behest.toml`` table as a frozen dataclass.

This module owns the *shape* of the configuration and nothing else: field names, types,
defaults, limits (``field(metadata=…)``) and the attribute docstrings that double as the
user reference (``behest.toml.example`` documents the same keys). ``parse.py`` validates
TOML against these types, ``load.py`` adds the cross-field rules, and every ``Exchange``
keeps the ``Settings`` object it started with, so a reload never changes a request in flight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from behest_local.config.slugs import SLUG_RE, slug_for
from behest_local.guardrails.entities import ENTITIES, Action, InjectionMode, Mode

DEFAULT_PORT = 7717
"""Chosen to collide with no common dev tool (3000, 4000, 5173, 8000, 8080, 8787, 11434)."""
DEFAULT_MODEL = "gemini-2.5-flash"
"""Behest's platform default model (reference/behest-api.md §4)."""
DEFAULT_MAX_BODY = 20 * 1024 * 1024
DEFAULT_MAX_FILE = 512 * 1000 * 1000
"""OpenAI's per-file limit, 512 MB."""
MiB = 1024 * 1024
PLANS = ("free", "pro", "business", "enterprise")
FREE_PLAN_PROJECTS = 3
"""Behest's free plan allows at most this many active projects."""
BUILTIN_PROVIDERS = ("openai", "anthropic", "google", "mistral", "cohere", "openrouter")
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ID = {"pattern": ID_RE, "expected": "1-64 letters, digits, '_', '.' or '-', starting with a "
                                    "letter or digit"}
PROVIDER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
PROJECT_NAME_MAX = 128
"""Characters in a project's display name: it is listed by the API and shown in the TUI."""
SYSTEM_PROMPT_MAX = 65_536
"""Characters in a project's system prompt (some 16k tokens): it goes with every request."""
LIST_MAX = 1_000
"""Most entries of a list setting (origins, hosts): each is checked, then matched at each
request; a settings call with half a million of them held the gateway for seconds."""

Plan = Literal["free", "pro", "business", "enterprise"]


def _limits(low: float, high: float | None = None, **extra: Any) -> dict:
    return {"min": low, "max": high, **extra}


@dataclass(frozen=True, slots=True)
class TenantConfig:
    id: str = field(default="local", metadata=_ID)
    """Your tenant id: ``$TENANT_ID`` in the management API's paths."""
    plan: Plan = "pro"
    """The Behest plan to emulate. ``free`` refuses BYOK provider keys (BYOAK_REQUIRES_PRO)
    and allows at most 3 active projects; the others allow both."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    """Interface to bind. Anything but loopback also needs ``--allow-remote``."""
    port: int = field(default=DEFAULT_PORT, metadata=_limits(0, 65535))
    """TCP port; 0 takes a free one. A change applies at the next start."""
    max_body_bytes: int = field(default=DEFAULT_MAX_BODY, metadata=_limits(1024))
    """Largest accepted request body; larger ones get 413. A change applies at the next start."""
    max_file_bytes: int = field(default=DEFAULT_MAX_FILE, metadata=_limits(1))
    """Largest file ``POST /v1/files`` (or a completed upload) accepts, read as a stream to
    disk; larger ones get 413. OpenAI's limit, 512 MB, by default. ``max_body_bytes`` is for
    JSON bodies and does not apply to uploads."""
    header_timeout_s: float = field(default=30.0, metadata=_limits(0.1, 3600))
    """Seconds a connection has to send a complete request head, counted from when it opens
    or its previous response ends; then it is closed. A deadline for the whole head, not an
    idle timeout: a client sending it a byte at a time is cut at the same moment (slowloris).
    It is also how long an idle keep-alive connection stays open. A request being answered,
    a long stream included, is never cut by it. A change applies at the next start."""
    allowed_hosts: tuple[str, ...] = field(default=(), metadata={"hosts": True,
                                                                "max_items": LIST_MAX})
    """Extra names the gateway answers to in ``Host``, besides ``localhost``, ``*.localhost``,
    the bound address and loopback IPs (any IP when bound beyond loopback): a DNS-rebinding
    guard (policy/hosts.py). Exact names (``"devbox.lan"``), ``"*.example.test"`` for every
    name below one, or ``"*"`` for any host; no port (it is not compared). Other hosts
    get 421."""


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    first_token_ms: float = field(default=0.0, metadata=_limits(0, 600_000))
    """Delay before the first streamed token of the emulated model."""
    tokens_per_second: float = field(default=0.0, metadata=_limits(0))
    """Streaming pace of the emulated model; 0 sends tokens as fast as possible."""
    deploy_delay_s: float = field(default=0.0, metadata=_limits(0, 3600))
    """Seconds between a deploy through the management API and its settings going live
    (the cloud takes up to 30 s); 0 applies at once."""
    emulate_unconfigured: bool = True
    """Offline-first routing: a model whose provider has no key (or that the free plan may
    not use) is served by the emulated model, and the exchange records why. ``false`` gives
    the cloud's errors instead (PROVIDER_NOT_CONFIGURED, BYOAK_REQUIRES_PRO)."""
    enforce_limits: bool = True
    """Refuse requests over the cloud's rate limits, daily quotas and token budgets (429,
    402). ``false``: still count them and report them (``x-ratelimit-*`` headers,
    ``/v1/usage``), but never refuse."""
    quota_status: Literal[402, 429] = 402
    """Status of a spent daily quota or budget: 402 ``quota_exceeded`` (the v1.5 docs) or 429
    ``budget_exceeded`` (the v1.x docs and the legacy SDK's BudgetExceededError). Both say
    ``x-should-retry: false``."""
    batch_line_delay_s: float = field(default=0.0, metadata=_limits(0, 3600))
    """Seconds a batch waits after each of its lines (``POST /v1/batches``). 0 runs the lines
    back to back, one at a time, yielding to interactive requests in between; raise it to
    watch a batch move through its statuses, or to test polling and restarts."""
    batch_validate_delay_s: float = field(default=0.0, metadata=_limits(0, 3600))
    """Seconds a new batch stays ``validating`` before its lines run."""
    dashboard_origin: str = field(default="https://behest.ai", metadata={"origins": True})
    """The dashboard's browser origin, allowed by every project's CORS policy (the cloud
    allows its dashboard on each new project) and the only origin of the management API."""


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    otlp_endpoint: str = ""
    """OTLP/HTTP collector to send a span per exchange to, e.g. ``"http://localhost:4318"``
    (``/v1/traces`` is appended, as for ``OTEL_EXPORTER_OTLP_ENDPOINT``, which applies
    when this is empty). Empty and no variable: no spans, and the SDK is not loaded. Needs
    ``pip install 'behest-local[otel]'``. A change applies at the next start."""
    capture_content: bool = False
    """Add the request and response bodies to each span (``gen_ai.input.messages``,
    ``gen_ai.output.messages``), redacted as trace files are. Off: no prompt or completion
    text leaves the gateway."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    base_url: str | None = field(default=None, metadata={"url": True})
    """Where this provider's OpenAI-style API lives. Required for a custom provider."""
    timeout_s: float = field(default=600.0, metadata=_limits(0.1, 3600))
    """Longest wait for the upstream's first byte, and for each gap between stream chunks
    (no limit on a whole stream: a healthy one may run for minutes). Exceeded: 504 before
    the first byte, an in-stream error event after it."""
    connect_timeout_s: float = field(default=10.0, metadata=_limits(0.1, 600))
    """Time allowed to open the upstream connection."""
    max_response_bytes: int = field(default=64 * MiB, metadata=_limits(1024, 4096 * MiB))
    """Largest non-streamed response body accepted from this provider (read whole, after
    decompression). Larger: a 502 ``upstream_response_too_large``, and the connection is
    closed as soon as the body passes it."""
    max_event_bytes: int = field(default=MiB, metadata=_limits(1024, 256 * MiB))
    """Largest stream line, and stream event (all its ``data`` lines), accepted from this
    provider; the stream decoder holds no more than one of each. Larger: a 502
    ``upstream_event_too_large`` before the first event, an in-stream error after it."""
    prefixes: tuple[str, ...] = field(default=(), metadata={"nonempty_items": True})
    """Model-name prefixes routed to this provider, checked before the built-in rules
    (e.g. ``["llama", "qwen"]`` for a local Ollama)."""
    requires_key: bool | None = None
    """Whether a vault key is needed. Default: true for the built-in providers, false for
    custom ones (local servers such as Ollama, llama.cpp or vLLM need none)."""
    proxy: str | None = None
    """The forward proxy for this provider's requests (``http://[user:pass@]host:port``),
    instead of ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY``; ``""``: none."""
    ca_bundle: str | None = None
    """A PEM file of CA certificates trusted for this provider, beside the system's store
    (and ``SSL_CERT_FILE``/``SSL_CERT_DIR``)."""
    tls_verify: bool = True
    """``false`` stops checking the upstream's certificate: warned about at every start and
    reload, never a default. Prefer ``ca_bundle``."""


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    rpm: int = field(default=60, metadata=_limits(1))
    """Requests per minute for the whole project (Behest's default: 60)."""
    user_rpm: int | None = field(default=None, metadata=_limits(1))
    """Requests per minute per end user; default ``max(3, rpm // 10)``."""
    ip_rpm: int = field(default=120, metadata=_limits(1))
    """Requests per minute per client IP, checked before authentication."""
    use_tiers: bool = True
    """Per-user limits follow the tier table (``tiers``) for requests with a tier (a JWT's
    ``tier`` claim, ``default_tier``; every user on the free plan). ``false``: everyone gets
    the rate-limiting page's ``user_rpm`` and ``budgets`` instead."""
    default_tier: Literal["none", "free", "pro", "max"] = "none"
    """The tier of requests that carry none (API keys, tokens minted without one). ``none``:
    they get ``user_rpm`` and ``budgets.user_tokens_per_day``."""


@dataclass(frozen=True, slots=True)
class TierLimits:
    rpm: int | None = field(default=None, metadata=_limits(1))
    """Requests per minute per user of this tier; unset keeps Behest's default."""
    requests_per_day: int | None = field(default=None, metadata=_limits(1))
    """Requests per day per user of this tier."""
    tokens_per_day: int | None = field(default=None, metadata=_limits(1))
    """Tokens per day per user of this tier."""


@dataclass(frozen=True, slots=True)
class TierOverrides:
    free: TierLimits = field(default_factory=TierLimits)
    """Tier 1 (Behest default: 10 RPM, 100 requests and 50k tokens a day)."""
    pro: TierLimits = field(default_factory=TierLimits)
    """Tier 2 (60 RPM, 10k requests and 2M tokens a day)."""
    max: TierLimits = field(default_factory=TierLimits)
    """Tier 3 (300 RPM, 100k requests and 20M tokens a day)."""


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    user_tokens_per_day: int = field(default=1_000_000, metadata=_limits(0))
    """Tokens per end user per day (Behest's default: 1,000,000); 0 means no budget."""
    user_tokens_per_month: int = field(default=0, metadata=_limits(0))
    """Tokens per end user per calendar month; 0 (the default) means no budget."""
    project_tokens_per_day: int = field(default=0, metadata=_limits(0))
    """Tokens per day for the whole project; 0 (the default) means no budget."""
    session_tokens: int = field(default=0, metadata=_limits(0))
    """Tokens per session (``X-Session-Id`` or the JWT's ``sid``) over its life; 0: none."""
    session_cost_usd: float = field(default=0.0, metadata=_limits(0))
    """Dollars per session over its life (priced by ``[prices]``); 0: none."""
    user_cost_usd_per_day: float = field(default=0.0, metadata=_limits(0))
    """Dollars per end user per day; 0: none."""
    project_cost_usd_per_month: float = field(default=0.0, metadata=_limits(0))
    """Dollars per calendar month for the whole project; 0: none."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input: float = field(metadata=_limits(0))
    """USD per million prompt (input) tokens."""
    output: float = field(metadata=_limits(0))
    """USD per million completion (output) tokens."""


@dataclass(frozen=True, slots=True)
class ToolCallReply:
    name: str = field(metadata={"nonempty": True})
    """The function to call."""
    arguments: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Its arguments, as a TOML table (sent as JSON text)."""


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    match: str = field(metadata={"regex": True})
    """Python regex searched in the last user message; the first rule that matches wins."""
    reply: str | None = None
    """Reply with exactly this text."""
    tool_call: ToolCallReply | None = None
    """Reply with this tool call instead of text."""
    emulate: str | None = field(default=None, metadata={"directives": True})
    """Emulated failure or pacing, in the ``x-behest-emulate`` grammar (``"status=429;
    retry_after=2"``, ``"drop_after=3"``). The request's own header wins over it."""


@dataclass(frozen=True, slots=True)
class PiiConfig:
    mode: Mode = "disabled"
    """``shadow`` finds PII and records it (types and counts, never values) and changes
    nothing; ``enforce`` acts on it (``action``, ``entities``)."""
    action: Action = "MASK"
    """What ``enforce`` does with each entity found: ``MASK`` (a ``<PERSON_1>`` placeholder
    the provider sees, restored in the reply), ``REDACT`` (``<PERSON>``, never restored) or
    ``BLOCK`` (the request is refused: 451 ``pii_blocked``)."""
    entities: Mapping[str, Action] = field(default_factory=lambda: MappingProxyType({}),
                                           metadata={"keys": ENTITIES})
    """Per-entity actions over ``action``, e.g. ``{ CREDIT_CARD = "BLOCK" }``. Entities:
    PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN,
    API_KEY."""


@dataclass(frozen=True, slots=True)
class ContentConfig:
    mode: Mode = "disabled"
    """``enforce`` refuses a request that matches (451 ``content_blocked``); ``shadow``
    records the match only."""
    block: tuple[str, ...] = field(default=(), metadata={"nonempty": True,
                                                          "max_items": LIST_MAX})
    """Phrases matched case-insensitively as whole words (``"forbidden phrase"``)."""
    patterns: tuple[str, ...] = field(default=(), metadata={"content_regex": True,
                                                             "max_items": LIST_MAX})
    """Python regexes searched in the prompt. A group repeated around another repetition
    (``(a+)+``) or a backreference is refused: it can take exponential time."""


@dataclass(frozen=True, slots=True)
class InjectionConfig:
    mode: InjectionMode = "disabled"
    """``shadow`` records prompt-injection cues ("ignore previous instructions", a fake
    ``system:`` turn, system-prompt exfiltration, jailbreak personas); it never blocks."""


@dataclass(frozen=True, slots=True)
class GuardrailsConfig:
    pii: PiiConfig = field(default_factory=PiiConfig)
    """The PII shield (``[projects.guardrails.pii]``)."""
    content: ContentConfig = field(default_factory=ContentConfig)
    """The content policy: block phrases and patterns."""
    injection: InjectionConfig = field(default_factory=InjectionConfig)
    """Prompt-injection heuristics."""


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    name: str = field(metadata={"nonempty": True, "max_len": PROJECT_NAME_MAX, "shown": True})
    """Display name, up to 128 characters."""
    id: str = field(metadata=_ID)
    """``$PROJECT_ID`` in the management API; API keys belong to it. Default: the name."""
    slug: str = field(default="", metadata={
        "pattern": SLUG_RE, "expected": "Behest's {adjective}-{noun}-{3 digits} form, e.g. "
                                        "'amber-fox-042'"})
    """Behest's ``{adjective}-{noun}-{3 digits}`` host slug; derived from the id when unset,
    so it survives restarts."""
    status: Literal["active", "suspended"] = "active"
    """``suspended`` refuses the project's requests (403), like a killed project."""
    strict_v15: bool = False
    """Refuse project API keys on the data plane (401), as Behest v1.5 does: clients must
    send a JWT (minted with ``POST /v1/auth/mint`` or signed locally). Default: accepted,
    for v1.x clients. Minting always takes the API key."""
    provider_model: str | None = None
    """The project's model: requests without one (or with ``"default"``) use it, and a
    requested model of another provider is ignored. Unset: ``gemini-2.5-flash``."""
    system_prompt: str | None = field(default=None, metadata={"max_len": SYSTEM_PROMPT_MAX})
    """Injected as the first system message of every chat request; up to 65,536 characters."""
    cors_origins: tuple[str, ...] = field(default=(), metadata={"origins": True,
                                                               "max_items": LIST_MAX})
    """Browser origins allowed to call this project: exact ``scheme://host[:port]``, a
    pattern whose ``*`` stands for part of one DNS label (``https://*.vercel.app``), an
    extension (``chrome-extension://ID``), or ``*`` (any origin, never with credentials)."""
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    """Per-project request limits."""
    tiers: TierOverrides = field(default_factory=TierOverrides)
    """Overrides of the per-user tier limits."""
    budgets: BudgetConfig = field(default_factory=BudgetConfig)
    """Token budgets."""
    guardrails: GuardrailsConfig = field(default_factory=GuardrailsConfig)
    """The PII shield, content policy and injection heuristics, run on every chat-shaped
    request's prompt and on embeddings, image prompts and speech input, before a provider
    is asked (``guardrails/``)."""
    scripted: tuple[ScriptedReply, ...] = ()
    """Pinned replies of the emulated model, for your own tests (``[[projects.scripted]]``)."""

    def __post_init__(self) -> None:
        if not self.slug:  # derived, not random: the same id keeps the same slug forever
            object.__setattr__(self, "slug", slug_for(self.id))


@dataclass(frozen=True, slots=True)
class Settings:
    tenant: TenantConfig = field(default_factory=TenantConfig)
    """The tenant this gateway plays."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """The listener."""
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    """The emulated model and cloud behaviour."""
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    """OpenTelemetry spans out (``GET /_behest/metrics`` needs no setting)."""
    providers: Mapping[str, ProviderConfig] = field(default_factory=lambda: MappingProxyType({}))
    """Per-provider overrides (``[providers.openai]``) and custom OpenAI-compatible
    providers by name (``[providers.ollama]``)."""
    projects: tuple[ProjectConfig, ...] = (ProjectConfig(name="local", id="local"),)
    """Your projects. Without any, one project ``local`` exists."""
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: MappingProxyType({}))
    """Model prices (USD per million tokens) by model name or name prefix, over the bundled
    offline table (``finops/prices.py``); the longest matching name wins."""
    source: str = field(default="embedded default", compare=False)
    """Where these settings were read from, for the banner and logs."""

    @property
    def tenant_id(self) -> str:
        return self.tenant.id

    def project(self, project_id: str) -> ProjectConfig | None:
        """The project with this id (or, failing that, this name)."""
        for project in self.projects:
            if project.id == project_id:
                return project
        return next((p for p in self.projects if p.name == project_id), None)

    def provider(self, name: str) -> ProviderConfig:
        """``name``'s configuration, defaults included."""
        return self.providers.get(name) or ProviderConfig()

    def requires_key(self, name: str) -> bool:
        configured = self.provider(name).requires_key
        return name in BUILTIN_PROVIDERS if configured is None else configured

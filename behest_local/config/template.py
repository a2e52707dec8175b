"""The commented ``behest.toml`` that ``behest-local init`` writes.

It documents every key (``behest.toml.example`` in the repository is this same text, and a
test keeps the two equal and checks that each schema field appears in it). Active lines
give a working configuration equal to the embedded default; everything else is shown
commented out with its default value.
"""

TEMPLATE = '''\
# behest.toml: configuration of behest-local, the local twin of the Behest AI gateway.
#
# behest-local reads ./behest.toml from the directory it starts in (or --config PATH, or
# $BEHEST_CONFIG). Saved edits apply while the gateway runs, within a second; an invalid
# edit is reported (file:line, with a hint) and the last good configuration stays in force.
# Every key is optional. Unknown keys are errors.
#
#   behest-local config check     validate this file (exit 1 listing the problems)
#   behest-local config show      the effective configuration, and where each value came from
#
# Settings changed through the management API (PUT /v1/projects/{id}/settings + deploy) are
# kept in the state directory, never written here, and win over this file: `config show`
# marks them "deployed via API", and `behest-local config reset` drops them.

[tenant]
id = "local"                # $TENANT_ID in the management API: /v1/tenants/{id}/providers/...
plan = "pro"                # free | pro | business | enterprise. "free" refuses BYOK provider
                            # keys (BYOAK_REQUIRES_PRO) and allows at most 3 active projects.

[server]
host = "127.0.0.1"          # loopback only unless you start with --allow-remote
port = 7717                 # 0 picks a free port (applies at the next start)
max_body_bytes = 20971520   # 20 MiB; larger request bodies get 413 (applies at the next start)
max_file_bytes = 512000000  # 512 MB; larger files (POST /v1/files, uploads) get 413
header_timeout_s = 30       # a connection must send a complete request head within this many
                            # seconds of opening (or of its previous response), else it is
                            # closed: also the idle keep-alive time (applies at the next start)
allowed_hosts = []          # names to answer to in Host besides localhost, *.localhost and
                            # loopback IPs (a DNS-rebinding guard): "devbox.lan", "*.test"

[emulator]
first_token_ms = 0          # delay before the emulated model's first token
tokens_per_second = 0       # streaming pace; 0 = as fast as possible
                            # (per request: the x-behest-emulate header)
deploy_delay_s = 0          # seconds before a deploy through the management API goes live
                            # (the cloud takes up to 30 s); 0 = at once
emulate_unconfigured = true # offline first: a model whose provider has no key (or that the
                            # free plan may not use) is answered by the emulated model, and the
                            # request log says why. false = the cloud's errors instead:
                            # 422 PROVIDER_NOT_CONFIGURED, 403 BYOAK_REQUIRES_PRO.
enforce_limits = true       # refuse requests over the cloud's rate limits, daily quotas and
                            # token budgets (429/402); false = count and report them only
                            # (x-ratelimit-* headers, GET /v1/usage)
quota_status = 402          # a spent daily quota or budget: 402 quota_exceeded (v1.5 docs)
                            # or 429 budget_exceeded (v1.x docs); both x-should-retry: false
batch_line_delay_s = 0      # seconds a batch (POST /v1/batches) waits after each line;
                            # 0 = back to back, one line at a time
batch_validate_delay_s = 0  # seconds a new batch stays "validating"
dashboard_origin = "https://behest.ai"   # the dashboard's browser origin: allowed by every
                            # project's CORS policy, the only one on the management API

# Telemetry out (GET /_behest/metrics needs nothing). Spans need
# `pip install 'behest-local[otel]'`; applies at the next start.
# [telemetry]
# otlp_endpoint = "http://localhost:4318"  # OTLP/HTTP collector; default $OTEL_EXPORTER_OTLP_ENDPOINT
# capture_content = false                  # true: prompts and completions on spans (redacted)

# Providers. Keys never go here: store them in the encrypted vault
# (`behest-local vault set openai`, or PUT /v1/tenants/{id}/providers/openai).
# Built in: openai, anthropic, google, mistral, cohere, openrouter. Any other name is a
# custom OpenAI-compatible provider and needs base_url.
#
# [providers.openai]
# base_url = "https://api.openai.com/v1"   # override, e.g. for a proxy
# timeout_s = 600                          # first byte, and each gap between stream chunks
# connect_timeout_s = 10
# max_response_bytes = 67108864            # 64 MiB: a larger non-streamed reply is a 502
# max_event_bytes = 1048576                # 1 MiB: a longer stream line or event ends it
# prefixes = []                            # extra model-name prefixes routed here
# requires_key = true                      # built-in providers need a vault key
# proxy = "http://proxy.corp:3128"         # default: $HTTPS_PROXY etc. (NO_PROXY too); "": none
# ca_bundle = "/etc/ssl/corp-ca.pem"       # CA certificates trusted besides the system's
# tls_verify = true                        # false: certificates unchecked (warned about)
#
# [providers.ollama]                       # a custom provider: a local Ollama server
# base_url = "http://127.0.0.1:11434/v1"
# prefixes = ["llama", "qwen", "phi"]      # models whose names start so are routed here
# requires_key = false                     # the default for custom providers

# Projects. Without any [[projects]], one project "local" exists. Create API keys with
# `behest-local keys create --project ID`.
[[projects]]
name = "local"                 # display name, at most 128 characters
# id = "local"                 # $PROJECT_ID; default: the name
# slug = "amber-fox-042"       # {adjective}-{noun}-{3 digits}; default: derived from the id
# status = "active"            # or "suspended": its requests get 403
# strict_v15 = false           # true: API keys are refused on the data plane (401), as in
#                              # Behest v1.5; clients send a JWT (POST /v1/auth/mint)
# provider_model = "gpt-4o"    # the project's model. Requests with no model, "" or "default"
#                              # use it; a requested model of another provider is ignored,
#                              # one of the same provider is honoured. Unset: gemini-2.5-flash.
# system_prompt = "You are a helpful assistant."   # injected as the first system message
#                              # (at most 65,536 characters)
# cors_origins = ["https://your-app.com", "http://localhost:5173", "https://*.vercel.app"]
#                              # exact scheme://host[:port] (no trailing slash); "*" in a host
#                              # stands for part of one DNS label; chrome-extension://ID too
#
# [projects.rate_limits]
# rpm = 60                     # requests per minute, whole project
# user_rpm = 6                 # per end user; default max(3, rpm // 10)
# ip_rpm = 120                 # per client IP, before authentication
# use_tiers = true             # per-user limits from the tier table below for requests with
#                              # a tier (JWT tier claim; every user on the free plan);
#                              # false = user_rpm and [projects.budgets] for everyone
# default_tier = "none"        # tier of requests without one (API keys): none|free|pro|max
#
# [projects.tiers.free]        # per-user tier limits; unset keeps Behest's defaults
# rpm = 10                     #   free: 10 RPM, 100 requests and 50k tokens a day
# requests_per_day = 100       #   pro: 60 RPM, 10k requests, 2M tokens ([projects.tiers.pro])
# tokens_per_day = 50000       #   max: 300 RPM, 100k requests, 20M tokens ([projects.tiers.max])
#
# [projects.budgets]            # token budgets; 0 means none
# user_tokens_per_day = 1000000   # per end user (Behest's default)
# user_tokens_per_month = 0
# project_tokens_per_day = 0
# session_tokens = 0            # per session (X-Session-Id or the JWT's sid), over its life
# session_cost_usd = 0.0        # dollar budgets, priced by [prices]
# user_cost_usd_per_day = 0.0
# project_cost_usd_per_month = 0.0
#
# Guardrails run on every chat-shaped request's prompt, embeddings' input, image prompts
# and speech input before a provider is asked (README, "Guardrails"). Modes: "disabled" (default), "shadow" (detect and record, change nothing),
# "enforce". Findings are traced as entity types and counts, never the values.
# [projects.guardrails.pii]
# mode = "enforce"
# action = "MASK"              # MASK (<PERSON_1>, restored in the reply), REDACT (<PERSON>,
#                              # never restored) or BLOCK (451 pii_blocked)
# entities = { CREDIT_CARD = "BLOCK", EMAIL_ADDRESS = "REDACT" }   # per-entity actions:
#                              # PERSON EMAIL_ADDRESS PHONE_NUMBER CREDIT_CARD IBAN_CODE
#                              # IP_ADDRESS US_SSN API_KEY
# [projects.guardrails.content]
# mode = "enforce"             # a match answers 451 content_blocked
# block = ["forbidden phrase"] # whole words, any case
# patterns = ['\\bproject\\s+x\\b']   # regexes; (a+)+-style nesting is refused
# [projects.guardrails.injection]
# mode = "shadow"              # records prompt-injection cues; never blocks
#
# Scripted replies pin the emulated model's answer, for your own tests. The first rule whose
# regex `match` is found in the last user message wins.
# [[projects.scripted]]
# match = "(?i)refund"
# reply = "Refunds take 5 business days."
#
# [[projects.scripted]]
# match = "weather in (Paris|London)"
# tool_call = { name = "get_weather", arguments = { city = "Paris" } }
#
# [[projects.scripted]]
# match = "trigger a rate limit"
# emulate = "status=429; retry_after=2"     # the x-behest-emulate grammar

# Prices, in USD per million tokens: the cost in GET /v1/usage and /v1/billing/usage and the
# dollar budgets. A bundled table covers common OpenAI, Anthropic, Google, Mistral and Cohere
# models offline; add or override by model name or name prefix (the longest match wins):
# [prices."gpt-4o"]
#   input = 2.5
#   output = 10.0
'''

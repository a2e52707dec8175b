"""Model routing: Behest's rules as a matrix, offline-first and cloud-strict."""

from __future__ import annotations

from dataclasses import replace

import pytest

from behest_local.config import (EmulatorConfig, ProjectConfig, ProviderConfig, Settings,
                                 TenantConfig)
from behest_local.errors import GatewayError
from behest_local.config.models import provider_for_model
from behest_local.policy.routing import EMULATED, resolve

OLLAMA = ProviderConfig(base_url="http://127.0.0.1:11434/v1", prefixes=("llama", "qwen"))


def settings(*, plan: str = "pro", lenient: bool = True) -> Settings:
    return Settings(tenant=TenantConfig(plan=plan),
                    emulator=EmulatorConfig(emulate_unconfigured=lenient),
                    providers={"ollama": OLLAMA})


@pytest.mark.parametrize("model, provider", [
    ("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("o1-mini", "openai"), ("o3", "openai"),
    ("o4-mini", "openai"), ("chatgpt-4o-latest", "openai"),
    ("claude-sonnet-4-20250514", "anthropic"), ("claude-3-5-haiku-latest", "anthropic"),
    ("gemini-2.5-flash", "google"), ("gemini-2.5-pro", "google"),
    ("mistral-large-latest", "mistral"), ("codestral-latest", "mistral"),
    ("magistral-medium-latest", "mistral"), ("devstral-small-latest", "mistral"),
    ("command-r-plus", "cohere"), ("text-embedding-3-small", "openai"),
    ("openrouter/auto", "openrouter"), ("meta-llama/llama-3-70b-instruct", "openrouter"),
    ("anthropic/claude-3.5-sonnet", "openrouter"),  # vendor/model is OpenRouter's naming
    ("llama3.1", "ollama"), ("qwen2.5:7b", "ollama"),  # custom prefixes win
    ("my-finetune", None), ("", None),
])
def test_provider_is_inferred_from_the_model_name(model, provider):
    assert provider_for_model(model, settings().providers) == provider


KEYS = {"openai"}

# requested model, project provider_model → routed model, upstream, reason fragment
MATRIX = [
    (None, None, "gemini-2.5-flash", "google",
     "no model requested: the platform default; the platform's model: emulated"),
    ("", None, "gemini-2.5-flash", "google", "the platform's model: emulated"),
    ("default", None, "gemini-2.5-flash", "google", "platform default; the platform's model: emulated"),
    (None, "gpt-4o", "gpt-4o", "openai", "the project's provider_model; openai key from the vault"),
    ("default", "claude-sonnet-4-20250514", "claude-sonnet-4-20250514", "anthropic",
     "no anthropic key: emulated"),
    ("gpt-4o", None, "gpt-4o", "openai", "requested model; openai key from the vault"),
    ("claude-sonnet-4-20250514", None, "claude-sonnet-4-20250514", "anthropic",
     "no anthropic key: emulated"),
    ("gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "openai",
     "requested model honoured: same provider (openai)"),
    ("claude-sonnet-4-20250514", "gpt-4o", "gpt-4o", "openai",
     "requested claude-sonnet-4-20250514 ignored: the project's provider_model is gpt-4o"),
    ("gemini-2.5-flash", "gpt-4o", "gpt-4o", "openai", "ignored"),
    ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-pro", "google", "no google key: emulated"),
    ("llama3.1", None, "llama3.1", "ollama", "custom provider ollama"),
    ("my-finetune", None, "my-finetune", None, "no provider serves 'my-finetune': emulated"),
]


@pytest.mark.parametrize("requested, configured, model, upstream, why", MATRIX)
def test_routing_matrix_offline_first(requested, configured, model, upstream, why):
    project = ProjectConfig(name="p", id="p", provider_model=configured)
    target = resolve(requested, project, settings(), KEYS.__contains__)
    # Served by the provider's adapter when its key is there (or no key is needed),
    # else by the emulated model, offline first.
    served = EMULATED if "emulated" in why else upstream
    assert (target.provider, target.model, target.upstream) == (served, model, upstream)
    assert why in target.reason


@pytest.mark.parametrize("requested, configured, model, upstream, why", MATRIX)
def test_strict_routing_fails_like_the_cloud_only_where_a_key_is_missing(
        requested, configured, model, upstream, why):
    project = ProjectConfig(name="p", id="p", provider_model=configured)
    strict = settings(lenient=False)
    if "no anthropic key" in why or "no google key" in why:
        with pytest.raises(GatewayError) as info:
            resolve(requested, project, strict, KEYS.__contains__)
        assert (info.value.status, info.value.code, info.value.param) == \
            (422, "PROVIDER_NOT_CONFIGURED", "model")
        assert info.value.message == \
            f"Configure your {upstream} API key in Provider Settings to use {model}"
    elif upstream is None:
        with pytest.raises(GatewayError) as info:
            resolve(requested, project, strict, KEYS.__contains__)
        assert (info.value.status, info.value.code) == (400, "model_not_found")
    else:
        assert resolve(requested, project, strict, KEYS.__contains__).model == model


def test_the_guides_error_text_exactly():
    with pytest.raises(GatewayError) as info:
        resolve("gpt-4o", ProjectConfig(name="p", id="p"), settings(lenient=False))
    assert info.value.to_openai() == {"error": {
        "message": "Configure your openai API key in Provider Settings to use gpt-4o",
        "type": "invalid_request_error", "param": "model", "code": "PROVIDER_NOT_CONFIGURED"}}


def test_free_plan_byok():
    project = ProjectConfig(name="p", id="p")
    target = resolve("gpt-4o", project, settings(plan="free"), KEYS.__contains__)
    assert target.provider == EMULATED and "BYOAK_REQUIRES_PRO" in target.reason
    with pytest.raises(GatewayError) as info:
        resolve("gpt-4o", project, settings(plan="free", lenient=False), KEYS.__contains__)
    assert (info.value.status, info.value.code) == (403, "BYOAK_REQUIRES_PRO")
    # the platform model and keyless custom providers are not BYOK
    assert resolve(None, project, settings(plan="free", lenient=False)).model == "gemini-2.5-flash"
    assert resolve("llama3", project, settings(plan="free", lenient=False)).upstream == "ollama"


def test_custom_provider_can_require_a_key():
    keyed = replace(settings(lenient=False),
                    providers={"ollama": replace(OLLAMA, requires_key=True)})
    with pytest.raises(GatewayError, match="Configure your ollama API key"):
        resolve("llama3", ProjectConfig(name="p", id="p"), keyed)
    assert resolve("llama3", ProjectConfig(name="p", id="p"), keyed,
                   {"ollama"}.__contains__).upstream == "ollama"


def test_without_settings_the_defaults_apply():
    assert resolve(None, None).model == "gemini-2.5-flash"
    assert "no openai key" in resolve("gpt-4o", None).reason

"""The one model-name table (config/models.py): every route and check asks it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from behest_local.config import ProviderConfig, Settings
from behest_local.config.models import (MODEL_PREFIXES, UNSPECIFIED_MODELS, is_unspecified,
                                        provider_for_model)
from behest_local.config.schema import BUILTIN_PROVIDERS
from behest_local.policy.routing import resolve
from behest_local.providers.catalog import ADAPTER_OF, adapter_for, route_embeddings

PACKAGE = Path(__file__).parents[2] / "behest_local"


@pytest.mark.parametrize("model", UNSPECIFIED_MODELS)
def test_every_unspecified_value_leaves_the_choice_to_the_project(model):
    assert is_unspecified(model)
    assert resolve(model, None).model == "gemini-2.5-flash"


@pytest.mark.parametrize("model", ["gpt-4o", "Default", " ", 0, [], "default-model"])
def test_other_values_are_a_requested_model(model):
    assert not is_unspecified(model)


def test_every_builtin_provider_has_an_adapter_and_prefixes():
    for name in BUILTIN_PROVIDERS:
        assert MODEL_PREFIXES[name], name
        assert adapter_for(name).name == ADAPTER_OF.get(name, name)


@pytest.mark.parametrize("model, provider", [
    ("magistral-medium-latest", "mistral"), ("devstral-small", "mistral"),
    ("codestral-2501", "mistral"), ("command-r7b", "cohere"), ("gemma-3-27b", "google"),
])
def test_chat_and_embeddings_routing_agree_on_the_owner(model, provider):
    """Chat routing and embeddings routing read one table: no model has two owners."""
    settings = Settings()
    assert provider_for_model(model, settings.providers) == provider
    assert resolve(model, None, settings).upstream == provider
    assert route_embeddings(model, model, settings, lambda p: False).upstream == provider


def test_custom_prefixes_win_over_the_builtin_table():
    providers = {"ollama": ProviderConfig(base_url="http://127.0.0.1:11434/v1",
                                          prefixes=("gpt-oss",))}
    assert provider_for_model("gpt-oss:20b", providers) == "ollama"
    assert provider_for_model("gpt-4o", providers) == "openai"


def _string_tuples(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            yield {e.value for e in node.elts}


def test_no_other_module_declares_model_prefixes_or_the_unspecified_values():
    """A prefix list or the ("", "default") pair written out again elsewhere would drift."""
    owners = {"gpt-", "claude-", "gemini-", "mistral-", "command"}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "models.py" and path.parent.name == "config":
            continue
        tree = ast.parse(path.read_text())
        for values in _string_tuples(tree):
            assert not {"", "default"} <= values, f"{path}: use config.models.is_unspecified"
            assert len(values & owners) < 2, f"{path}: use config.models.MODEL_PREFIXES"

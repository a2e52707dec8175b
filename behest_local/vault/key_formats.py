"""What a provider name and a provider key must look like before the vault stores them.

``normalize_provider`` turns what a user typed (``Gemini``, `` openai ``) into Behest's
provider name and refuses what is plainly a key pasted in the wrong place;
``validate_provider_key`` checks a key's shape for its provider (OpenAI ``sk-``, Anthropic
``sk-ant-``, Google ``AIza…``, OpenRouter ``sk-or-v1-…``, Mistral and Cohere at least 10
characters, custom providers anything non-empty); every key is at most ``PROVIDER_KEY_MAX``
characters without control characters. Neither message ever repeats the input.
The CLI (``vault set``), the management API and ``store.Vault`` call them.
"""

from __future__ import annotations

import re

from behest_local.secret import Secret
from behest_local.vault.crypto import BadKeyFormat, VaultError

PROVIDER_ALIASES = {"gemini": "google"}
PROVIDER_KEY_MAX = 4_096
"""Characters in a stored key. Real ones are far shorter (Google's 39, OpenAI's project keys
about 170, a token for a custom server a few hundred); each request sends it in a header."""
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


def normalize_provider(name: str) -> str:
    """Lowercase, stripped, aliases resolved (``gemini`` → ``google``). The message of the
    error never repeats ``name``: it may be a key pasted in the wrong place."""
    n = name.strip().lower() if isinstance(name, str) else ""
    if n.startswith(("sk-", "sk_", "aiza")) or len(n) > 32:
        raise VaultError("that looks like an API key, not a provider name: give the provider "
                         "(e.g. `vault set openai`) and paste the key at the prompt or on stdin")
    if not _NAME.fullmatch(n):
        raise VaultError("a provider name is 1-32 characters of a-z, 0-9, '.', '_' or '-' "
                         "(e.g. openai, anthropic, google, openrouter, mistral, cohere, my-llm)")
    return PROVIDER_ALIASES.get(n, n)


_LABELS = {"openai": "OpenAI", "anthropic": "Anthropic", "google": "Google (Gemini)",
           "openrouter": "OpenRouter", "mistral": "Mistral", "cohere": "Cohere"}
_GOOGLE = re.compile(r"AIza[A-Za-z0-9_-]{35}")
_OPENROUTER = re.compile(r"sk-or-v1-[0-9a-fA-F]{64}")


def _looks_like(key: str) -> str | None:
    for prefix, provider in (("sk-ant-", "anthropic"), ("sk-or-", "openrouter"), ("AIza", "google")):
        if key.startswith(prefix):
            return provider
    return None


def _an(label: str) -> str:
    return f"{'an' if label[0] in 'AEIOU' else 'a'} {label}"


def validate_provider_key(provider: str, key: str | Secret) -> None:
    """Check ``key`` has the shape of ``provider``'s keys; any non-empty string for providers
    not listed below. Raises BadKeyFormat saying what was expected (never quoting the key)."""
    provider = normalize_provider(provider)
    k = key.reveal() if isinstance(key, Secret) else key
    label = _LABELS.get(provider)
    if not isinstance(k, str) or not k:
        raise BadKeyFormat(f"the {label or provider} key is empty")
    if len(k) > PROVIDER_KEY_MAX:
        raise BadKeyFormat(f"the {label or provider} key is {len(k):,} characters long; the "
                           f"limit is {PROVIDER_KEY_MAX:,}")
    if label is not None and any(c.isspace() for c in k):
        raise BadKeyFormat(f"{_an(label)} key has no spaces or line breaks; paste just the key")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in k):  # it must fit in a request header
        raise BadKeyFormat(f"the {label or provider} key has a control character (a line "
                           "break, tab or the like); paste just the key")
    if label is None:
        return
    other = _looks_like(k)
    if other not in (None, provider) and provider in ("openai", "anthropic", "openrouter", "google"):
        raise BadKeyFormat(f"this looks like {_an(_LABELS[other])} key, not {_an(label)} key: "
                           f"use `behest-local vault set {other}`")
    expected = {
        "openai": (k.startswith("sk-") and len(k) > 3, "an OpenAI key starts with sk- or sk-proj-"),
        "anthropic": (k.startswith("sk-ant-") and len(k) > 7, "an Anthropic key starts with sk-ant-"),
        "google": (_GOOGLE.fullmatch(k), "a Google (Gemini) key is AIza followed by 35 letters, "
                   f"digits, '_' or '-', 39 characters in all (got {len(k)})"),
        "openrouter": (_OPENROUTER.fullmatch(k), "an OpenRouter key is sk-or-v1- followed by 64 "
                       f"hex digits, 73 characters in all (got {len(k)})"),
        "mistral": (len(k) >= 10, f"a Mistral key has at least 10 characters (got {len(k)})"),
        "cohere": (len(k) >= 10, f"a Cohere key has at least 10 characters (got {len(k)})"),
    }
    ok, message = expected[provider]
    if not ok:
        raise BadKeyFormat(message)

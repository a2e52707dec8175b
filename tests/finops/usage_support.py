"""Helpers for the usage tests: a hand-driven wall clock, chat bodies, ``GET /v1/usage``.

The ``gateway`` fixture that uses them is in ``tests/finops/conftest.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from yarl import URL

from behest_local.config import ProjectConfig, ScriptedReply
from behest_local.finops.store import UsageRecord
from behest_local.providers.tokens import split_tokens
from tests.conftest import TEST_SETTINGS

CHAT = "/v1/chat/completions"
T0 = datetime(2026, 4, 1, 12, 0, 30, tzinfo=timezone.utc).timestamp()
LONG = " ".join(f"word{i}" for i in range(150))
"""A scripted reply for streams cut part-way: ``LONG_TOKENS`` tokens, streamed one a chunk."""
LONG_TOKENS = len(split_tokens(LONG))
LONG_SETTINGS = replace(TEST_SETTINGS, projects=(ProjectConfig(
    name="local", id="local", scripted=(ScriptedReply(match="long", reply=LONG),)),))
"""Project ``local`` answers any prompt containing "long" with ``LONG``."""


def hello(model: str = "gpt-4o", text: str = "Hello", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def record(n: int, **over) -> UsageRecord:
    base = dict(exchange_id=f"req_{n}", at=T0 + n, tenant="local", project="local",
                user_id="u", session_id="s", model="gpt-4o", requested_model="gpt-4o",
                provider="emulated", byok=False, stream=False, status=200, prompt_tokens=10,
                completion_tokens=5, cost_usd=0.001, path=CHAT)
    return UsageRecord(**{**base, **over})


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def usage(client, query: str = "", headers=None, path="/v1/usage") -> dict:
    resp = await client.get(URL(f"{path}?{query}", encoded=True),
                            headers=headers or client.key)
    assert resp.status == 200, await resp.text()
    return await resp.json()

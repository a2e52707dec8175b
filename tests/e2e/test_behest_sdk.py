"""The official ``behest-ai`` SDK (1.5.0b1, from PyPI) against a live gateway: every call of
the reference's API-key-mint and local-signing flows, the v1.x ``BehestClient``, the SDK's
typed errors, the openai SDK with a minted JWT, and threads surviving a restart.

The v1.5 SDK's ``chat.completions.create`` sends no extra headers, so ``X-Thread-Id``
travels as a default header of the ``httpx.Client`` it is given (its documented
``http_client`` option). Every SDK gets a client the test closes: without one the SDK
opens a new ``httpx.Client`` per call and never closes it (ResourceWarnings). Sign mode
reads the environment ``signing-keys create`` prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt as pyjwt
import openai
import pytest
from behest import (Behest, BehestAuthError, BehestBadRequestError, BehestClient, BehestError,
                    BehestSigningClient)

from behest_local.exchange.events import Authenticated
from behest_local.runtime.build import ServeOptions
from behest_local.runtime.running import start
from behest_local.cli.signing_keys_cmd import add_signing_keys_parser, run_signing_keys
from tests.conftest import TEST_SETTINGS

ENV = ("BEHEST_KEY", "BEHEST_API_KEY", "BEHEST_KID", "BEHEST_TENANT_ID", "BEHEST_PROJECT_ID",
       "BEHEST_BASE_URL", "BEHEST_USER_ID", "BEHEST_TTL", "BEHEST_TIER", "BEHEST_ISSUER",
       "BEHEST_AUDIENCE")
HI = [{"role": "user", "content": "Hello"}]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def http() -> Iterator:
    """``http(thread=None)``: an httpx client for an SDK, closed after the test."""
    clients: list[httpx.Client] = []

    def make(thread: str | None = None) -> httpx.Client:
        clients.append(httpx.Client(headers={"X-Thread-Id": thread} if thread else {},
                                    timeout=30))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def text_of(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_behest_client_v1x_sends_the_api_key_on_chat(live, http):
    client = BehestClient(api_key=live.key, base_url=live.base_url, end_user_id="v1-user",
                          max_retries=0, http_client=http())
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HI)
    assert raw.parse().choices[0].message.content
    events = live.recorder.wait_end(raw.headers["X-Request-Id"])
    auth = next(e for e in events if isinstance(e, Authenticated))
    assert auth.user == "v1-user" and auth.credential.startswith("behest_sk_live_")
    stream = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_api_key_mode_mint_chat_stream_and_threads(live, http):
    user, thread = f"u-{uuid.uuid4().hex[:8]}", "trip/paris 1"
    behest = Behest(key=live.key, base_url=live.url, http_client=http(thread))
    assert behest.mode == "apiKey"
    minted = behest.auth.mint(user_id=user, ttl=900, tier=2, session_id="sess-1")
    assert (minted.ttl, minted.session_id) == (900, "sess-1") and minted.token.count(".") == 2
    reply = behest.chat.completions.create(messages=[{"role": "user", "content": "I like trains"}],
                                           user_id=user)
    assert reply["object"] == "chat.completion"
    chunks = list(behest.chat.completions.create(
        messages=[{"role": "user", "content": "What do I like?"}], stream=True, user_id=user))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    listed = behest.threads.list(user_id=user)
    assert [t["id"] for t in listed] == [thread]
    assert behest.threads.get(thread, user_id=user)["messages_count"] == 4
    messages = behest.threads.messages(thread, user_id=user)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["content"] == reply["choices"][0]["message"]["content"]
    assert messages[3]["content"] == text_of(chunks)
    assert behest.threads.delete(thread, user_id=user) is None
    assert behest.threads.list(user_id=user) == []
    with pytest.raises(BehestError) as info:
        behest.threads.get(thread, user_id=user)
    assert (info.value.status, info.value.code) == (404, "not_found")


def signing_env(live, capsys, *extra: str) -> tuple[dict[str, str], str]:
    """Run ``signing-keys create`` on the live gateway's state dir: (env lines, stdout)."""
    parser = argparse.ArgumentParser()
    add_signing_keys_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["signing-keys", "create", "--project", "local", "--home",
                              str(live.gateway.home), "--base-url", live.url, *extra])
    assert run_signing_keys(args) == 0
    out = capsys.readouterr().out
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line), out


def test_sign_mode_with_the_printed_env(live, capsys, monkeypatch, http):
    env, _ = signing_env(live, capsys)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    behest = Behest(http_client=http())  # key, kid, ids and URL from the environment
    assert behest.mode == "sign"
    reply = behest.chat.completions.create(messages=HI, user_id="signer")
    assert reply["choices"][0]["message"]["content"]
    chunks = list(behest.chat.completions.create(messages=HI, stream=True, user_id="signer"))
    assert text_of(chunks)
    assert behest.threads.list(user_id="signer") == []
    expired = behest.auth.mint(user_id="signer", ttl=-120).token
    with pytest.raises(BehestAuthError) as info:
        behest.chat.completions.create(messages=HI, token=expired)
    assert (info.value.status, info.value.code) == (401, "token_expired")
    assert info.value.trace_id
    with pytest.raises(BehestAuthError) as info:
        list(behest.chat.completions.create(messages=HI, token=expired, stream=True))
    assert info.value.code == "token_expired"
    revoke = argparse.ArgumentParser()
    add_signing_keys_parser(revoke.add_subparsers(dest="command"))
    assert run_signing_keys(revoke.parse_args(["signing-keys", "revoke", env["BEHEST_KID"],
                                               "--home", str(live.gateway.home)])) == 0
    with pytest.raises(BehestAuthError) as info:  # at once, no restart
        behest.chat.completions.create(messages=HI)
    assert info.value.code == "invalid_token" and "revoked" in str(info.value)


def test_legacy_v1x_signing_client(live, capsys, http):
    env, out = signing_env(live, capsys, "--legacy")
    pem = re.search(r'^BEHEST_SIGNING_KEY_PEM="([^"]+)"$', out, re.M)[1]
    client = BehestSigningClient(signing_key_pem=pem,
                                 key_id=env["BEHEST_SIGNING_KEY_ID"],
                                 tenant_id=env["BEHEST_TENANT_ID"],
                                 project_id=env["BEHEST_PROJECT_ID"],
                                 base_url=live.base_url, max_retries=0, http_client=http())
    reply = client.chat.completions.create(model="gpt-4o", messages=HI)
    assert reply.choices[0].message.content


def test_typed_errors_for_a_bad_key_and_a_bad_mint(live, http):
    bad = Behest(key="behest_sk_live_" + "0" * 32, base_url=live.url, http_client=http())
    with pytest.raises(BehestAuthError) as info:
        bad.auth.mint(user_id="x")
    assert (info.value.status, info.value.code) == (401, "invalid_token")
    assert info.value.trace_id and "Incorrect API key" in str(info.value)
    with pytest.raises(BehestAuthError):
        bad.chat.completions.create(messages=HI)
    with pytest.raises(BehestBadRequestError) as info:
        Behest(key=live.key, base_url=live.url, http_client=http()).auth.mint(user_id="admin")
    assert info.value.code == "validation_error" and "reserved" in str(info.value)


def test_the_openai_sdk_with_a_minted_jwt(live, http):
    user = f"oa-{uuid.uuid4().hex[:8]}"
    behest = Behest(key=live.key, base_url=live.url, http_client=http())
    token = behest.auth.mint(user_id=user).token
    client = openai.OpenAI(api_key=token, base_url=live.base_url, max_retries=0,
                           http_client=http())
    reply = client.chat.completions.create(model="gpt-4o", messages=HI,
                                           extra_headers={"X-Thread-Id": "oa"})
    assert reply.choices[0].message.content
    stream = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True,
                                            extra_headers={"X-Thread-Id": "oa"})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert len(behest.threads.messages("oa", user_id=user)) == 4
    forged = openai.OpenAI(api_key=token[:-6] + "AAAAAA", base_url=live.base_url,
                           max_retries=0, http_client=http())
    with pytest.raises(openai.AuthenticationError) as info:
        forged.chat.completions.create(model="gpt-4o", messages=HI)
    assert info.value.code == "invalid_token"


@contextlib.contextmanager
def serving(home: Path) -> Iterator[object]:
    """``runtime.start`` on ``home`` in its own loop and thread, stopped on exit."""
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["running"] = loop.run_until_complete(start(ServeOptions(home=home),
                                                       settings=TEST_SETTINGS))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="restart-gateway", daemon=True)
    thread.start()
    assert ready.wait(15)
    try:
        yield box["running"]
    finally:
        asyncio.run_coroutine_threadsafe(box["running"].close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_threads_history_survives_a_restart(tmp_path, http):
    home = tmp_path / "restart-home"
    with serving(home) as running:
        key, _ = running.gateway.keys.create("local")
        first = Behest(key=key, base_url=running.url, http_client=http("kept"))
        first.chat.completions.create(messages=[{"role": "user", "content": "My name is Bob"}])
        before = first.auth.mint(ttl=600).token
    with serving(home) as running:
        again = Behest(key=key, base_url=running.url, http_client=http("kept"))
        assert [m["content"] for m in again.threads.messages("kept")][0] == "My name is Bob"
        # A token minted before the restart still verifies: the platform key persisted.
        again.chat.completions.create(messages=[{"role": "user", "content": "And my name?"}],
                                      token=before)
        messages = again.threads.messages("kept")
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert pyjwt.get_unverified_header(again.auth.mint().token)["kid"] == \
            pyjwt.get_unverified_header(before)["kid"]

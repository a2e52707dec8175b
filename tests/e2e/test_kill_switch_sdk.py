"""What the SDKs' users see when an admin kills their project: each SDK's 403 class with
``forbidden`` in the body, for a token minted before the kill too; and service again after
the revival. Against a live gateway on its own thread and loop (the SDKs are synchronous)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from behest import Behest, BehestAuthError

from behest_local.runtime.build import ServeOptions
from behest_local.runtime.running import start
from tests.conftest import TEST_SETTINGS

HI = [{"role": "user", "content": "Hello"}]
ENV = ("BEHEST_KEY", "BEHEST_API_KEY", "BEHEST_BASE_URL", "BEHEST_USER_ID", "BEHEST_TIER",
       "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


class Gateway:
    """A started gateway on a thread: ``url``, ``key``, ``admin`` (the admin headers)."""

    def __init__(self, home) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def boot() -> None:
                self.running = await start(ServeOptions(home=home), settings=TEST_SETTINGS)
                ready.set()

            self.loop.run_until_complete(boot())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="kill-gateway", daemon=True)
        self.thread.start()
        assert ready.wait(15), "gateway did not start"
        gateway = self.running.gateway
        self.url = self.running.url
        self.key, _ = gateway.keys.create("local")
        self.admin = {"X-Admin-Secret": gateway.admin.create().reveal()}

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.running.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def gw(tmp_path, monkeypatch) -> Iterator[Gateway]:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    gateway = Gateway(tmp_path / "home")
    yield gateway
    gateway.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def switch(gw: Gateway, http: httpx.Client, action: str) -> None:
    resp = http.post(f"{gw.url}/v1/admin/projects/local/{action}", headers=gw.admin,
                     json={"reason": "rehearsal"} if action == "kill" else None)
    assert resp.status_code == 200, resp.text


def test_every_sdk_meets_its_403_class_while_the_project_is_killed(gw, http):
    behest = Behest(key=gw.key, base_url=gw.url, http_client=http)
    early = behest.auth.mint(user_id="alice").token  # minted before the kill: still valid
    oai = openai.OpenAI(api_key=gw.key, base_url=f"{gw.url}/v1", max_retries=0)
    claude = anthropic.Anthropic(api_key=gw.key, base_url=gw.url, max_retries=0)
    switch(gw, http, "kill")

    with pytest.raises(openai.PermissionDeniedError) as info:
        oai.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert info.value.status_code == 403 and info.value.code == "forbidden"
    assert "admin kill switch (reason: rehearsal)" in info.value.message
    with pytest.raises(openai.PermissionDeniedError):  # a stream is refused before it starts
        oai.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=32, messages=HI)
    assert refused.value.status_code == 403
    assert refused.value.body["error"]["type"] == "permission_error"
    with pytest.raises(BehestAuthError) as behest_info:  # a valid JWT of a killed project
        behest.chat.completions.create(messages=HI, token=early)
    assert (behest_info.value.status, behest_info.value.code) == (403, "forbidden")
    with pytest.raises(BehestAuthError) as mint_info:  # and its key mints nothing
        behest.auth.mint(user_id="bob")
    assert (mint_info.value.status, mint_info.value.code) == (403, "forbidden")

    switch(gw, http, "revive")
    assert oai.chat.completions.create(model="gpt-4o-mini", messages=HI).choices
    assert claude.messages.create(model="claude-sonnet-4-6", max_tokens=32, messages=HI).content
    assert behest.chat.completions.create(messages=HI, token=early)["choices"]
    oai.close()
    claude.close()


def test_the_admin_api_refuses_a_wrong_or_missing_secret(gw, http):
    listing = f"{gw.url}/v1/admin/kill-switches"
    assert http.get(listing, headers=gw.admin).status_code == 200
    wrong = http.get(listing, headers={"X-Admin-Secret": "behest_admin_" + "x" * 43})
    missing = http.get(listing)
    assert (wrong.status_code, missing.status_code) == (403, 401)
    assert wrong.json()["code"] == "FORBIDDEN" and missing.json()["code"] == "UNAUTHORIZED"
    refused = http.post(f"{gw.url}/v1/admin/projects/local/kill",
                        headers={"X-Admin-Secret": "nope"})
    assert refused.status_code == 403
    chat = http.post(f"{gw.url}/v1/chat/completions", json={"messages": HI},
                     headers={"Authorization": f"Bearer {gw.key}"})
    assert chat.status_code == 200  # the refused kill changed nothing

"""``strict_v15``: a project that refuses API keys on the data plane, as Behest v1.5 does."""

from __future__ import annotations

import pytest

from behest_local.config import ProjectConfig
from tests.conftest import with_settings

CHAT = "/v1/chat/completions"
HELLO = {"messages": [{"role": "user", "content": "Hello"}]}


@pytest.fixture
def settings():
    return with_settings(projects=(
        ProjectConfig(name="local", id="local", strict_v15=True),))


async def test_strict_v15_refuses_api_keys_on_the_data_plane_only(gateway_client):
    resp = await gateway_client.post(CHAT, json=HELLO, headers=gateway_client.headers_auth)
    assert resp.status == 401
    body = await resp.json()
    assert body["error"]["code"] == "invalid_token" and "strict_v15" in body["error"]["message"]
    resp = await gateway_client.get("/v1/threads", headers=gateway_client.headers_auth)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "invalid_token"
    resp = await gateway_client.post("/v1/auth/mint", json={"user_id": "alice"},
                                     headers=gateway_client.headers_auth)
    token = (await resp.json())["jwt"]  # minting still takes the key
    resp = await gateway_client.post(CHAT, json=HELLO, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200

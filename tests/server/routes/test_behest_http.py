"""Behest's auth surface over raw HTTP: mint (both paths), JWKS, JWTs on the data plane,
``strict_v15``, the error shapes and statuses, and the identity on the exchange."""

from __future__ import annotations

import json
import logging

import pytest

from behest_local.identity import jwk
from behest_local.exchange import scrub
from behest_local.exchange.events import Authenticated
from behest_local.server.keys import KEYRING
from tests.identity.jwt_tools import forge, claims, rs256

CHAT = "/v1/chat/completions"
HELLO = {"messages": [{"role": "user", "content": "Hello"}]}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_nested(body: dict, code: str) -> dict:
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


async def mint(client, **body) -> dict:
    resp = await client.post("/v1/auth/mint", json={"user_id": "alice", **body},
                             headers=client.headers_auth)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def events(client, kind):
    seen = []
    client.gateway.store.subscribe(lambda e, _x: seen.append(e) if isinstance(e, kind) else None)
    return seen


async def test_mint_answers_the_union_and_the_token_works(gateway_client):
    resp = await gateway_client.post("/v1/auth/mint", headers=gateway_client.headers_auth,
                                     json={"user_id": "alice", "ttl": 900, "tier": 2,
                                           "session_id": "sess_abc", "role": "user"})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Trace-Id"]
    body = await resp.json()
    assert body["jwt"] == body["access_token"] and body["jwt"].startswith("eyJ")
    assert {k: body[k] for k in ("token_type", "project_id", "ttl", "expires_in", "session_id")} \
        == {"token_type": "Bearer", "project_id": "local", "ttl": 900, "expires_in": 900,
            "session_id": "sess_abc"}
    seen = events(gateway_client, Authenticated)
    chat = await gateway_client.post(CHAT, json=HELLO, headers=bearer(body["jwt"]))
    assert chat.status == 200 and (await chat.json())["object"] == "chat.completion"
    assert (seen[0].user, seen[0].session) == ("alice", "sess_abc")
    assert seen[0].credential.startswith("JWT plat_") and body["jwt"] not in seen[0].credential
    assert seen[0].credential.endswith("(minted; role user, tier pro)")
    redacted = scrub.redact_body(json.dumps(body).encode())  # what a trace would keep
    assert body["jwt"] not in redacted and body["jwt"][:60] not in redacted


async def test_session_header_wins_over_the_tokens_sid(gateway_client):
    token = (await mint(gateway_client, session_id="from-token"))["jwt"]
    seen = events(gateway_client, Authenticated)
    await gateway_client.post(CHAT, json=HELLO,
                              headers={**bearer(token), "X-Session-Id": "from-header"})
    assert seen[0].session == "from-header"


@pytest.mark.parametrize("headers, code, words", [
    ({}, "invalid_token", "needs your project API key"),
    ({"Authorization": "Bearer behest_sk_live_" + "0" * 32}, "invalid_token", "Incorrect API key"),
    ({"Authorization": "Basic abc"}, "invalid_token", "needs your project API key"),
])
async def test_mint_auth_errors_are_nested_401s(gateway_client, headers, code, words):
    resp = await gateway_client.post("/v1/auth/mint", json={"user_id": "a"}, headers=headers)
    assert resp.status == 401 and resp.headers["X-Trace-Id"]
    assert words in assert_nested(await resp.json(), code)["message"]


async def test_mint_takes_an_api_key_not_a_jwt(gateway_client):
    token = (await mint(gateway_client))["jwt"]
    resp = await gateway_client.post("/v1/auth/mint", json={"user_id": "a"},
                                     headers=bearer(token))
    assert resp.status == 401
    assert "not a JWT" in assert_nested(await resp.json(), "invalid_token")["message"]


@pytest.mark.parametrize("body, param", [
    ({"user_id": "admin"}, "user_id"), ({"user_id": "a", "ttl": 30}, "ttl"),
    ({"user_id": "a", "tier": "gold"}, "tier"), ({"user_id": "a", "role": "regular"}, "role"),
    ({}, "user_id")])
async def test_mint_validation_errors(gateway_client, body, param):
    resp = await gateway_client.post("/v1/auth/mint", json=body,
                                     headers=gateway_client.headers_auth)
    assert resp.status == 400
    assert assert_nested(await resp.json(), "validation_error")["details"] == {"param": param}


async def test_malformed_json_and_wrong_method_keep_the_nested_shape(gateway_client):
    resp = await gateway_client.post("/v1/auth/mint", data=b"{nope",
                                     headers={**gateway_client.headers_auth,
                                              "Content-Type": "application/json"})
    assert resp.status == 400
    assert_nested(await resp.json(), "validation_error")
    resp = await gateway_client.get("/v1/auth/mint")
    assert resp.status == 405 and resp.headers["X-Trace-Id"]
    assert_nested(await resp.json(), "method_not_allowed")


async def test_legacy_mint_path_answers_flat_errors(gateway_client):
    resp = await gateway_client.post("/auth/v1/auth/mint", headers=gateway_client.headers_auth,
                                     json={"user_id": "bob", "tier": "max"})
    body = await resp.json()
    assert resp.status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3600
    identity = gateway_client.app[KEYRING].verify(body["access_token"])
    assert (identity.user, identity.tier) == ("bob", 3)
    resp = await gateway_client.post("/auth/v1/auth/mint", json={"user_id": "bob"})
    assert resp.status == 401 and resp.headers["X-Trace-Id"]
    flat = await resp.json()
    assert flat["code"] == "UNAUTHORIZED" and isinstance(flat["error"], str)


async def test_jwks_lists_platform_and_tenant_keys_public_halves_only(gateway_client):
    ring = gateway_client.app[KEYRING]
    assert (await (await gateway_client.get("/.well-known/jwks.json")).json()) == {"keys": []}
    await mint(gateway_client)
    _, tenant = ring.tenant.create("local", "local")
    _, revoked = ring.tenant.create("local", "local")
    ring.tenant.revoke(revoked.kid)
    resp = await gateway_client.get("/.well-known/jwks.json")
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    keys = (await resp.json())["keys"]
    assert [k["kid"] for k in keys] == [ring.platform.current.kid, tenant.kid]
    for key in keys:
        assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}
        assert (key["kty"], key["use"], key["alg"], key["e"]) == ("RSA", "sig", "RS256", "AQAB")
        assert "=" not in key["n"]


async def test_jwt_failures_on_chat_are_openai_shaped_401s(gateway_client):
    ring = gateway_client.app[KEYRING]
    pem, key = ring.tenant.create("local", "local")
    private = jwk.load_private(pem.reveal())
    cases = [
        (rs256(private, key.kid, iat=1, nbf=1, exp=100), 401, "token_expired"),
        (forge({"alg": "none", "kid": key.kid}, claims()), 401, "invalid_token"),
        (rs256(private, key.kid, aud="someone"), 401, "invalid_token"),
        (rs256(jwk.generate(), key.kid), 401, "invalid_token"),
        (rs256(private, key.kid, pid="prompted"), 403, "forbidden"),
    ]
    for token, status, code in cases:
        resp = await gateway_client.post(CHAT, json=HELLO, headers=bearer(token))
        body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (status, code), body
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert resp.headers["X-Trace-Id"]
        if status == 401:
            assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="behest"')


async def test_a_token_of_another_tenant_or_unknown_project(gateway_client):
    ring = gateway_client.app[KEYRING]
    signer = ring.load_signer()
    other_tenant = signer.sign(claims(tid="acme"))
    resp = await gateway_client.post(CHAT, json=HELLO, headers=bearer(other_tenant))
    assert resp.status == 403 and "tenant 'acme'" in (await resp.json())["error"]["message"]
    unknown = signer.sign(claims(pid="gone"))
    resp = await gateway_client.post(CHAT, json=HELLO, headers=bearer(unknown))
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "project_not_found"


async def test_no_secret_reaches_the_log(gateway_client, caplog):
    with caplog.at_level(logging.DEBUG):
        body = await mint(gateway_client)
        await gateway_client.post(CHAT, json=HELLO, headers=bearer(body["jwt"]))
        await gateway_client.post(CHAT, json=HELLO, headers=bearer(body["jwt"][:-4] + "AAAA"))
    key = gateway_client.headers_auth["Authorization"].split()[1]
    assert key not in caplog.text and body["jwt"] not in caplog.text
    assert "PRIVATE KEY" not in caplog.text
    assert repr(gateway_client.app[KEYRING].platform.signer).startswith("PlatformSigner(kid=")

"""Issue 17, item 4: a web page cannot lock a client out, nor drive ``/_behest/``.

Every local client shares 127.0.0.1, and the per-IP limit counts before authentication.
Before the fix, any page the user visited could POST ``text/plain`` to the gateway
(no preflight needed) 120 times a minute and the user's own client, key and all, got
429 (measured: the page's 150 requests got 401 then 429, the client 429). The
``/_behest/`` inspection routes answered any request without ``Origin``, ``<img>``- and
``no-cors``-style GETs included, and their unknown paths answered aiohttp's plain text.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from behest_local.config import ProjectConfig, RateLimitConfig
from tests.conftest import TEST_SETTINGS
from tests.hardening.door_support import CHAT, HELLO, assert_openai_error

PAGE = {"Origin": "https://evil.example"}
# What a page can send without a preflight: safelisted content types, no credential.
FORGEABLE = [("POST", {"Content-Type": "text/plain"}, b"{}"),
             ("POST", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=b"),
             ("POST", {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
             ("GET", {}, None), ("POST", {"Content-Type": "text/plain", "Authorization": ""}, b"{}")]


def enforced(ip_rpm: int = 120):
    local = ProjectConfig(name="local", id="local", rate_limits=RateLimitConfig(ip_rpm=ip_rpm))
    return replace(TEST_SETTINGS, projects=(local,),
                   emulator=replace(TEST_SETTINGS.emulator, enforce_limits=True))


async def test_150_requests_a_page_can_forge_do_not_lock_out_the_users_client(
        make_gateway_client):
    client = await make_gateway_client(enforced())
    statuses = set()
    for n in range(150):
        method, headers, body = FORGEABLE[n % len(FORGEABLE)]
        path = CHAT if method == "POST" else "/v1/models"
        resp = await client.request(method, path, data=body, headers={**PAGE, **headers})
        statuses.add(resp.status)
        assert_openai_error(await resp.json(), code="invalid_api_key")
    assert statuses == {401}  # refused, never counted: no 429
    resp = await client.post(CHAT, json=HELLO, headers=client.key)
    assert resp.status == 200
    assert resp.headers["x-ratelimit-remaining-requests"] != "0"


async def test_forged_requests_do_not_spend_the_ip_allowance_at_all(make_gateway_client):
    client = await make_gateway_client(enforced(ip_rpm=3))
    for _ in range(10):
        resp = await client.post(CHAT, data=b"{}", headers={**PAGE, "Content-Type": "text/plain"})
        assert resp.status == 401
    for _ in range(3):
        assert (await client.post(CHAT, json=HELLO, headers=client.key)).status == 200
    assert (await client.post(CHAT, json=HELLO, headers=client.key)).status == 429


async def test_a_flood_of_bad_keys_still_meets_the_per_ip_limit(make_gateway_client):
    client = await make_gateway_client(enforced(ip_rpm=3))
    bad = {"Authorization": "Bearer behest_sk_live_" + "0" * 32}
    statuses = [(await client.post(CHAT, json=HELLO, headers=bad)).status for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]  # a credential counts, as in the cloud


async def test_public_jwks_is_still_served_to_a_plain_get(make_gateway_client):
    client = await make_gateway_client(enforced(ip_rpm=1))
    for _ in range(3):
        assert (await client.get("/.well-known/jwks.json")).status == 200


# -- /_behest/ ----------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
                                     {"Sec-Fetch-Site": "same-site"},
                                     {"Sec-Fetch-Site": "same-origin"}],
                         ids=["origin", "null-origin", "cross-site", "same-site", "same-origin"])
@pytest.mark.parametrize("method, path", [("GET", "/_behest/exchanges/x/timeline"),
                                          ("POST", "/_behest/exchanges/x/probe"),
                                          ("GET", "/_behest/nothing-here")])
async def test_inspection_routes_refuse_what_a_browser_sends(make_gateway_client, headers,
                                                             method, path):
    client = await make_gateway_client()
    resp = await client.request(method, path, headers=headers)
    assert resp.status == 403
    assert_openai_error(await resp.json(), code="cross_origin")


async def test_inspection_routes_answer_tools_and_typed_addresses_in_openai_shape(
        make_gateway_client):
    client = await make_gateway_client()
    resp = await client.get(CHAT.replace("chat/completions", "models"), headers=client.key)
    request_id = resp.headers["X-Request-Id"]
    ok = await client.get(f"/_behest/exchanges/{request_id}/timeline",
                          headers={"Sec-Fetch-Site": "none"})
    assert ok.status == 200 and (await ok.json())["id"] == request_id
    missing = await client.get("/_behest/nothing-here")
    assert missing.status == 404
    assert_openai_error(await missing.json(), code="unknown_url")
    wrong = await client.delete(f"/_behest/exchanges/{request_id}/timeline")
    assert wrong.status == 405
    assert_openai_error(await wrong.json(), code="method_not_allowed")

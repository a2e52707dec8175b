"""Mint request validation (reference §1.1/§1.2) and the claim set it produces (§2.4)."""

from __future__ import annotations

import uuid

import pytest

from behest_local.identity.jwt import ClaimError, MintRequest, parse_tier, tier_name


def test_what_the_v15_sdk_sends_is_accepted():
    wanted = MintRequest.parse({"user_id": "default", "role": "user", "ttl": 3600,
                                "session_id": str(uuid.uuid4()), "tier": 2})
    assert (wanted.user_id, wanted.role, wanted.ttl, wanted.tier) == ("default", "user", 3600, 2)


def test_defaults_and_legacy_forms():
    wanted = MintRequest.parse({"user_id": "u", "tier": "Pro", "role": None, "ttl": None})
    assert (wanted.role, wanted.ttl, wanted.tier, wanted.session_id) == ("user", 3600, 2, None)
    assert MintRequest.parse({"user_id": "x" * 255}).user_id == "x" * 255


@pytest.mark.parametrize("body, param", [
    ({}, "user_id"), ({"user_id": ""}, "user_id"), ({"user_id": "   "}, "user_id"),
    ({"user_id": "x" * 256}, "user_id"), ({"user_id": 42}, "user_id"),
    ({"user_id": "a\nb"}, "user_id"), ({"user_id": "admin"}, "user_id"),
    ({"user_id": "System"}, "user_id"), ({"user_id": "dashboard-service"}, "user_id"),
    ({"user_id": "u", "ttl": 59}, "ttl"), ({"user_id": "u", "ttl": 86401}, "ttl"),
    ({"user_id": "u", "ttl": "900"}, "ttl"), ({"user_id": "u", "ttl": 900.0}, "ttl"),
    ({"user_id": "u", "ttl": True}, "ttl"), ({"user_id": "u", "tier": 0}, "tier"),
    ({"user_id": "u", "tier": "gold"}, "tier"), ({"user_id": "u", "tier": True}, "tier"),
    ({"user_id": "u", "role": "regular"}, "role"),
    ({"user_id": "u", "session_id": 5}, "session_id"),
])
def test_invalid_mint_bodies_name_the_field(body, param):
    with pytest.raises(ClaimError) as info:
        MintRequest.parse(body)
    assert info.value.param == param


def test_a_body_that_is_not_an_object():
    with pytest.raises(ClaimError, match="JSON object"):
        MintRequest.parse(["user_id"])


def test_tiers():
    assert [parse_tier(v) for v in (1, 2, 3, "free", "MAX", "2", None)] == [1, 2, 3, 1, 3, 2, None]
    assert [tier_name(t) for t in (1, 2, 3, None)] == ["free", "pro", "max", None]


def test_claims_are_behests_order_and_values():
    claims = MintRequest(user_id="u", ttl=900, tier=3, session_id="s").claims(
        tenant="t", project="p", now=1000)
    assert list(claims) == ["tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf",
                            "exp", "jti", "sid", "tier"]
    assert claims["iss"] == "https://api.behest.app" and claims["aud"] == "behest"
    assert (claims["iat"], claims["nbf"], claims["exp"], claims["sid"]) == (1000, 1000, 1900, "s")
    without = MintRequest(user_id="u").claims(tenant="t", project="p")
    assert "tier" not in without and uuid.UUID(without["sid"]).version == 4

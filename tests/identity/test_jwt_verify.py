"""JWT verification: what is accepted (minted, v1.5 sign mode, legacy v1.x) and every attack
refused with the right code (RFC 8725's list: alg none, HS256 keyed with the public key,
unknown kid, bad signature, wrong audience/issuer, time claims)."""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest

from behest_local.identity import jwk
from behest_local.identity.jwt import KeyRing, MintRequest, TokenError, mint
from behest_local.identity.jwt.verify import MAX_TOKEN
from tests.identity.jwt_tools import b64url, claims, forge, rs256


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> KeyRing:
    ring = KeyRing(tmp_path_factory.mktemp("ring"))
    ring.load_signer()
    return ring


@pytest.fixture(scope="module")
def tenant(ring):
    pem, key = ring.tenant.create("local", "local")
    return jwk.load_private(pem.reveal()), key.kid


def refused(ring: KeyRing, token: str, code: str = "invalid_token", status: int = 401) -> str:
    with pytest.raises(TokenError) as info:
        ring.verify(token)
    assert (info.value.code, info.value.status) == (code, status), info.value.message
    return info.value.message


def test_a_minted_token_verifies_with_its_identity(ring):
    wanted = MintRequest.parse({"user_id": "u1", "tier": "pro", "session_id": "s1"})
    out = mint(ring.load_signer(), wanted, tenant="local", project="local")
    identity = ring.verify(out["jwt"])
    assert (identity.tenant, identity.project, identity.user, identity.role) == \
        ("local", "local", "u1", "user")
    assert (identity.tier, identity.session, identity.source) == (2, "s1", "platform")
    assert identity.issuer == "https://api.behest.app"
    header = pyjwt.get_unverified_header(out["jwt"])
    assert header == {"alg": "RS256", "kid": ring.platform.current.kid, "typ": "JWT"}
    assert list(pyjwt.decode(out["jwt"], options={"verify_signature": False})) == [
        "tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid",
        "tier"]


def test_sign_mode_and_legacy_v1_tokens_verify(ring, tenant):
    key, kid = tenant
    v15 = ring.verify(rs256(key, kid, tier=3, role="admin"))
    assert (v15.user, v15.tier, v15.session, v15.source) == ("alice", 3, "sess-1", "tenant")
    assert v15.role == "user"  # Kong forces role=user for sk_* tokens
    now = int(time.time())
    legacy = forge({"alg": "RS256", "kid": kid, "typ": "JWT"},
                   {"tid": "local", "pid": "local", "uid": "anonymous", "iss": "behest",
                    "aud": "behest", "iat": now, "nbf": now, "exp": now + 300}, key=key)
    identity = ring.verify(legacy)
    assert (identity.user, identity.session, identity.tier, identity.issuer) == \
        ("anonymous", None, None, "behest")


def test_alg_none_is_refused(ring, tenant):
    _key, kid = tenant
    token = forge({"alg": "none", "kid": kid}, claims())
    assert "RS256 only" in refused(ring, token)
    assert "RS256 only" in refused(ring, forge({"alg": "None", "kid": kid}, claims()))


def test_hs256_keyed_with_the_public_key_is_refused(ring, tenant):
    _key, kid = tenant
    public = jwk.public_pem(ring.tenant.lookup(kid).public_key).encode()
    token = forge({"alg": "HS256", "kid": kid, "typ": "JWT"}, claims(), hmac_secret=public)
    assert "'HS256' is not accepted" in refused(ring, token)


def test_unknown_kid_missing_kid_and_foreign_key(ring, tenant):
    key, _kid = tenant
    assert "Unknown signing key 'sk_0000000000000000'" in refused(
        ring, rs256(key, "sk_0000000000000000"))
    assert "Unknown signing key 'plat_nope'" in refused(ring, rs256(key, "plat_nope"))
    assert "no 'kid'" in refused(ring, forge({"alg": "RS256"}, claims(), key=key))
    stranger = jwk.generate()
    platform_kid = ring.platform.current.kid
    assert "does not verify" in refused(ring, rs256(stranger, platform_kid))


def test_bad_signature_is_refused(ring, tenant):
    key, kid = tenant
    token = rs256(key, kid)
    head, body, sig = token.split(".")
    tampered_body = b64url(pyjwt.utils.base64url_decode(body).replace(b"alice", b"mallo"))
    assert "does not verify" in refused(ring, f"{head}.{tampered_body}.{sig}")
    assert "does not verify" in refused(ring, forge(
        {"alg": "RS256", "kid": kid}, claims(), signature=b"\0" * 256))


def test_expired_is_token_expired_and_leeway_is_small(ring, tenant):
    key, kid = tenant
    now = int(time.time())
    refused(ring, rs256(key, kid, iat=now - 700, nbf=now - 700, exp=now - 60),
            code="token_expired")
    assert ring.verify(rs256(key, kid, exp=now - 5)).user == "alice"  # within the leeway


def test_not_yet_valid_tokens_are_refused(ring, tenant):
    key, kid = tenant
    now = int(time.time())
    assert "not valid yet" in refused(ring, rs256(key, kid, nbf=now + 300))
    assert "not valid yet" in refused(ring, rs256(key, kid, iat=now + 300, nbf=None))


@pytest.mark.parametrize("aud", ["behest-admin", "", ["other"]])
def test_wrong_audience_is_refused(ring, tenant, aud):
    key, kid = tenant
    message = refused(ring, rs256(key, kid, aud=aud))
    assert "audience" in message or "'aud'" in message  # PyJWT reads "" as absent


@pytest.mark.parametrize("iss", ["https://evil.example", "Behest", ["behest"]])
def test_wrong_issuer_is_refused(ring, tenant, iss):
    key, kid = tenant
    assert "issuer" in refused(ring, rs256(key, kid, iss=iss))


@pytest.mark.parametrize("claim", ["exp", "iat", "aud", "iss", "tid", "pid", "uid"])
def test_required_claims(ring, tenant, claim):
    key, kid = tenant
    assert claim in refused(ring, rs256(key, kid, **{claim: None}))


def test_header_oddities_are_refused(ring, tenant):
    key, kid = tenant
    assert "crit" in refused(ring, forge({"alg": "RS256", "kid": kid, "crit": ["exp"]},
                                         claims(), key=key))
    assert "typ" in refused(ring, forge({"alg": "RS256", "kid": kid, "typ": "at+jwt"},
                                        claims(), key=key))
    assert "Malformed" in refused(ring, "eyJhbGciOiJSUzI1NiJ9.not-json.x")
    assert "limit" in refused(ring, "eyJ" + "a" * MAX_TOKEN + ".b.c")
    assert "tier" in refused(ring, rs256(key, kid, tier=7))


def test_a_tenant_key_cannot_speak_for_another_project_or_tenant(ring, tenant):
    key, kid = tenant
    assert "belongs to project 'local'" in refused(ring, rs256(key, kid, pid="other"),
                                                   code="forbidden", status=403)
    refused(ring, rs256(key, kid, tid="someone-else"), code="forbidden", status=403)


def test_revocation_applies_at_once_across_store_instances(tmp_path):
    home = tmp_path / "home"
    ring = KeyRing(home)
    pem, record = KeyRing(home).tenant.create("local", "local")  # "another process" made it
    token = rs256(jwk.load_private(pem.reveal()), record.kid)
    assert ring.verify(token).user == "alice"
    KeyRing(home).tenant.revoke(record.kid)  # and another one revokes it
    assert "revoked" in refused(ring, token)
    assert ring.jwks()["keys"] == []

"""A JWT's ``exp``, ``nbf`` and ``iat`` must be numbers within range (issue 17, item 8):
strings, booleans, NaN and infinities, numbers no date can hold and negative ones are
refused with 401 ``invalid_token`` naming the claim, in the shape of the route asked
(OpenAI's on chat, Behest's nested one on ``/v1/threads``), never a 500 and never accepted.
Before, PyJWT's ``int()`` let ``"1796662455"`` and ``1e300`` (a token that never expires)
through, and ``true`` for ``iat``.

Hypothesis draws a claim and a value and sends the tenant-signed token to the live gateway;
the oracle is RFC 7519's NumericDate with the gateway's leeway.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from behest_local.identity import jwk
from behest_local.identity.jwt.claims import LEEWAY_S
from behest_local.identity.jwt.verify import NUMERIC_DATE_MAX, TokenError, check_times
from behest_local.identity.signing_keys import SigningKeyStore
from tests.identity.jwt_tools import claims, forge

ROUTES = {"chat": ("POST", "/v1/chat/completions"), "threads": ("GET", "/v1/threads")}
HELLO = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
NOW = int(time.time())

numbers = st.one_of(
    st.integers(min_value=NOW - 10**7, max_value=NOW + 10**7),  # around now, both sides
    st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, NUMERIC_DATE_MAX, NUMERIC_DATE_MAX + 1, -1, 10**300, 10**400]))
others = st.one_of(
    st.booleans(), st.none(), st.text(max_size=12),
    st.sampled_from([str(NOW + 600), "NaN", "Infinity", "1e400", f"{NOW + 600}.0"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=1))


@pytest.fixture(scope="module")
def signer(live):
    """A signing key of project ``local`` registered in the live gateway's state dir."""
    pem, key = SigningKeyStore(live.gateway.home).create("local", "local")
    return jwk.load_private(pem.reveal()), key.kid


def is_numeric_date(value) -> bool:
    """RFC 7519 §2's NumericDate, bounded: a JSON number from 0 to the end of year 9999."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and 0 <= value <= NUMERIC_DATE_MAX


def expected(claim: str, value) -> tuple[int, str | None]:
    """(status, Behest code) the gateway owes a token whose ``claim`` is ``value``."""
    if not is_numeric_date(value):
        return 401, "invalid_token"  # (None: null, or for exp and iat a missing claim)
    if claim == "exp" and value <= time.time() - LEEWAY_S:
        return 401, "token_expired"
    if claim in ("nbf", "iat") and value > time.time() + LEEWAY_S:
        return 401, "invalid_token"
    return 200, None


def near_a_boundary(value) -> bool:
    """Within 10 s of where the answer changes with the clock: not decidable in a test."""
    if not is_numeric_date(value):
        return False
    return any(abs(value - edge) < 10 for edge in (time.time() - LEEWAY_S,
                                                   time.time() + LEEWAY_S))


def call(live, route: str, token: str) -> tuple[int, dict, dict]:
    method, path = ROUTES[route]
    body = json.dumps(HELLO).encode() if method == "POST" else None
    request = urllib.request.Request(live.url + path, data=body, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim=st.sampled_from(["exp", "nbf", "iat"]), value=st.one_of(numbers, others),
       route=st.sampled_from(sorted(ROUTES)))
def test_time_claims_must_be_numbers_in_range_on_every_route(live, signer, claim, value, route):
    assume(not near_a_boundary(value))
    key, kid = signer
    payload = claims()
    payload[claim] = value  # None is sent as null
    token = forge({"alg": "RS256", "kid": kid, "typ": "JWT"}, payload, key=key)
    status, body, headers = call(live, route, token)
    want_status, want_code = expected(claim, value)
    assert status == want_status, (claim, value, route, body)
    if want_code is None:
        return
    error = body["error"]
    if route == "chat":  # OpenAI's shape
        assert set(error) == {"message", "type", "param", "code"}
        assert headers["WWW-Authenticate"].startswith('Bearer realm="behest"')
    else:  # Behest's nested shape
        assert set(body) == {"error"} and {"code", "message"} <= set(error)
    assert error["code"] == want_code, (claim, value, error)
    if not is_numeric_date(value):
        assert repr(claim) in error["message"], error  # names the claim at fault


def test_the_time_rules_alone_accept_an_honest_token_and_name_the_claim_at_fault():
    now = 1_800_000_000
    check_times({"exp": now + 60, "nbf": now, "iat": now - 0.5}, now=now)
    for name, value in [("exp", "1800000600"), ("iat", True), ("nbf", float("nan")),
                        ("exp", 1e300), ("exp", -1), ("nbf", [now])]:
        with pytest.raises(TokenError) as info:
            check_times({"exp": now + 60, "iat": now, name: value}, now=now)
        assert (info.value.code, info.value.status) == ("invalid_token", 401)
        assert f"'{name}' claim must be a number" in info.value.message
    with pytest.raises(TokenError) as info:
        check_times({"exp": now - 31, "iat": now - 100}, now=now)
    assert info.value.code == "token_expired"

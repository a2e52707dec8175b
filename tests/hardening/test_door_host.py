"""Issue 17, item 4: a foreign ``Host`` is refused on every route (DNS rebinding).

A page that rebinds its own name to 127.0.0.1 talks to the gateway same-origin, so only
the ``Host`` it names gives it away. Before the fix every route answered any ``Host``
(``/healthz``, ``/v1/models`` with a key, the ``/_behest/`` timeline: 200/404).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from behest_local.config import ConfigError, ServerConfig
from behest_local import config
from tests.conftest import TEST_SETTINGS
from tests.hardening.door_support import (HELLO, assert_flat_error, assert_nested_error,
                                          assert_openai_error)

FOREIGN = ("evil.example", "attacker.com:7717", "127.0.0.1.evil.example", "localhost.evil.example",
           "local-xyz.localhost.evil.example:7717")


def server(**changes) -> object:
    return replace(TEST_SETTINGS, server=replace(TEST_SETTINGS.server, **changes))


# (method, path, shape, needs): every kind of route the gateway serves.
ROUTES = [("GET", "/healthz", "openai", None), ("GET", "/v1/models", "openai", "key"),
          ("POST", "/v1/chat/completions", "openai", "key"),
          ("GET", "/_behest/exchanges/x/timeline", "openai", None),
          ("GET", "/v1/projects", "flat", "dash"), ("GET", "/v1/threads", "nested", "key"),
          ("GET", "/.well-known/jwks.json", "nested", None),
          ("OPTIONS", "/v1/chat/completions", "openai", "preflight")]


@pytest.mark.parametrize("host", FOREIGN[:2])
@pytest.mark.parametrize("method, path, shape, needs", ROUTES, ids=[r[1] + " " + r[0] for r in ROUTES])
async def test_a_foreign_host_is_refused_with_421_in_the_routes_shape(
        make_gateway_client, host, method, path, shape, needs):
    client = await make_gateway_client()
    headers = {"Host": host, **({"key": client.key, "dash": client.dash}.get(needs) or {})}
    if needs == "preflight":
        headers.update({"Origin": "https://behest.ai", "Access-Control-Request-Method": "POST"})
    resp = await client.request(method, path, headers=headers,
                                json=HELLO if method == "POST" else None)
    assert resp.status == 421
    body = await resp.json()
    if shape == "openai":
        error = assert_openai_error(body, code="host_not_allowed", param="Host")
        message = error["message"]
    elif shape == "flat":
        message = assert_flat_error(body, code="HOST_NOT_ALLOWED")["error"]
    else:
        message = assert_nested_error(body, code="forbidden")["message"]
    assert host in message and "allowed_hosts" in message


@pytest.mark.parametrize("host", FOREIGN[2:])
async def test_names_that_only_contain_a_local_name_are_foreign(make_gateway_client, host):
    client = await make_gateway_client()
    resp = await client.get("/v1/models", headers={"Host": host, **client.key})
    assert resp.status == 421


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:7717", "localhost", "LOCALHOST:7717",
                                  "localhost.:7717", "amber-fox-042.localhost:7717",
                                  "[::1]:7717", "127.0.0.2:7717"])
async def test_loopback_names_and_addresses_are_answered(make_gateway_client, host):
    client = await make_gateway_client()
    resp = await client.get("/v1/models", headers={"Host": host, **client.key})
    assert resp.status == 200, await resp.text()


async def test_allowed_hosts_admit_exact_names_and_wildcards_only(make_gateway_client):
    client = await make_gateway_client(server(allowed_hosts=("devbox.lan", "*.example.test")))
    for host, status in (("devbox.lan:7717", 200), ("DevBox.LAN", 200), ("a.example.test", 200),
                         ("x.y.example.test:1", 200), ("example.test", 421),
                         ("devbox.lan.evil.example", 421), ("evil.example", 421)):
        resp = await client.get("/v1/models", headers={"Host": host, **client.key})
        assert resp.status == status, host


async def test_a_star_turns_the_check_off(make_gateway_client):
    client = await make_gateway_client(server(allowed_hosts=("*",)))
    resp = await client.get("/v1/models", headers={"Host": "proxy.corp.example", **client.key})
    assert resp.status == 200


async def test_a_remote_bind_answers_any_ip_address_but_no_foreign_name(make_gateway_client):
    client = await make_gateway_client(server(host="0.0.0.0"))
    for host, status in (("192.168.1.20:7717", 200), ("[fe80::1]:7717", 200),
                         ("localhost:7717", 200), ("evil.example:7717", 421)):
        resp = await client.get("/v1/models", headers={"Host": host, **client.key})
        assert resp.status == status, host


async def test_a_loopback_bind_refuses_other_ip_addresses(make_gateway_client):
    client = await make_gateway_client()
    resp = await client.get("/v1/models", headers={"Host": "192.168.1.20:7717", **client.key})
    assert resp.status == 421


async def test_allowed_hosts_follow_a_reload_without_restart(make_gateway_client):
    client = await make_gateway_client()
    headers = {"Host": "devbox.lan:7717", **client.key}
    assert (await client.get("/v1/models", headers=headers)).status == 421
    gateway = client.gateway
    gateway.settings = replace(gateway.settings, server=replace(
        gateway.settings.server, allowed_hosts=("devbox.lan",)))  # what a reload does
    assert (await client.get("/v1/models", headers=headers)).status == 200


async def test_a_refused_host_is_traced_and_logged_once(make_gateway_client, caplog):
    client = await make_gateway_client()
    with caplog.at_level(logging.WARNING, logger="behest_local.host"):
        for _ in range(3):
            resp = await client.get("/healthz", headers={"Host": "evil.example"})
            assert resp.status == 421
    assert [r.getMessage() for r in caplog.records].count(
        next(r.getMessage() for r in caplog.records)) == 1
    assert "evil.example" in caplog.records[0].getMessage()
    ended = client.gateway.store.recent[-1]
    assert ended.status == 421 and "evil.example" in ended.error


@pytest.mark.parametrize("entry, fragment, hint", [
    ('"devbox.lan:7717"', "has a port", "use 'devbox.lan'"),
    ('"http://devbox.lan"', "without scheme or path", None),
    ('"not a host"', "is not a host name", None),
    ("7717", "expected a list of strings", None)])
def test_bad_allowed_hosts_name_the_file_and_line(tmp_path, entry, fragment, hint):
    path = tmp_path / "behest.toml"
    path.write_text(f'[tenant]\nid = "local"\n\n[server]\nallowed_hosts = ["ok.lan", {entry}]\n'
                    if entry != "7717" else "[server]\nallowed_hosts = 7717\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    problem, = info.value.problems
    assert problem.line == (5 if entry != "7717" else 2)
    assert fragment in problem.message and "allowed_hosts" in problem.message
    assert hint is None or hint in (problem.hint or "")
    assert str(info.value).startswith(f"{path}:{problem.line}: ")


def test_allowed_hosts_defaults_to_none_and_loads_valid_entries(tmp_path):
    assert ServerConfig().allowed_hosts == ()
    path = tmp_path / "behest.toml"
    path.write_text('[server]\nallowed_hosts = ["devbox.lan", "*.example.test", "10.0.0.5", '
                    '"[::1]", "*"]\n')
    assert config.load(path).server.allowed_hosts == (
        "devbox.lan", "*.example.test", "10.0.0.5", "[::1]", "*")

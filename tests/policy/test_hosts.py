"""The DNS-rebinding rule as pure functions: ``Host`` parsing and which names pass."""

from __future__ import annotations

import pytest

from behest_local.policy.hosts import HostRules, hostname


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1:7717", "127.0.0.1"), ("LocalHost", "localhost"), ("localhost.:7717", "localhost"),
    ("[::1]:7717", "::1"), ("[::1]", "::1"), ("a.b.localhost", "a.b.localhost"),
    ("::1", None), ("host:port", None), ("[::1]x", None), ("", None), (":7717", None),
    ("[]:1", None)])
def test_hostname_takes_the_name_without_port_brackets_or_trailing_dot(header, name):
    assert hostname(header) == name


def test_a_loopback_bind_answers_local_names_and_loopback_addresses_only():
    rules = HostRules.for_server("127.0.0.1")
    assert not rules.any_ip
    for host in ("localhost:1", "x.localhost", "127.0.0.1", "127.9.9.9:80", "[::1]:7717", None):
        assert rules.allows(host), host
    for host in ("evil.example", "10.0.0.1", "localhost.evil", "xlocalhost", "[fe80::1]", "a b"):
        assert not rules.allows(host), host


@pytest.mark.parametrize("bound", ["0.0.0.0", "::", "192.168.1.20", "devbox.lan"])
def test_a_bind_beyond_loopback_answers_any_ip_and_its_own_name(bound):
    rules = HostRules.for_server(bound)
    assert rules.any_ip and rules.allows("10.1.2.3:7717") and rules.allows("[2001:db8::1]")
    assert rules.allows(f"[{bound}]" if ":" in bound else bound)
    assert not rules.allows("evil.example")


def test_localhost_bind_is_loopback():
    assert not HostRules.for_server("localhost").any_ip


def test_allowed_entries_exact_wildcard_and_star():
    rules = HostRules.for_server("127.0.0.1", ("DevBox.lan.", "*.corp.test", "[fd00::1]"))
    assert rules.allows("devbox.lan:7717") and rules.allows("a.b.corp.test")
    assert rules.allows("[fd00::1]:1")
    assert not rules.allows("corp.test") and not rules.allows("devbox.lan.evil")
    assert HostRules.for_server("127.0.0.1", ("*",)).allows("anything.example")

"""Upstream requests through a forward proxy and with a private CA (issue 23; the module
is behest_local/providers/proxy.py): a real tinyproxy (Debian's, started here) in front of
a TLS upstream whose certificate comes from a test CA (trustme). The proxy's own log
shows what went through it."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from behest_local.providers.http import HttpPool
from behest_local.providers.http_connection import ConnectError
from behest_local.providers.proxy import Route, parse_proxy, proxy_for

trustme = pytest.importorskip("trustme")
needs_tinyproxy = pytest.mark.skipif(shutil.which("tinyproxy") is None,
                                     reason="tinyproxy is not installed (.ci/run installs it)")

VARIABLES = ("https_proxy", "http_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE",
             "SSL_CERT_DIR")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch) -> None:
    """No proxy or CA variable of the machine's leaks in."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


class TinyProxy:
    """``tinyproxy -d`` on a free loopback port; ``auth``: ``(user, password)``."""

    def __init__(self, folder: Path, auth: tuple[str, str] | None = None) -> None:
        with socket.socket() as probe:  # a free port: tinyproxy cannot be told "any"
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_file = folder / "tinyproxy.log"
        config = folder / "tinyproxy.conf"
        config.write_text(f'Port {self.port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\n'
                          f'LogFile "{self.log_file}"\nLogLevel Info\nAllow 127.0.0.1\n'
                          + (f"BasicAuth {auth[0]} {auth[1]}\n" if auth else ""))
        self.proc = subprocess.Popen(["tinyproxy", "-d", "-c", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # polled until it listens
            if self.proc.poll() is not None:
                raise AssertionError(f"tinyproxy exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise AssertionError("tinyproxy never listened")

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def requests(self) -> list[str]:
        """The request lines it received, in order."""
        return re.findall(r"Request \(file descriptor \d+\): (.*)", self.log())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def proxy(tmp_path) -> Iterator[TinyProxy]:
    started = TinyProxy(tmp_path)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> tuple[object, Path]:
    """A private CA, and its certificate as a PEM file."""
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "corp-ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


class Upstreams:
    """One app on ``https://localhost:tls`` (a certificate of the private CA) and
    ``http://localhost:plain``; it answers ``{"path": ...}``."""

    tls: int
    plain: int


@pytest.fixture
async def upstream(ca) -> AsyncIterator[Upstreams]:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path_qs})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca[0].issue_cert("localhost", "127.0.0.1").configure_cert(server_tls)
    tls, plain = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls), \
        web.TCPSite(runner, "127.0.0.1", 0)
    await tls.start()
    await plain.start()
    ports = Upstreams()
    ports.tls, ports.plain = (site._server.sockets[0].getsockname()[1] for site in (tls, plain))
    yield ports
    await runner.cleanup()


@pytest.fixture
async def pool() -> AsyncIterator[HttpPool]:
    pool = HttpPool()
    yield pool
    await pool.close()


async def get(pool: HttpPool, url: str, route: Route = Route()) -> dict:
    response = await pool.request("GET", url, headers={}, connect_timeout=10,
                                  read_timeout=10, route=route)
    try:
        assert response.status == 200
        return json.loads(await response.read())
    finally:
        response.release()


# -- which proxy: the environment as curl and requests read it ----------------------------

@pytest.mark.parametrize("environ, url, expected", [
    ({"HTTPS_PROXY": "http://upper:1"}, "https://api.example.com", "http://upper:1"),
    ({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"},
     "https://api.example.com", "http://lower:2"),  # lower case wins, as in curl
    ({"HTTP_PROXY": "http://plain:3"}, "https://api.example.com", None),  # not for https
    ({"HTTP_PROXY": "http://plain:3"}, "http://api.example.com", "http://plain:3"),
    ({"ALL_PROXY": "http://all:4"}, "https://api.example.com", "http://all:4"),
    ({"all_proxy": "http://all:4", "HTTPS_PROXY": "http://https:5"},
     "https://api.example.com", "http://https:5"),  # the scheme's own wins over ALL
    ({"HTTPS_PROXY": "proxy.corp:3128"}, "https://api.example.com", "http://proxy.corp:3128"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://api.example.com", None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".example.com"}, "https://api.example.com",
     None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.com,localhost"},
     "https://api.example.com", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://api.example.com", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example.com:8443"},
     "https://api.example.com:8443", None),
])
def test_the_environment_chooses_the_proxy(environ, url, expected):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    chosen = proxy_for(parts.scheme, parts.hostname, parts.port or 443, Route(), environ)
    assert (chosen.shown if chosen else None) == expected


def test_a_providers_own_proxy_overrides_the_environment():
    environ = {"HTTPS_PROXY": "http://env:1"}
    assert proxy_for("https", "h", 443, Route(proxy=""), environ) is None
    assert proxy_for("https", "h", 443, Route(proxy="http://own:2"), environ).shown == \
        "http://own:2"


def test_proxy_credentials_become_basic_auth_and_are_never_shown():
    proxy = parse_proxy("http://al%40ice:p%3Ass@proxy.corp:3128")
    assert proxy.authorization == "Basic YWxAaWNlOnA6c3M="  # al@ice:p:ss
    assert proxy.shown == "http://proxy.corp:3128"
    with pytest.raises(ConnectError, match="only http:// proxies") as caught:
        parse_proxy("socks5://user:secret@proxy.corp:1080")
    assert "secret" not in str(caught.value)


# -- through a real proxy -------------------------------------------------------------------

@needs_tinyproxy
async def test_an_https_upstream_is_reached_through_the_proxys_connect_tunnel(
        proxy, upstream, ca, pool, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca[1]))
    assert await get(pool, f"https://localhost:{upstream.tls}/v1/models?x=1") == {
        "path": "/v1/models?x=1"}
    assert await get(pool, f"https://localhost:{upstream.tls}/v1/again")  # reused
    assert proxy.requests() == [f"CONNECT localhost:{upstream.tls} HTTP/1.1"]


@needs_tinyproxy
async def test_no_proxy_bypasses_it(proxy, upstream, ca, pool, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "example.com, localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca[1]))
    assert await get(pool, f"https://localhost:{upstream.tls}/direct")
    assert proxy.requests() == []


@needs_tinyproxy
async def test_an_http_upstream_is_forwarded_with_its_absolute_url(proxy, upstream, pool,
                                                                   monkeypatch):
    monkeypatch.setenv("http_proxy", proxy.url)
    assert await get(pool, f"http://localhost:{upstream.plain}/v1/x?y=2") == {"path": "/v1/x?y=2"}
    assert proxy.requests() == [f"GET http://localhost:{upstream.plain}/v1/x?y=2 HTTP/1.1"]


@needs_tinyproxy
async def test_a_certificate_of_an_untrusted_ca_fails_clearly(proxy, upstream, pool,
                                                              monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with pytest.raises(ConnectError, match=r"certificate verify failed for localhost: .*"
                                           r"SSL_CERT_FILE, or ca_bundle"):
        await get(pool, f"https://localhost:{upstream.tls}/v1/models")


@needs_tinyproxy
async def test_a_providers_ca_bundle_and_proxy_apply_to_it_alone(proxy, upstream, ca, pool):
    own = Route(proxy=proxy.url, ca_bundle=str(ca[1]))
    assert await get(pool, f"https://localhost:{upstream.tls}/own", own)
    assert len(proxy.requests()) == 1
    with pytest.raises(ConnectError, match="certificate verify failed"):
        await get(pool, f"https://localhost:{upstream.tls}/other")  # no proxy, no CA
    assert len(proxy.requests()) == 1


async def test_a_ca_bundle_that_cannot_be_read_is_named(upstream, pool, tmp_path):
    with pytest.raises(ConnectError, match=r"CA certificates of ca_bundle \(.*missing.pem\)"):
        await get(pool, f"https://localhost:{upstream.tls}/x",
                  Route(ca_bundle=str(tmp_path / "missing.pem")))


async def test_tls_verify_false_accepts_an_untrusted_certificate(upstream, pool):
    assert await get(pool, f"https://localhost:{upstream.tls}/x", Route(tls_verify=False))


@needs_tinyproxy
async def test_proxy_credentials_from_the_url_and_a_refusal_naming_the_proxy(
        tmp_path, upstream, ca, pool):
    guarded = TinyProxy(tmp_path, auth=("alice", "s3cret"))
    try:
        host = guarded.url.removeprefix("http://")
        good = Route(proxy=f"http://alice:s3cret@{host}", ca_bundle=str(ca[1]))
        assert await get(pool, f"https://localhost:{upstream.tls}/in", good)
        bad = Route(proxy=f"http://alice:wrong@{host}", ca_bundle=str(ca[1]))
        with pytest.raises(ConnectError) as caught:
            await get(pool, f"https://localhost:{upstream.tls}/in", bad)
        message = str(caught.value)
        # 407 is the standard refusal; tinyproxy answers a CONNECT with 401.
        assert re.search(rf"^proxy {guarded.url} refused CONNECT localhost:{upstream.tls}: "
                         r"40[17] ", message), message
        assert "user and password" in message and "wrong" not in message
    finally:
        guarded.stop()


async def test_a_proxy_that_is_down_is_named(upstream, pool, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:pw@127.0.0.1:{port}")
    with pytest.raises(ConnectError, match=rf"^proxy http://127\.0\.0\.1:{port}: ") as caught:
        await get(pool, f"https://localhost:{upstream.tls}/x")
    assert "pw" not in str(caught.value)


# -- the gateway, behind a proxy with a private CA, with no code change ----------------------

@needs_tinyproxy
async def test_the_gateway_reaches_a_provider_through_the_proxy_with_a_private_ca(
        proxy, ca, tmp_path):
    from tests.serve_process import ServeProcess

    from behest_local.fakes.openai import make_app  # a local server: no key needed

    runner = web.AppRunner(make_app(flavor="ollama"), access_log=None)
    await runner.setup()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca[0].issue_cert("localhost").configure_cert(server_tls)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    config = (f'[providers.corp]\nbase_url = "https://localhost:{port}/v1"\n'
              'prefixes = ["corp-"]\n\n[providers.lab]\nbase_url = "https://lab.invalid/v1"\n'
              'tls_verify = false\n')
    server = await asyncio.to_thread(ServeProcess, tmp_path / "home", config=config, env={
        "HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(ca[1])})
    try:
        made = await asyncio.to_thread(server.cli, "keys", "create", "--project", "local")
        key = next(word for word in made.stdout.split() if word.startswith("behest_sk_"))
        status, body, _ = await asyncio.to_thread(
            server.request, "POST", "/v1/chat/completions",
            {"model": "corp-model", "messages": [{"role": "user", "content": "Hello"}]},
            {"Authorization": f"Bearer {key}"})
        assert status == 200, body
        assert json.loads(body)["choices"][0]["message"]["content"]
        assert proxy.requests() == [f"CONNECT localhost:{port} HTTP/1.1"]
        assert "providers.lab.tls_verify = false" in server.stderr  # said loudly at start
    finally:
        assert await asyncio.to_thread(server.stop) == 0
        await runner.cleanup()


async def test_the_clients_error_says_which_setting_to_check(make_gateway_client, upstream,
                                                             tmp_path):
    """A 502 ``upstream_unreachable`` points at the proxy or the CA settings when one of
    them failed, and at ``base_url`` otherwise."""
    from dataclasses import replace
    from types import MappingProxyType

    from behest_local.config import ProviderConfig
    from tests.conftest import TEST_SETTINGS

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    tls = f"https://localhost:{upstream.tls}/v1"
    settings = replace(TEST_SETTINGS, providers=MappingProxyType({
        "viaproxy": ProviderConfig(base_url=tls, prefixes=("viaproxy-",),
                                   proxy=f"http://127.0.0.1:{dead}"),
        "untrusted": ProviderConfig(base_url=tls, prefixes=("untrusted-",)),
        "nothere": ProviderConfig(base_url=f"http://127.0.0.1:{dead}/v1",
                                  prefixes=("nothere-",))}))
    client = await make_gateway_client(settings, home=tmp_path / "home")
    expected = {"viaproxy": f"proxy http://127.0.0.1:{dead}: .* Check the proxy "
                            r"\(providers\.viaproxy\.proxy in behest\.toml, else HTTPS_PROXY",
                "untrusted": r"certificate verify failed for localhost: .* Check the CA "
                             r"certificates \(providers\.untrusted\.ca_bundle, SSL_CERT_FILE\)",
                "nothere": r"Check providers\.nothere\.base_url and that the server is running"}
    for name, pattern in expected.items():
        resp = await client.post("/v1/chat/completions", headers=client.key, json={
            "model": f"{name}-1", "messages": [{"role": "user", "content": "Hi"}]})
        body = await resp.json()
        assert resp.status == 502 and body["error"]["code"] == "upstream_unreachable", body
        assert re.search(pattern, body["error"]["message"]), body["error"]["message"]

"""How an upstream connection is made: straight, or through a forward proxy, and with
which trust (``Route``; ``HttpPool._connect`` in http.py uses it, once per connection).

**Proxies.** As curl and requests read them: ``https_proxy``/``HTTPS_PROXY`` for ``https``
upstreams, ``http_proxy``/``HTTP_PROXY`` for ``http`` ones, ``all_proxy``/``ALL_PROXY``
for either, ``no_proxy``/``NO_PROXY`` for the hosts that bypass them (``*``, names,
``.domain`` or ``domain`` suffixes, ``host:port``), the lower-case name winning
(``urllib.request``'s rules, which requests follows too). ``[providers.NAME] proxy = "http://..."`` overrides them for one
provider, and ``proxy = ""`` sends it straight. A proxy is an ``http://`` URL; its
``user:password@`` becomes ``Proxy-Authorization: Basic``. An ``https`` upstream is reached
through an HTTP ``CONNECT`` tunnel, TLS running end to end inside it; an ``http`` one is
sent to the proxy with the absolute URL as its target (``absolute_form``), as curl does.

**Trust.** The system's store (``ssl.create_default_context``), plus ``SSL_CERT_FILE``
and ``SSL_CERT_DIR`` when set (OpenSSL reads them *instead* of the system's; here they add
to it, as a corporate CA bundle is meant to), plus ``[providers.NAME] ca_bundle``.
``tls_verify = false`` turns verification off for one provider: never a default, and
warned about at start and at every reload (``unverified_warning``).

Errors say which proxy or which certificate failed (``ConnectError`` messages); a proxy's
password is never shown (``Proxy.shown``).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from urllib.request import proxy_bypass_environment

from behest_local.providers.http_connection import ConnectError, describe

MAX_PROXY_HEAD = 16 * 1024
"""Largest answer head a proxy may send to a CONNECT."""


@dataclass(frozen=True, slots=True)
class Route:
    """One provider's connection settings (``[providers.NAME]``): ``proxy`` None follows
    the environment, "" is no proxy; ``ca_bundle`` adds trust; ``tls_verify``."""

    proxy: str | None = None
    ca_bundle: str | None = None
    tls_verify: bool = True


DIRECT = Route()


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None
    shown: str
    """The proxy's URL without its credentials, for messages."""


def parse_proxy(url: str) -> Proxy:
    """An ``http://[user:password@]host[:port]`` proxy URL (a bare ``host:port`` too, as
    curl takes it). Raises ``ConnectError`` for another scheme."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ConnectError(f"proxy {_without_credentials(parts)}: only http:// proxies are "
                           "supported")
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    try:
        port = parts.port or 80
    except ValueError:
        raise ConnectError(f"proxy {_without_credentials(parts)}: bad port") from None
    return Proxy(parts.hostname, port, authorization, _without_credentials(parts))


def _without_credentials(parts) -> str:
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{shown}" + (f":{port}" if port else "")


def proxy_for(scheme: str, host: str, port: int, route: Route,
              environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy a connection to ``scheme://host:port`` goes through, or None."""
    if route.proxy is not None:
        return parse_proxy(route.proxy) if route.proxy else None
    proxies = _environment(environ)
    url = proxies.get(scheme) or proxies.get("all")
    if not url:
        return None
    name = f"[{host}]" if ":" in host else host
    if proxy_bypass_environment(host, proxies) or proxy_bypass_environment(f"{name}:{port}",
                                                                           proxies):
        return None
    return parse_proxy(url)


def _environment(environ: Mapping[str, str] | None) -> dict[str, str]:
    """``{"https": url, "no": hosts, …}`` from the ``*_proxy`` variables, the lower-case
    name winning over the upper-case one (``urllib.request.getproxies_environment``'s
    rule, without its reading of ``os.environ`` only)."""
    found: dict[str, dict[bool, str]] = {}
    for name, value in (os.environ if environ is None else environ).items():
        lower = name.lower()
        if value and lower.endswith("_proxy"):
            found.setdefault(lower[:-len("_proxy")], {})[name == lower] = value
    return {scheme: values.get(True, values.get(False, "")) for scheme, values in found.items()}


async def open_tunnel(proxy: Proxy, host: str, port: int) -> socket.socket:
    """A socket to ``proxy`` on which ``CONNECT host:port`` succeeded: the upstream's TLS
    runs on it next. Raises ``ConnectError`` naming the proxy."""
    loop = asyncio.get_running_loop()
    sock = await _connect(proxy)
    try:
        name = f"[{host}]" if ":" in host else host
        head = f"CONNECT {name}:{port} HTTP/1.1\r\nHost: {name}:{port}\r\n"
        if proxy.authorization:
            head += f"Proxy-Authorization: {proxy.authorization}\r\n"
        await loop.sock_sendall(sock, (head + "\r\n").encode("latin-1"))
        answer = b""
        while b"\r\n\r\n" not in answer:
            more = await loop.sock_recv(sock, 4096)
            if not more:
                raise ConnectError(f"proxy {proxy.shown} closed the connection during "
                                   f"CONNECT {name}:{port}")
            answer += more
            if len(answer) > MAX_PROXY_HEAD:
                raise ConnectError(f"proxy {proxy.shown} sent no end to its answer to "
                                   "CONNECT")
        status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectError(f"proxy {proxy.shown} answered CONNECT with "
                               f"{status_line[:80]!r}")
        if not 200 <= int(parts[1]) < 300:
            # 407 is the standard answer; tinyproxy sends 401 to a CONNECT.
            hint = (" (check the user and password in the proxy URL)"
                    if parts[1] in ("401", "407") else "")
            raise ConnectError(f"proxy {proxy.shown} refused CONNECT {name}:{port}: "
                               f"{status_line[9:80]}{hint}")
        return sock
    except BaseException:
        sock.close()
        raise


async def _connect(proxy: Proxy) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectError(f"proxy {proxy.shown}: {describe(exc)}") from None
    error: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise ConnectError(f"proxy {proxy.shown}: {describe(error) if error else 'no address'}")


def tls_context(route: Route, environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """The trust for ``route``'s ``https`` upstreams (module docstring). Raises
    ``ConnectError`` naming a CA file that cannot be loaded."""
    env = os.environ if environ is None else environ
    context = ssl.create_default_context()
    if not route.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    defaults = ssl.get_default_verify_paths()
    extra = [("SSL_CERT_FILE", env.get("SSL_CERT_FILE"), None),
             ("SSL_CERT_DIR", None, env.get("SSL_CERT_DIR")),
             ("ca_bundle", route.ca_bundle, None)]
    if env.get("SSL_CERT_FILE") or env.get("SSL_CERT_DIR"):
        # OpenSSL read these instead of the system's store: load the system's as well.
        extra.insert(0, ("the system store", defaults.openssl_cafile, defaults.openssl_capath))
    for what, cafile, capath in extra:
        if not cafile and not capath:
            continue
        try:
            context.load_verify_locations(cafile=cafile or None, capath=capath or None)
        except (OSError, ssl.SSLError) as exc:
            if what == "the system store":
                continue  # a system without one: the variables are the trust
            raise ConnectError(f"cannot load the CA certificates of {what} "
                               f"({cafile or capath}): {describe(exc)}") from None
    return context


def unverified_warning(provider: str) -> str:
    return (f"providers.{provider}.tls_verify = false: the certificates of {provider}'s "
            "upstream are NOT checked, so anyone on the network path can read and change "
            "its requests, API keys included. Use ca_bundle to trust a private CA instead.")

"""Which ``Host`` a request may name: the DNS-rebinding rule, as pure functions.

**The attack.** A web page at ``http://evil.example`` makes its own name resolve to
127.0.0.1 (a short DNS TTL, then a second answer), and from then on the browser sends
the page's requests to the gateway *as same-origin requests to evil.example*: no CORS
check applies, and the page reads every answer. The one thing it cannot change is the
``Host`` header, which still says ``evil.example``. So the gateway answers only the
names it is known by (``server/admission/host.py`` refuses the rest, on every route):

* ``localhost`` and any ``*.localhost`` (the project slug hosts, ``amber-fox-042.localhost``):
  browsers resolve these to loopback themselves, never through DNS (RFC 6761 §6.3);
* the bound address (``[server] host`` / ``--host``), whatever it is;
* IP literals: loopback ones (``127.0.0.1``, ``[::1]``) always; any IP when the gateway
  listens beyond loopback (``--allow-remote``), since the machine's own addresses are not
  known here and a page cannot rebind a name it does not use: an IP literal in ``Host``
  means the browser was pointed at that address itself;
* the names in ``[server] allowed_hosts``: exact names, ``*.example.test`` for every name
  below one, or ``*`` to turn the check off (behind a proxy that checks hosts itself).

The port in ``Host`` is not compared: rebinding changes the name, not the port, and a
port forward (``ssh -L``, a container's published port) legitimately shows another one.
A request without ``Host`` (HTTP/1.0; aiohttp refuses HTTP/1.1 without it) comes from no
browser and passes. Names compare case-insensitively, without a trailing dot.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

LOCAL_NAMES = ("localhost",)
LOCAL_SUFFIX = ".localhost"


def hostname(host: str) -> str | None:
    """The name or address of a ``Host`` value, lower-case, without port, brackets or a
    trailing dot (``"[::1]:7717"`` → ``"::1"``); None when it is not ``host[:port]``."""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and rest[1:].isdigit())):
            return None
        return name or None
    name, colon, port = host.rpartition(":")
    if not colon:
        name = port
    elif ":" in name or not port.isdigit():
        return None  # an unbracketed IPv6 address, or a port that is not a number
    name = name[:-1] if name.endswith(".") else name
    return name or None


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.split("%", 1)[0])  # "fe80::1%eth0": zone id
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HostRules:
    """The names one configuration answers to (``for_server`` builds it)."""

    names: frozenset[str]
    """Exact names and addresses (lower-case, no brackets)."""
    suffixes: tuple[str, ...]
    """``.localhost`` and the ``.example.test`` of each ``*.example.test`` entry."""
    any_ip: bool
    """Every IP literal (bound beyond loopback), not only loopback ones."""
    any_host: bool = False
    """``allowed_hosts = ["*"]``: no check at all."""

    @classmethod
    def for_server(cls, bound: str, allowed: Iterable[str] = ()) -> HostRules:
        """The rules of a gateway bound to ``bound`` with ``[server] allowed_hosts``."""
        names, suffixes, any_host = set(LOCAL_NAMES), [LOCAL_SUFFIX], False
        bound_name = hostname(bound) or bound.lower()
        names.add(bound_name)
        for entry in allowed:
            entry = entry.strip().lower().rstrip(".")
            if entry == "*":
                any_host = True
            elif entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                names.add(entry.strip("[]"))
        address = _ip(bound_name)
        remote = bound_name not in LOCAL_NAMES and (address is None or not address.is_loopback)
        return cls(frozenset(names), tuple(suffixes), any_ip=remote, any_host=any_host)

    def allows(self, host: str | None) -> bool:
        """Whether a request whose ``Host`` header is ``host`` (None: absent) is answered."""
        if host is None or self.any_host:
            return True
        name = hostname(host)
        if name is None:
            return False
        if name in self.names or name.endswith(self.suffixes):
            return True
        address = _ip(name)
        return address is not None and (self.any_ip or address.is_loopback)

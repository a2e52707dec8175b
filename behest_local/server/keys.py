"""Typed keys for state on the aiohttp application and on each request.

aiohttp's ``AppKey``/``RequestKey`` give typed, collision-free storage instead of string
keys or module globals.
"""

from __future__ import annotations

from aiohttp import web

from behest_local.exchange import Exchange
from behest_local.gateway import Gateway
from behest_local.server.principal import Principal

GATEWAY = web.AppKey("gateway", Gateway)
EXCHANGE = web.RequestKey("exchange", Exchange)
PRINCIPAL = web.RequestKey("principal", Principal)

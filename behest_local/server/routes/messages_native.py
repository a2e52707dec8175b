"""The native path of ``/v1/messages``: a Claude model relayed to Anthropic untranslated.

Placeholder until the relay lands: nothing is served natively yet.
"""

from __future__ import annotations

from aiohttp import web

from behest_local.policy import routing


def serves(request: web.Request, target: routing.Target) -> bool:
    return False


async def relay_messages(request: web.Request, body: dict, target: routing.Target):
    raise NotImplementedError


async def relay_count(request: web.Request, body: dict, target: routing.Target):
    raise NotImplementedError

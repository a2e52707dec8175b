"""Typed keys for state on the aiohttp application and on each request.

aiohttp's ``AppKey``/``RequestKey`` give typed, collision-free storage instead of string
keys or module globals.
"""

from __future__ import annotations

from aiohttp import web

from behest_local.identity.jwt import KeyRing
from behest_local.exchange.exchange import Exchange
from behest_local.exchange.media import Part
from behest_local.server.gateway import Gateway
from behest_local.server.admission.principal import InternalCaller, Principal
from behest_local.files.store import FileStore
from behest_local.stored.database import StoredState
from behest_local.threads.store import ThreadStore

GATEWAY = web.AppKey("gateway", Gateway)
EXCHANGE = web.RequestKey("exchange", Exchange)
PRINCIPAL = web.RequestKey("principal", Principal)
KEYRING = web.AppKey("keyring", KeyRing)
"""JWT keys: the platform key and tenant signing keys (set by ``behest_routes``)."""
THREADS = web.AppKey("threads", ThreadStore)
"""The threads database (set by ``behest_routes``)."""
FILES = web.AppKey("files", FileStore)
"""Files and uploads (set by ``routes/files.setup_files``)."""
INTERNAL_CALLERS = web.AppKey("internal_callers", dict[str, InternalCaller])
"""Tokens of the batches running now, by token (``routes/batches.py`` adds and removes
them; ``auth.authenticate`` and ``limits.check_ip`` read them). Empty while no batch runs."""
STORED = web.AppKey("stored", StoredState)
"""Stored responses and conversations (set by ``routes/responses.setup_responses``)."""
FORM_PARTS = web.RequestKey("form_parts", list[Part])
"""The parts of the multipart form the route read, as the trace shows them
(``body.note_part``): such a body is read part by part, so only the route sees it whole."""

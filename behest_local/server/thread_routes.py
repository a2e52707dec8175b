"""``/v1/threads*`` and the chat hook that makes ``X-Thread-Id`` persist a conversation.

Routes (reference/behest-api.md §1.5; JWT or, unless ``strict_v15``, API key; errors in
Behest's nested shape via ``auth.py`` → ``behest_errors.behest_guard``):

* ``GET /v1/threads`` → JSON array of the caller's threads, most recent first;
* ``GET /v1/threads/{id}`` → the thread (``id``, ``title``, ``created_at``,
  ``last_message_at``, ``messages_count``);
* ``GET /v1/threads/{id}/messages`` → JSON array of ``{id, role, content, created_at…}``;
* ``DELETE /v1/threads/{id}`` → 204. An unknown thread is 404 ``not_found``.

Everything is scoped to (project, user): the JWT's ``uid``, or ``X-End-User-Id`` with an
API key, else ``default`` (the v1.5 SDK's default user). Ids may contain ``/``: the Python
SDK does not encode them (§1.5), so ``{id}`` takes the rest of the path.

``begin_turn`` is called by the chat handler: with ``X-Thread-Id`` it loads the history
(off the loop, ``threads.ThreadStore``) and returns a ``thread_turn.Turn``.
"""

from __future__ import annotations

from aiohttp import web

from behest_local.errors import InvalidRequestError, NotFoundError
from behest_local.thread_turn import Turn
from behest_local.threads import ThreadKey
from behest_local.server.keys import PRINCIPAL, THREADS
from behest_local.server.render import json_response

HEADER = "X-Thread-Id"
DEFAULT_USER = "default"
MAX_ID = 255


def setup(app: web.Application) -> None:
    router = app.router
    router.add_get("/v1/threads", list_threads)
    router.add_get("/v1/threads/{id:.+}/messages", thread_messages)
    router.add_get("/v1/threads/{id:.+}", get_thread)
    router.add_delete("/v1/threads/{id:.+}", delete_thread)


def _check_id(thread: str, source: str) -> str:
    if not thread or len(thread) > MAX_ID or any(ord(c) < 0x20 or ord(c) == 0x7F for c in thread):
        raise InvalidRequestError(f"{source} must be 1-{MAX_ID} printable characters.",
                                  code="validation_error", param=source)
    return thread


def _key(request: web.Request, thread: str) -> ThreadKey:
    principal = request[PRINCIPAL]
    return ThreadKey(principal.project.id, principal.user or DEFAULT_USER, thread)


async def begin_turn(request: web.Request, body: dict) -> Turn:
    """The thread turn of a validated chat body: a no-op ``Turn`` without ``X-Thread-Id``."""
    thread = (request.headers.get(HEADER) or "").strip()
    store = request.app.get(THREADS)
    if not thread or store is None:
        return Turn(body)
    key = _key(request, _check_id(thread, HEADER))
    return Turn.start(store, key, body, await store.history(key))


def _missing(key: ThreadKey) -> NotFoundError:
    return NotFoundError(f"Thread {key.thread!r} not found for user {key.user!r} of project "
                         f"{key.project!r}. Threads are created by a chat request with "
                         f"{HEADER}.", code="not_found")


async def list_threads(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    threads = await request.app[THREADS].list(principal.project.id,
                                              principal.user or DEFAULT_USER)
    return json_response(threads)


async def get_thread(request: web.Request) -> web.Response:
    key = _key(request, _check_id(request.match_info["id"], "id"))
    thread = await request.app[THREADS].get(key)
    if thread is None:
        raise _missing(key)
    return json_response(thread)


async def thread_messages(request: web.Request) -> web.Response:
    key = _key(request, _check_id(request.match_info["id"], "id"))
    messages = await request.app[THREADS].messages(key)
    if messages is None:
        raise _missing(key)
    return json_response(messages)


async def delete_thread(request: web.Request) -> web.Response:
    key = _key(request, _check_id(request.match_info["id"], "id"))
    if not await request.app[THREADS].delete(key):
        raise _missing(key)
    return web.Response(status=204)

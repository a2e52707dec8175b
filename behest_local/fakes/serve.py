"""``behest-local fake-upstream PROVIDER [--port N] [--key K]``: serve one fake upstream.

For demos of a migration offline and for manual testing: the fake runs on loopback until
interrupted, printing the base URL to give the provider's SDK (or behest-local's provider
config). ``serve_fake`` is the coroutine behind the command, with a ``stop`` event and a
``ready`` callback so tests can run it in-loop. Handler cancellation is on, so a client
that disconnects is seen at once (``FakeState.disconnected``). The command's parser and
exit codes are ``cli/fake_upstream.py``'s: the CLI sits above the fakes and calls in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from behest_local.fakes import BASE_PATHS, PROVIDERS

HOST = "127.0.0.1"  # loopback only: a fake has no business on the network

__all__ = ["HOST", "serve_fake"]


async def serve_fake(provider: str, *, port: int = 0, key: str | None = None,
                     stop: asyncio.Event | None = None,
                     ready: Callable[[str], None] | None = None) -> None:
    """Serve ``provider``'s fake on loopback until ``stop`` is set (or forever)."""
    app = PROVIDERS[provider](key=key)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        bound = runner.addresses[0][1]
        base_url = f"http://{HOST}:{bound}{BASE_PATHS[provider]}"
        if ready is not None:
            ready(base_url)
        else:
            accepts = ("any key or none" if provider == "ollama" else
                       "the key given with --key" if key else "any non-empty key")
            print(f"fake {provider} upstream on {base_url} (accepts {accepts}); "
                  "Ctrl-C to stop", flush=True)
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await runner.cleanup()

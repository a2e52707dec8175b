"""``behest-local fake-upstream``: argument parsing and serving on loopback until stopped."""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import pytest

from behest_local.cli.fake_upstream import add_fake_parser
from behest_local.fakes.serve import serve_fake


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="behest-local")
    add_fake_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_arguments():
    args = parse(["fake-upstream", "anthropic", "--port", "9000", "--key", "k"])
    assert (args.provider, args.port, args.key) == ("anthropic", 9000, "k")
    assert parse(["fake-upstream", "gemini"]).port == 0


def test_unknown_provider_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        parse(["fake-upstream", "nope"])
    assert caught.value.code == 2 and "invalid choice" in capsys.readouterr().err


async def test_serves_until_stopped():
    stop, ready = asyncio.Event(), asyncio.Queue()
    task = asyncio.create_task(serve_fake("openrouter", key="k-1", stop=stop,
                                          ready=ready.put_nowait))
    base_url = await asyncio.wait_for(ready.get(), 5)
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v1")
    async with aiohttp.ClientSession() as session:
        async with session.get(base_url + "/models",
                               headers={"Authorization": "Bearer k-1"}) as response:
            assert response.status == 200
        async with session.get(base_url + "/models",
                               headers={"Authorization": "Bearer other"}) as response:
            assert response.status == 401
    stop.set()
    await asyncio.wait_for(task, 5)

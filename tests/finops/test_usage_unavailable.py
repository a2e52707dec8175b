"""A usage database that cannot be opened: the gateway says so, leaves the file as it is, and
keeps serving, with token and dollar budgets counted in memory until it restarts (only the
usage reports, ``/v1/usage``, are unavailable).

Each way to break it: a directory where the file goes, a file that cannot be created, and
(when not root) a data directory it may not write. A damaged file (not a database, or
damaged pages) is set aside for a new database instead (issue 17: damaged state is
reported and kept, never silently replaced): the gateway then records usage as usual."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import pytest

from behest_local.config import BudgetConfig, ProjectConfig
from behest_local.finops.store import UsageStore
from behest_local.home import DATA_DIR
from tests.conftest import TEST_SETTINGS
from tests.finops.usage_support import CHAT, hello, record

JUNK = b"this is not a database" * 100


def corrupt(home: Path) -> Path:
    (home / DATA_DIR).mkdir(parents=True)
    (home / DATA_DIR / "usage.sqlite3").write_bytes(JUNK)
    return home / DATA_DIR / "usage.sqlite3"


def directory(home: Path) -> Path:
    (home / DATA_DIR / "usage.sqlite3").mkdir(parents=True)
    return home / DATA_DIR / "usage.sqlite3"


def damaged_pages(home: Path) -> Path:
    """A usage database whose first page is sound and the rest overwritten: it opens, and
    fails when read."""
    store = UsageStore.open(home)
    for n in range(200):
        store.add(record(n))
    store.close()
    path = home / DATA_DIR / "usage.sqlite3"
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(JUNK * 400)
    return path


def unreachable(home: Path) -> Path:
    """A link into a directory that does not exist: SQLite cannot create the file there,
    as in a directory it may not write (which root, running this, may)."""
    (home / DATA_DIR).mkdir(parents=True)
    (home / DATA_DIR / "usage.sqlite3").symlink_to(home / "gone" / "usage.sqlite3")
    return home / DATA_DIR / "usage.sqlite3"


def read_only(home: Path) -> Path:
    (home / DATA_DIR).mkdir(parents=True)
    (home / DATA_DIR).chmod(0o500)
    return home / DATA_DIR


UNUSABLE = [directory, unreachable, pytest.param(read_only, marks=pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere"))]
DAMAGED = [corrupt, damaged_pages]
BREAKS = DAMAGED + UNUSABLE


def budgeted(**budgets) -> object:
    local = ProjectConfig(name="local", id="local", budgets=BudgetConfig(**budgets))
    return replace(TEST_SETTINGS, projects=(local,),
                   emulator=replace(TEST_SETTINGS.emulator, enforce_limits=True))


@pytest.mark.parametrize("brk", DAMAGED)
async def test_a_damaged_usage_database_is_set_aside_for_a_new_one(gateway, tmp_path, caplog,
                                                                  brk):
    home = tmp_path / "broken"
    broken = brk(home)
    before = broken.read_bytes()
    with caplog.at_level(logging.WARNING):
        client = await gateway(home=home)
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    [aside] = broken.parent.glob("usage.sqlite3.corrupt-*[0-9]Z")
    assert str(broken) in line and aside.name in line and "new, empty one" in line
    assert aside.read_bytes() == before  # kept as it was, for the user to look into
    served = await client.post(CHAT, json=hello(), headers=client.key)
    assert served.status == 200
    await client.wait_end(served.headers["X-Request-Id"])
    report = await client.get("/v1/usage", headers=client.key)
    assert report.status == 200 and (await report.json())["totals"]["requests"] == 1
    await client.close()


@pytest.mark.parametrize("brk", UNUSABLE)
async def test_an_unopenable_usage_database_is_reported_and_left_as_it_is(
        gateway, tmp_path, caplog, brk):
    home = tmp_path / "broken"
    broken = brk(home)
    before = broken.read_bytes() if broken.is_file() else None
    kind = (broken.is_symlink(), broken.is_dir())
    with caplog.at_level(logging.WARNING, logger="behest_local.finops"):
        client = await gateway(home=home)
    [record] = [r for r in caplog.records if "usage database unavailable" in r.getMessage()]
    message = record.getMessage()
    assert record.levelno >= logging.WARNING
    assert "usage.sqlite3" in message and "kept in memory until restart" in message
    served = await client.post(CHAT, json=hello(), headers=client.key)
    assert served.status == 200
    await client.wait_end(served.headers["X-Request-Id"])
    # Priced all the same: the exchange shows the cost the budgets counted.
    assert client.gateway.store.find(served.headers["X-Request-Id"]).cost > 0
    resp = await client.get("/v1/usage", headers=client.key)
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "server_error"
    await client.close()
    # Damaged state is reported, never replaced.
    assert (broken.is_symlink(), broken.is_dir()) == kind
    if before is not None:
        assert broken.read_bytes() == before
    assert not (home / "gone").exists()


@pytest.mark.parametrize("brk", BREAKS)
@pytest.mark.parametrize("budget, headers", [
    ({"project_tokens_per_day": 20}, {}),
    ({"session_tokens": 20}, {"X-Session-Id": "conv-1"}),
    ({"project_cost_usd_per_month": 0.00001}, {}),
    ({"user_cost_usd_per_day": 0.00001}, {"X-End-User-Id": "ann"}),
], ids=["project-tokens", "session-tokens", "project-dollars", "user-dollars"])
async def test_budgets_are_kept_in_memory_without_the_usage_database(
        gateway, tmp_path, brk, budget, headers):
    home = tmp_path / "broken"
    brk(home)
    client = await gateway(budgeted(**budget), home=home)
    caller = {**client.key, **headers}
    first = await client.post(CHAT, json=hello(max_tokens=40), headers=caller)
    assert first.status == 200  # spends more than the budget
    await client.wait_end(first.headers["X-Request-Id"])
    refused = await client.post(CHAT, json=hello(), headers=caller)
    assert refused.status == 402, await refused.text()
    assert (await refused.json())["error"]["code"] == "quota_exceeded"

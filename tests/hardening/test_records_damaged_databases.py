"""Issue 17 item 7: a damaged ``traces.sqlite3`` or ``usage.sqlite3`` never stops the start.

``behest-local serve`` on a state dir whose databases are garbage, or real databases cut
short (a disk that filled up, a copy interrupted): it starts, moves each damaged file aside
to ``<name>.corrupt-<time>`` (kept byte for byte, for the user), says so in one line each,
and records into fresh ones, with no traceback anywhere."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from behest_local.finops.store import UsageStore
from behest_local.home import DATA_DIR
from behest_local.observe.trace_db import TraceDB, read_records
from tests.finops.usage_support import record
from tests.hardening.records_support import CHAT, Serve, api_key, chat
from tests.trace_support import fake_exchange, make_store

NAMES = ("traces.sqlite3", "usage.sqlite3")


def garbage(home: Path) -> None:
    (home / DATA_DIR).mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        (home / DATA_DIR / name).write_bytes(b"this is not a database" * 100)


def truncated(home: Path) -> None:
    """Real databases with 300 rows each, then cut to half their size."""
    usage = UsageStore.open(home)
    for n in range(300):
        usage.add(record(n))
    usage.close()
    store, clock = make_store()
    traces = TraceDB.open(home, max_age=1e12)
    store.subscribe(traces.subscriber)
    for n in range(300):
        fake_exchange(store, clock, n, pieces=["x" * 200])
    assert traces.flush()
    traces.close()
    for name in NAMES:
        path = home / DATA_DIR / name
        assert not path.with_name(name + "-wal").exists()  # all of it in the file
        data = path.read_bytes()
        assert len(data) > 20_000
        path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("damage", [garbage, truncated])
def test_damaged_databases_are_moved_aside_and_the_gateway_serves(tmp_path, damage):
    home = tmp_path / "home"
    key = api_key(home)
    damage(home)
    before = {name: (home / DATA_DIR / name).read_bytes() for name in NAMES}
    server = Serve(home)
    try:
        status, reply = server.post(CHAT, chat(), key)
        assert status == 200, reply
        request = urllib.request.Request(server.url + "/v1/usage",
                                         headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["totals"]["requests"] == 1  # a fresh usage database
    finally:
        assert server.stop() == 0
    output = server.output
    for name in NAMES:
        [aside] = (home / DATA_DIR).glob(f"{name}.corrupt-*[0-9]Z")
        assert aside.read_bytes() == before[name] and aside.stat().st_mode & 0o777 == 0o600
        [line] = [line for line in output.splitlines() if aside.name in line]
        assert "damaged" in line and str(home / DATA_DIR / name) in line
    traced = [r["path"] for r in read_records(home / DATA_DIR / "traces.sqlite3")]
    assert traced == [CHAT, "/v1/usage"]  # recorded in the fresh trace database
    assert "Traceback" not in output and "usage database unavailable" not in output


def test_a_trace_database_that_cannot_be_opened_stops_the_start_in_one_line(tmp_path, capsys):
    """Not damage but an obstacle (a directory where the file goes): nothing to set aside,
    so ``serve`` stops with one line naming the database, never a traceback."""
    from behest_local.cli.main import main

    home = tmp_path / "home"
    (home / DATA_DIR / "traces.sqlite3").mkdir(parents=True)
    assert main(["serve", "--headless", "--port", "0", "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert "cannot open the trace database" in err and "traces.sqlite3" in err
    assert "Traceback" not in err

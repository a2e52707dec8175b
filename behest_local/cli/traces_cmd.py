"""``behest-local traces list|export|fixture``: the trace database from the command line.

Reads ``<state dir>/data/traces.sqlite3`` (observe/trace_db.py) directly, so it works whether or not a
gateway is running (SQLite's WAL mode lets it read while the gateway writes). Exports
are observe/export.py's; fixtures observe/fixtures.py's. ``add_traces_parser`` registers the command;
``run_traces`` returns the exit code (0, or 2 with a one-line error).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from behest_local.exchange.timing import duration



def add_traces_parser(subparsers, common=None) -> argparse.ArgumentParser:
    """Register ``traces``; ``common(parser)`` adds the CLI's shared --home/--config."""
    parser = subparsers.add_parser("traces", help="list and export recorded exchanges")
    actions = parser.add_subparsers(dest="traces_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the most recent exchanges, one per line")
    listing.add_argument("--limit", type=int, default=20,
                         help="how many of the newest exchanges (default 20)")
    listing.add_argument("--project", help="only this project's exchanges")
    out = actions.add_parser("export", help="write exchanges as JSON Lines or HAR 1.2")
    out.add_argument("--format", choices=("jsonl", "har"), default="jsonl",
                     help="jsonl (one exchange a line, the default) or har (browser devtools)")
    out.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    out.add_argument("--project", help="only this project's exchanges")
    out.add_argument("--limit", type=int, help="only the newest N exchanges")
    out.add_argument("--since", type=float, metavar="HOURS", help="only the last N hours")
    fixture = actions.add_parser("fixture", help="save a recorded stream as a replay fixture")
    fixture.add_argument("id", metavar="REQUEST_ID",
                         help="the exchange's X-Request-Id (req_…), as `traces list` shows")
    fixture.add_argument("--name", help="file name without .json (default: the request id)")
    fixture.add_argument("--dir", help="directory (default: <state dir>/fixtures)")
    for sub in (listing, out, fixture):
        if common is not None:
            common(sub)
    return parser


def run_traces(args: argparse.Namespace, home: Path, out: TextIO | None = None) -> int:
    # Imported here, not at the top: the CLI builds every command's parser on each run.
    from behest_local.observe import export
    from behest_local.observe.fixtures import FixtureError, save_fixture
    from behest_local.home import database_path
    from behest_local.observe.trace_db import DB_FILE, read_record, read_records

    out = out or sys.stdout
    db = database_path(home, DB_FILE)
    if not db.exists():
        print(f"behest-local: error: no traces recorded yet ({db} does not exist); run the "
              "gateway and send a request first", file=sys.stderr)
        return 2
    if args.traces_command == "list":
        for record in read_records(db, limit=args.limit, project=args.project):
            out.write(line(record) + "\n")
        return 0
    if args.traces_command == "export":
        since = time.time() - args.since * 3600 if args.since else None
        records = read_records(db, limit=args.limit, project=args.project, since=since)
        if args.out:
            count = export.save(records, args.out, args.format)
            print(f"wrote {count} exchanges to {args.out} ({args.format})", file=sys.stderr)
        else:
            export.WRITERS[args.format](records, out)
        return 0
    record = read_record(db, args.id)
    if record is None:
        print(f"behest-local: error: no recorded exchange {args.id!r} (see `behest-local traces "
              "list`)", file=sys.stderr)
        return 2
    try:
        path = save_fixture(record, Path(args.dir) if args.dir else home / "fixtures",
                            args.name)
    except FixtureError as exc:
        print(f"behest-local: error: {exc}", file=sys.stderr)
        return 2
    out.write(f"{path}\n")
    return 0


def line(record: dict) -> str:
    clock = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["wall_time"]))
    model = record["model"] or "-"
    parts = [clock, f"{record['status'] or '-':>3}", record["method"], record["path"],
             record["project"] or "-", model, duration(record["duration"])]
    if record["stream"]:
        parts.append(f"{record['chunks']} events")
    parts.append(record["id"])
    return "  ".join(parts)

"""Command line: ``behest-local [serve] …``, ``keys …``, and (``config_cli``) ``init``,
``config …`` and ``dashboard-token``.

Parsing and exit codes only; the work is done by ``runtime`` (serving) and ``keys``
(API keys). User errors print one line starting ``behest-local: error:`` and exit 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from behest_local import __version__
from behest_local.config import ConfigError, Settings
from behest_local.home import resolve_home
from behest_local.config_cli import ConfigCommandError, add_config_parsers, run_config_command
from behest_local.keys import KeyStore, KeyStoreError
from behest_local.fakes.cli import add_fake_parser, run_fake
from behest_local.probe_cli import add_probe_parser, run_probe
from behest_local.traces_cli import add_traces_parser, run_traces
from behest_local.mint_cli import add_mint_parser, run_mint
from behest_local.signing_keys_cli import add_signing_keys_parser, run_signing_keys
from behest_local.vault_cli import add_vault_parser, run_vault
from behest_local.runtime import ServeOptions, StartupError, find_config, load_settings, serve



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="behest-local",
        description="A local twin of the Behest AI gateway: the OpenAI-compatible API on "
                    "localhost, offline by default.")
    parser.add_argument("--version", action="version", version=f"behest-local {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("serve", help="start the gateway (the default command)")
    run.add_argument("--port", type=int, help="TCP port (default 7717; 0 picks a free port)")
    run.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    run.add_argument("--allow-remote", action="store_true",
                     help="allow binding a non-loopback interface")
    run.add_argument("--headless", action="store_true",
                     help="log one line per request instead of the TUI")
    run.add_argument("--max-body-bytes", type=int, help="largest accepted request body")
    _common(run)

    keys = commands.add_parser("keys", help="create, list and revoke project API keys")
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = key_commands.add_parser("create", help="create a key (printed once)")
    create.add_argument("--project", default="local")
    create.add_argument("--json", action="store_true", help='print {"key": …, "project": …}')
    create.add_argument("--legacy", action="store_true",
                        help="make a v1.x-style bh_live_ key (what older SDKs and docs use)")
    _common(create)
    listing = key_commands.add_parser("list", help="list keys (prefixes only)")
    listing.add_argument("--project")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true")
    _common(listing)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("ident", metavar="ID_OR_PREFIX")
    _common(revoke)

    add_vault_parser(commands)
    add_probe_parser(commands)
    add_traces_parser(commands, common=_common)
    add_fake_parser(commands)
    add_mint_parser(commands)
    add_signing_keys_parser(commands)
    add_config_parsers(commands)
    commands.add_parser("version", help="print the version")
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="state directory (default: $BEHEST_LOCAL_HOME or the "
                                       "platform's user data dir)")
    parser.add_argument("--config", help="behest.toml to use (default: ./behest.toml if present)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    # watchfiles logs every change it sees at INFO; the gateway reports what it reloads.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    try:
        if args.command == "version":
            print(f"behest-local {__version__}")
            return 0
        if args.command == "keys":
            return _keys(args)
        if args.command == "probe":
            return run_probe(args)
        if args.command == "traces":
            return run_traces(args, resolve_home(args.home))
        if args.command == "mint":
            return run_mint(args)
        if args.command == "signing-keys":
            return run_signing_keys(args)
        if args.command == "fake-upstream":
            return run_fake(args)
        if args.command == "vault":
            return run_vault(args, resolve_home(args.home))
        if args.command in ("init", "config", "dashboard-token"):
            return run_config_command(args)
        options = ServeOptions(home=resolve_home(args.home), config_path=find_config(args.config),
                               host=args.host, port=args.port, allow_remote=args.allow_remote,
                               headless=args.headless, max_body_bytes=args.max_body_bytes)
        return asyncio.run(serve(options))
    except (StartupError, ConfigError, ConfigCommandError, KeyStoreError, OSError) as exc:
        print(f"behest-local: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    path = find_config(args.config)
    return load_settings(ServeOptions(home=resolve_home(args.home), config_path=path))


def _keys(args: argparse.Namespace) -> int:
    store = KeyStore(resolve_home(args.home))
    if args.keys_command == "create":
        settings = _settings(args)
        if settings.project(args.project) is None:
            known = ", ".join(p.id for p in settings.projects)
            raise StartupError(f"unknown project {args.project!r} (configured in "
                               f"{settings.source}: {known})")
        key, record = store.create(settings.project(args.project).id, legacy=args.legacy)
        if args.json:
            print(json.dumps({"key": key, "project": record.project, "id": record.id}))
        else:
            print(f"{key}\n\nAPI key for project {record.project} (id {record.id}). It is shown "
                  "once: store it now, e.g. export BEHEST_API_KEY=…")
        return 0
    if args.keys_command == "list":
        records = store.list(args.project, include_revoked=args.all)
        if args.json:
            print(json.dumps([{"id": r.id, "project": r.project, "prefix": r.prefix,
                               "last4": r.last4, "created_at": r.created_at,
                               "revoked_at": r.revoked_at} for r in records]))
            return 0
        if not records:
            print("no keys yet: behest-local keys create --project local")
        for r in records:
            state = f"revoked {r.revoked_at}" if r.revoked_at else "active"
            print(f"{r.id}  {r.project:<12} {r.prefix}…{r.last4}  created {r.created_at}  {state}")
        return 0
    record = store.revoke(args.ident)
    print(f"revoked {record.id} ({record.prefix}…) of project {record.project}")
    return 0

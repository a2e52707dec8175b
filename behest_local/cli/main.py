"""Command line: ``behest-local [serve] …``, ``keys …``, and (``config_cli``) ``init``,
``config …`` and ``dashboard-token``.

Parsing and exit codes only; the work is done by ``runtime`` (serving) and ``keys``
(API keys). User errors print one line starting ``behest-local: error:`` and exit 2,
never a traceback.

Start-up time is part of the product (``serve`` must answer within a second of being
spawned), so this module and the ``*_cli`` modules whose parsers it builds import only
the standard library at the top: each command imports its own machinery in its handler,
and ``--help`` or ``keys list`` never load the server, aiohttp or the crypto libraries.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING

from behest_local import __version__
from behest_local.cli.admin_cmd import AdminCommandError, add_admin_parsers
from behest_local.cli.config_cmd import ConfigCommandError, add_config_parsers
from behest_local.cli.fake_upstream import add_fake_parser
from behest_local.cli.mint import add_mint_parser
from behest_local.cli.parsing import Parser, parse
from behest_local.cli.probe_cmd import add_probe_parser
from behest_local.cli.signing_keys_cmd import add_signing_keys_parser
from behest_local.cli.traces_cmd import add_traces_parser
from behest_local.cli.vault_cmd import add_vault_parser

if TYPE_CHECKING:
    from behest_local.config import Settings

LOOPS = ("auto", "asyncio", "uvloop")
"""``serve --loop``: ``auto`` is uvloop when it is installed, else asyncio's own loop."""


def build_parser() -> Parser:
    parser = Parser(
        prog="behest-local",
        description="A local twin of the Behest AI gateway: the OpenAI-compatible API on "
                    "localhost, offline by default. With no command it serves (options "
                    "below); `behest-local COMMAND --help` shows a command's options.")
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
    run.add_argument("--loop", choices=LOOPS, default="auto",
                     help="event loop: uvloop (faster) or asyncio's; auto (the default) is "
                          "uvloop when installed")
    _common(run)
    parser.default_command = run

    keys = commands.add_parser("keys", help="create, list and revoke project API keys")
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = key_commands.add_parser("create", help="create a key (printed once)")
    create.add_argument("--project", default="local", help="project id (default: local)")
    create.add_argument("--json", action="store_true", help='print {"key": …, "project": …}')
    create.add_argument("--legacy", action="store_true",
                        help="make a v1.x-style bh_live_ key (what older SDKs and docs use)")
    _common(create)
    listing = key_commands.add_parser("list", help="list keys (prefixes only)")
    listing.add_argument("--project", help="only this project's keys (default: all)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    _common(listing)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("ident", metavar="ID_OR_PREFIX",
                        help="the key's id or its prefix, as `keys list` shows them")
    _common(revoke)

    add_vault_parser(commands)
    add_probe_parser(commands)
    add_traces_parser(commands, common=_common)
    add_fake_parser(commands)
    add_mint_parser(commands)
    add_signing_keys_parser(commands)
    add_config_parsers(commands)
    add_admin_parsers(commands)
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
    args = parse(build_parser(), argv)
    import logging  # after parsing: --help and usage errors never need it

    from behest_local.printable import PrintableFormatter

    # Log records can quote a client's text (a path, a header in a traceback): the
    # formatter keeps control characters out of the terminal (printable.py).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # watchfiles logs every change it sees at INFO; the gateway reports what it reloads.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        print(f"behest-local: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    """Dispatch to the command's handler, which imports what it needs."""
    command = args.command
    if command == "version":
        print(f"behest-local {__version__}")
        return 0
    if command == "keys":
        return _keys(args)
    if command in ("init", "config", "dashboard-token"):
        from behest_local.cli.config_cmd import run_config_command

        return run_config_command(args)
    if command in ("admin-secret", "project", "provider"):
        from behest_local.cli.admin_cmd import run_admin_command

        return run_admin_command(args)
    if command in _HANDLERS:
        module, name, with_home = _HANDLERS[command]
        handler = getattr(importlib.import_module(module), name)
        if not with_home:
            return handler(args)
        from behest_local.home import resolve_home

        return handler(args, resolve_home(args.home))
    return _serve(args)


_HANDLERS = {
    "probe": ("behest_local.cli.probe_cmd", "run_probe", False),
    "traces": ("behest_local.cli.traces_cmd", "run_traces", True),
    "mint": ("behest_local.cli.mint", "run_mint", False),
    "signing-keys": ("behest_local.cli.signing_keys_cmd", "run_signing_keys", False),
    "fake-upstream": ("behest_local.cli.fake_upstream", "run_fake", False),
    "vault": ("behest_local.cli.vault_cmd", "run_vault", True),
}
"""Command -> (module, handler, whether the handler takes the resolved state dir)."""


_USER_ERRORS = (("behest_local.runtime.build", "StartupError"), ("behest_local.config", "ConfigError"),
                ("behest_local.identity.api_keys", "KeyStoreError"))
"""Besides ``OSError``, ``ConfigCommandError`` and ``AdminCommandError``: what commands
raise for the user to fix."""


def _is_user_error(exc: Exception) -> bool:
    """Printed as one line, exit 2. A class whose module was never imported cannot have
    been raised, so this looks the classes up in ``sys.modules`` instead of importing the
    server's modules for a command that did not load them."""
    if isinstance(exc, (OSError, ConfigCommandError, AdminCommandError)):
        return True
    return any(isinstance(exc, getattr(sys.modules[module], name))
               for module, name in _USER_ERRORS if module in sys.modules)


def _serve(args: argparse.Namespace) -> int:
    from behest_local.home import resolve_home
    from behest_local.runtime.build import ServeOptions, find_config
    from behest_local.runtime.serve import run

    options = ServeOptions(home=resolve_home(args.home), config_path=find_config(args.config),
                           host=args.host, port=args.port, allow_remote=args.allow_remote,
                           headless=args.headless, max_body_bytes=args.max_body_bytes,
                           loop=args.loop)
    return run(options)


def _settings(args: argparse.Namespace) -> Settings:
    from behest_local.home import resolve_home
    from behest_local.runtime.build import ServeOptions, find_config, load_settings

    path = find_config(args.config)
    return load_settings(ServeOptions(home=resolve_home(args.home), config_path=path))


def _keys(args: argparse.Namespace) -> int:
    import json

    from behest_local.home import resolve_home
    from behest_local.identity.api_keys import KeyStore

    store = KeyStore(resolve_home(args.home))
    if args.keys_command == "create":
        from behest_local.runtime.build import StartupError  # with the settings: list needs neither

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

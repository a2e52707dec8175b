"""``behest-local init``, ``config check|show|reset`` and ``dashboard-token``: parsing and output.

The work is done elsewhere: ``config`` validates, ``config.render`` explains the layers,
``deployed`` holds what the management API changed, ``dashboard`` makes the token. Exit
codes: 0 done; 1 ``config check`` found problems (all of them are printed, with
``file:line``); 2 a user error (one line starting ``behest-local: error:``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMANDS = ("init", "config", "dashboard-token")


class ConfigCommandError(Exception):
    """A user error of these commands (exit 2)."""


def add_config_parsers(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser("init", help="write a commented behest.toml to start from")
    init.add_argument("path", nargs="?", default="behest.toml",
                      help="file or directory (default: ./behest.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    cfg = commands.add_parser("config", help="check and show the configuration")
    actions = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a behest.toml (exit 1 on problems)")
    check.add_argument("path", nargs="?", help="default: the file serve would read")
    view = actions.add_parser("show", help="the effective configuration and each value's layer")
    view.add_argument("--json", action="store_true", help="one object per key")
    view.add_argument("--port", type=int, help="as serve's --port (a CLI-flag layer)")
    view.add_argument("--host", help="as serve's --host")
    view.add_argument("--max-body-bytes", type=int, help="as serve's --max-body-bytes")
    _paths(view)
    reset = actions.add_parser("reset", help="drop settings deployed through the management "
                                             "API (behest.toml is untouched)")
    reset.add_argument("--project", help="only this project (default: all)")
    _paths(reset)

    token = commands.add_parser("dashboard-token", help="print a new management API token "
                                                        "(the previous one stops working)")
    token.add_argument("--json", action="store_true", help='print {"token": …, "tenant_id": …}')
    _paths(token)


def _paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="state directory (default: $BEHEST_LOCAL_HOME or the "
                                       "platform's user data dir)")
    parser.add_argument("--config", help="behest.toml to use (default: ./behest.toml if present)")


def run_config_command(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the CLI builds every command's parser on each run.
    from behest_local.config.locate import index_lines
    from behest_local.config.render import Layers, show
    from behest_local.config.deployed import DeployedStore
    from behest_local.home import resolve_home
    from behest_local.config.reload import Flags
    from behest_local.runtime.build import ServeOptions, find_config, live_config  # the composition root

    if args.command == "init":
        return _init(Path(args.path), force=args.force)
    if args.command == "dashboard-token":
        return _dashboard_token(args, find_config(args.config))
    if args.config_command == "check":
        return _check(Path(args.path) if args.path else find_config(None))
    home = resolve_home(args.home)
    if args.config_command == "reset":
        if DeployedStore(home).reset(args.project):
            print(f"dropped the settings deployed via the API"
                  f"{' for project ' + args.project if args.project else ''}; behest.toml "
                  "applies again (a running gateway picks this up at once)")
        else:
            print("nothing was deployed via the API")
        return 0
    path = find_config(args.config)
    options = ServeOptions(home=home, config_path=path, host=args.host, port=args.port,
                           max_body_bytes=args.max_body_bytes)
    live = live_config(options)
    flags = Flags(args.host, args.port, args.max_body_bytes)
    text = path.read_text(encoding="utf-8") if path else ""
    layers = Layers(index_lines(text), toml_name=str(path) if path else "behest.toml",
                    deployed=live.labels, base=live.file_settings,
                    cli=frozenset(("server", k) for k in flags.given()))
    if not args.json:
        print(f"# config: {path or 'none (embedded default)'}   deployed layer: "
              f"{live.deployed.path}")
    sys.stdout.write(show(live.settings, layers, as_json=args.json) + ("\n" if args.json else ""))
    return 0


def _init(path: Path, *, force: bool) -> int:
    from behest_local.config.template import TEMPLATE

    if path.is_dir():
        path = path / "behest.toml"
    if path.exists() and not force:
        raise ConfigCommandError(f"{path} exists: not overwritten (use --force to replace it)")
    try:
        path.write_text(TEMPLATE, encoding="utf-8")
    except OSError as exc:
        raise ConfigCommandError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path}: every key is documented in it. Start the gateway in this directory "
          "(`behest-local`) and edit the file while it runs: a saved change applies at once.")
    return 0


def _check(path: Path | None) -> int:
    from behest_local import config
    from behest_local.config import ConfigError

    if path is None:
        raise ConfigCommandError("no behest.toml here: pass a path, or create one with "
                                 "`behest-local init`")
    try:
        settings = config.load(path)
    except ConfigError as error:
        count = len(error.problems)
        print(f"{error}\n\n{path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    projects = ", ".join(f"{p.id} ({p.slug})" for p in settings.projects)
    print(f"{path}: ok. tenant {settings.tenant.id} on the {settings.tenant.plan} plan; "
          f"projects: {projects}")
    return 0


def _dashboard_token(args: argparse.Namespace, path: Path | None) -> int:
    from behest_local import config
    from behest_local.identity.dashboard_token import DashboardTokens
    from behest_local.home import resolve_home
    from behest_local.runtime import address

    home = resolve_home(args.home)
    settings = config.load(path) if path else config.Settings()
    tenant = settings.tenant.id
    token = DashboardTokens(home).create()
    url, source = address.origin(home, settings.server.host, settings.server.port)
    if args.json:
        print(json.dumps({"token": token, "tenant_id": tenant, "base_url": url}))
        return 0
    print(token)
    print("\nThe management API's dashboard token, shown once (the previous one no longer "
          "works). For the migration guide's curl commands, use base URL "
          f"{url} instead of https://api.behest.app ({source}):\n"
          f"  export DASHBOARD_JWT=<the token above> TENANT_ID={tenant} PROJECT_ID=local\n"
          "The data plane's base URL, in the form each client wants:\n"
          + "".join(f"  {line}\n" for line in address.base_url_lines(url)),
          end="", file=sys.stderr)
    return 0

"""``behest-local admin-secret`` and ``project|provider kill|revive``: the admin kill switches
from the command line.

``admin-secret`` makes the ``X-Admin-Secret`` of the admin API (``identity/admin_secret.py``),
prints it once on stdout (how to use it on stderr) and keeps only its hash; ``--rotate``
replaces an existing one. An existing or damaged record is never replaced without it.

``project kill ID`` and friends write ``kill_switches.json`` in the state dir
(``policy/kill_switches.py``), atomically under its lock. A gateway running on that state
dir (``gateway.json``, ``runtime/address.py``) follows the file and applies the change at
once, as it does for ``keys revoke``; with none running, the next start honours it. So the
CLI needs no admin secret at all: it would have to be kept in plaintext somewhere for the
CLI to send it, whereas whoever can write the state dir (0700) owns the gateway already.
Exit codes: 0 done; 1 ``admin-secret`` printed none (one exists); 2 a user error (one
line on stderr, ``behest-local: error: …``).
"""

from __future__ import annotations

import argparse
import json
import sys

_HOME_HELP = "state directory (default: $BEHEST_LOCAL_HOME or the platform's user data dir)"
_CONFIG_HELP = "behest.toml to use (default: ./behest.toml if present)"


class AdminCommandError(Exception):
    """A user error of these commands (exit 2)."""


def add_admin_parsers(commands: argparse._SubParsersAction) -> None:
    secret = commands.add_parser("admin-secret", help="print a new X-Admin-Secret for the "
                                                      "admin kill-switch API (shown once)")
    secret.add_argument("--rotate", action="store_true",
                        help="replace the current secret (it stops working)")
    secret.add_argument("--json", action="store_true", help='print {"admin_secret": …}')
    _paths(secret)
    for noun, what in (("project", "a project: its requests and mints answer 403 forbidden"),
                       ("provider", "a tenant provider: requests routed to it answer 403")):
        parser = commands.add_parser(noun, help=f"kill or revive {what.split(':')[0]}")
        actions = parser.add_subparsers(dest=f"{noun}_command", metavar="ACTION",
                                        required=True)
        metavar = "ID" if noun == "project" else "PROVIDER"
        named = ("the project's id, as behest.toml or GET /v1/projects names it"
                 if noun == "project" else "the provider's name: openai, anthropic, google …")
        kill = actions.add_parser("kill", help=f"stop {what}")
        kill.add_argument("name", metavar=metavar, help=named)
        kill.add_argument("--reason", help="why (shown in every refusal and the TUI)")
        _paths(kill)
        revive = actions.add_parser("revive", help=f"serve the {noun}'s requests again")
        revive.add_argument("name", metavar=metavar, help=named)
        _paths(revive)


def _paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help=_HOME_HELP)
    parser.add_argument("--config", help=_CONFIG_HELP)


def run_admin_command(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the CLI builds every command's parser on each run.
    from behest_local.home import resolve_home

    home = resolve_home(args.home)
    if args.command == "admin-secret":
        return _admin_secret(args, home)
    return _switch(args, home, args.command, getattr(args, f"{args.command}_command"))


def _settings(args: argparse.Namespace, home):
    from behest_local.runtime.build import ServeOptions, find_config, load_settings

    return load_settings(ServeOptions(home=home, config_path=find_config(args.config)))


def _admin_secret(args: argparse.Namespace, home) -> int:
    from behest_local.identity.admin_secret import AdminSecret, AdminSecretError
    from behest_local.runtime import address

    admin = AdminSecret(home)
    try:
        secret = admin.create(rotate=args.rotate)
    except AdminSecretError as exc:
        print(f"behest-local: {exc}", file=sys.stderr)
        return 1
    settings = _settings(args, home)
    url, source = address.origin(home, settings.server.host, settings.server.port)
    if args.json:
        print(json.dumps({"admin_secret": secret.reveal(), "base_url": url}))
        return 0
    print(secret.reveal())
    rotated = " (the previous one no longer works)" if args.rotate else ""
    print(f"\nThe admin secret, shown once{rotated}: store it now. Only its hash is kept "
          f"({admin.path}). The admin kill-switch API takes it as X-Admin-Secret ({url}: "
          f"{source}):\n"
          f"  export BEHEST_ADMIN_SECRET=<the secret above>\n"
          f"  curl -X POST -H \"X-Admin-Secret: $BEHEST_ADMIN_SECRET\" -H 'Content-Type: "
          f"application/json' {url}/v1/admin/projects/local/kill -d '{{\"reason\": "
          f"\"abuse\"}}'\n"
          f"  curl -H \"X-Admin-Secret: $BEHEST_ADMIN_SECRET\" {url}/v1/admin/kill-switches\n"
          "`behest-local admin-secret --rotate` replaces it.", file=sys.stderr)
    return 0


def _switch(args: argparse.Namespace, home, noun: str, action: str) -> int:
    from behest_local.policy.kill_switches import (
        KillStateError, KillSwitches, ProviderRefused, check_killable)
    from behest_local.runtime import address
    from behest_local.vault.crypto import VaultError
    from behest_local.vault.key_formats import normalize_provider

    settings = _settings(args, home)
    try:
        kills = KillSwitches(home)
    except KillStateError as exc:
        raise AdminCommandError(f"kill switches: {exc}") from None
    kind, killed = noun + "s", action == "kill"
    if noun == "project":
        name = args.name
        if settings.project(name) is None and not (not killed and name in kills.projects):
            known = ", ".join(p.id for p in settings.projects)
            raise AdminCommandError(f"unknown project {name!r} (configured in "
                                    f"{settings.source}: {known})")
        subject = f"project {name}"
    else:
        try:
            name = normalize_provider(args.name)
        except VaultError as exc:
            raise AdminCommandError(str(exc)) from None
        try:
            check_killable(name, settings.providers, kills.providers)
        except ProviderRefused as exc:
            raise AdminCommandError(str(exc)) from None
        subject = f"the {name} provider of tenant {settings.tenant_id}"
    was = name in (kills.projects if noun == "project" else kills.providers)
    reason = " ".join((getattr(args, "reason", None) or "").split()) or None
    try:
        kills.write(kind, name, killed, reason=reason, by="behest-local CLI")
    except KillStateError as exc:
        raise AdminCommandError(f"kill switches: {exc}") from None
    if killed:
        refused = "its requests and mints" if noun == "project" else "requests routed to it"
        done = f"{subject} killed: {refused} answer 403 forbidden"
    else:
        done = f"{subject} revived" if was else f"{subject} was not killed: nothing to revive"
    found = address.running(home)
    where = (f"the gateway running at {found.url} applies it at once" if found is not None
             else "no gateway is running on this state dir: the next start honours it")
    print(f"{done} ({where})")
    return 0

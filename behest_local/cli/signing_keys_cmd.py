"""``behest-local signing-keys create|list|revoke``: the dashboard's Signing Keys page.

``create`` makes an RS256 key pair, registers the public half (``identity/signing_keys.py``; served
at ``/.well-known/jwks.json``) and prints the environment the SDKs' sign mode reads
(reference/behest-api.md §2.3): ``BEHEST_KEY``, ``BEHEST_KID``, ``BEHEST_TENANT_ID``,
``BEHEST_PROJECT_ID``, plus ``BEHEST_BASE_URL`` pointing at the gateway running on the state
dir (``runtime/address.py``; else the configured address), in the v1.5 SDKs' form, with the
form each other client wants on stderr. The lines go to
stdout (``>> .env`` or ``eval "$(… --export)"``), the explanation to stderr.

``BEHEST_KEY`` is the bare base64 of the PKCS#8 PEM: one line, safe in ``.env`` files and
shells, and accepted by ``behest-ai`` 1.5.0b1, whose ``behest_pk_<base64>`` handling is
broken (it strips the prefix and reads the rest as a raw PEM, reference §2.1, §7.10). The
private key is shown once and written nowhere. ``--legacy`` adds the v1.x
``BehestSigningClient`` variables (raw PEM, ``sk_`` kid). ``revoke KID`` makes the key's
tokens fail at their next use, in every running gateway. Exit codes: 0, or 2 with one line
``behest-local: error: …`` on stderr.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from behest_local.identity.signing_keys import SigningKeyStore

_HOME_HELP = "state directory (default: $BEHEST_LOCAL_HOME or the platform's user data dir)"


def add_signing_keys_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``signing-keys`` and its actions (dest ``signing_keys_command``)."""
    parser = subparsers.add_parser("signing-keys", help="create, list and revoke JWT signing "
                                                        "keys (the SDKs' sign mode)")
    actions = parser.add_subparsers(dest="signing_keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a key pair; print the SDK env (once)")
    create.add_argument("--project", default="local", help="project id (default: local)")
    how = create.add_mutually_exclusive_group()
    how.add_argument("--export", action="store_true", help="prefix each line with 'export '")
    how.add_argument("--json", action="store_true", help="print one JSON object instead")
    create.add_argument("--base-url", help="the gateway's URL for BEHEST_BASE_URL (default: "
                                           "the configured host and port)")
    create.add_argument("--legacy", action="store_true",
                        help="also print BEHEST_SIGNING_KEY_PEM/_ID for v1.x BehestSigningClient")
    listing = actions.add_parser("list", help="list signing keys (public halves only)")
    listing.add_argument("--project", help="only this project's keys (default: all)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    revoke = actions.add_parser("revoke", help="revoke a key: its tokens fail at once")
    revoke.add_argument("kid", metavar="KID", help="the key id, as `signing-keys list` "
                                                   "shows it")
    for p in (create, listing, revoke):
        p.add_argument("--home", help=_HOME_HELP)
        p.add_argument("--config", help="behest.toml to use (default: ./behest.toml if present)")


def run_signing_keys(args: argparse.Namespace) -> int:
    """Run the ``signing-keys`` action in ``args``; returns the exit code."""
    # Imported here, not at the top: the CLI builds every command's parser on each run.
    from behest_local.config import ConfigError
    from behest_local.home import resolve_home
    from behest_local.identity.signing_keys import SigningKeyError, SigningKeyStore

    try:
        store = SigningKeyStore(resolve_home(args.home))
        if args.signing_keys_command == "create":
            return _create(args, store)
        if args.signing_keys_command == "list":
            return _list(args, store)
        key = store.revoke(args.kid)
        print(f"revoked {key.kid} of project {key.project} at {key.revoked_at}: its tokens "
              "are refused from now on")
        return 0
    except (SigningKeyError, ConfigError, ValueError, OSError) as exc:
        print(f"behest-local: error: {exc}", file=sys.stderr)
        return 2


def _create(args: argparse.Namespace, store: SigningKeyStore) -> int:
    from behest_local.home import resolve_home
    from behest_local.runtime.build import ServeOptions, find_config, load_settings  # the CLI's only

    settings = load_settings(ServeOptions(home=resolve_home(args.home),
                                          config_path=find_config(args.config)))
    project = settings.project(args.project)
    if project is None:
        known = ", ".join(p.id for p in settings.projects)
        raise ValueError(f"unknown project {args.project!r} (configured in {settings.source}: "
                         f"{known})")
    from behest_local.runtime import address

    pem, key = store.create(settings.tenant_id, project.id)
    base_url, source = address.origin(store.home, settings.server.host, settings.server.port)
    if args.base_url:
        base_url, source = args.base_url, "--base-url"
    encoded = base64.b64encode(pem.reveal().encode("ascii")).decode("ascii")
    env = {"BEHEST_KEY": encoded, "BEHEST_KID": key.kid, "BEHEST_TENANT_ID": key.tenant,
           "BEHEST_PROJECT_ID": key.project, "BEHEST_BASE_URL": base_url}
    if args.json:
        print(json.dumps({"kid": key.kid, "tenant_id": key.tenant, "project_id": key.project,
                          "created_at": key.created_at, "private_key_pem": pem.reveal(),
                          "env": env}, indent=2))
        return 0
    if args.legacy:
        env["BEHEST_SIGNING_KEY_PEM"] = f'"{pem.reveal().strip()}"'
        env["BEHEST_SIGNING_KEY_ID"] = key.kid
    prefix = "export " if args.export else ""
    print("\n".join(f"{prefix}{name}={value}" for name, value in env.items()))
    print(f"# signing key {key.kid} for project {key.project} (tenant {key.tenant}). The private "
          "key (BEHEST_KEY) is shown this once and stored nowhere: save these lines now.\n"
          f"# BEHEST_BASE_URL is {base_url} ({source}; --base-url to change it), the form "
          "the v1.5 SDKs' sign mode wants. Each client's form:\n"
          + "\n".join(f"#   {line}" for line in address.base_url_lines(base_url)),
          file=sys.stderr)
    return 0


def _list(args: argparse.Namespace, store: SigningKeyStore) -> int:
    keys = store.list(args.project, include_revoked=args.all)
    if args.json:
        print(json.dumps([{"kid": k.kid, "tenant_id": k.tenant, "project_id": k.project,
                           "created_at": k.created_at, "revoked_at": k.revoked_at}
                          for k in keys]))
        return 0
    if not keys:
        print("no signing keys yet: behest-local signing-keys create --project local")
    for k in keys:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        print(f"{k.kid}  {k.project:<12} created {k.created_at}  {state}")
    return 0

"""``behest-local mint``: a Behest JWT on stdout, for curl and quick tests.

Does what ``POST /v1/auth/mint`` does (same validation: ``identity/jwt.MintRequest``; same
platform key, unsealed from the vault, made on first use) without a running server or an
API key: whoever can read the state dir can mint anyway. Prints the token alone, so
``TOKEN=$(behest-local mint --user alice)`` works; ``--json`` prints the mint response.
Exit codes: 0 done; 2 a user error (one line on stderr, ``behest-local: error: …``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from behest_local.config import Settings

ROLES = ("user", "admin", "dashboard-service")
TTL_DEFAULT = 3_600
"""``identity/jwt/claims.py``' values, repeated so that building this parser (which the CLI does
on every run) loads no JWT machinery; a test keeps them equal."""

_FLAGS = {"user_id": "--user", "session_id": "--session", "ttl": "--ttl", "tier": "--tier",
          "role": "--role"}
_HOME_HELP = "state directory (default: $BEHEST_LOCAL_HOME or the platform's user data dir)"


def add_mint_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``mint`` to the top-level ``subparsers`` (dest ``command``)."""
    p = subparsers.add_parser("mint", help="print a Behest JWT (as POST /v1/auth/mint would)",
                              description="Mint an RS256 JWT signed by the platform key, "
                                          "for Authorization: Bearer on the data plane.")
    p.add_argument("--project", default="local", help="project id (default: local)")
    p.add_argument("--user", default="default", help="end-user id, the token's uid "
                                                     "(default: default, as the SDKs)")
    p.add_argument("--tier", help="1, 2, 3 or free, pro, max (default: none in the token)")
    p.add_argument("--ttl", type=int, default=TTL_DEFAULT,
                   help=f"lifetime in seconds, 60-86400 (default {TTL_DEFAULT})")
    p.add_argument("--role", default="user", choices=ROLES,
                   help="the token's role claim (default: user)")
    p.add_argument("--session", help="session id, the token's sid (default: a new UUID)")
    p.add_argument("--json", action="store_true",
                   help="print the mint response (jwt, ttl, session_id, …) instead")
    p.add_argument("--home", help=_HOME_HELP)
    p.add_argument("--config", help="behest.toml to use (default: ./behest.toml if present)")


def _settings(args: argparse.Namespace) -> Settings:
    from behest_local.home import resolve_home
    from behest_local.runtime.build import ServeOptions, find_config, load_settings  # the CLI's only

    return load_settings(ServeOptions(home=resolve_home(args.home),
                                      config_path=find_config(args.config)))


def run_mint(args: argparse.Namespace) -> int:
    """Run ``mint``; returns the exit code."""
    # Imported here, not at the top: the CLI builds every command's parser on each run.
    from behest_local.identity.jwt import ClaimError, KeyRing, MintRequest, mint
    from behest_local.config import ConfigError
    from behest_local.home import resolve_home
    from behest_local.vault.store import PASSPHRASE_ENV, VaultError, VaultLocked

    try:
        settings = _settings(args)
        project = settings.project(args.project)
        if project is None:
            known = ", ".join(p.id for p in settings.projects)
            raise ValueError(f"unknown project {args.project!r} (configured in "
                             f"{settings.source}: {known})")
        if project.status != "active":
            raise ValueError(f"project {project.id!r} is {project.status}: it mints no tokens")
        wanted = MintRequest.parse({"user_id": args.user, "role": args.role, "ttl": args.ttl,
                                    "tier": args.tier, "session_id": args.session})
        signer = KeyRing(resolve_home(args.home)).load_signer()
    except VaultLocked:
        return _fail(f"the platform signing key is sealed by the vault, which has a "
                     f"passphrase: set {PASSPHRASE_ENV}")
    except ClaimError as exc:
        flag = _FLAGS.get(exc.param or "", "")
        return _fail(f"{flag}: {exc.message}" if flag else exc.message)
    except (ValueError, ConfigError, VaultError, OSError) as exc:
        return _fail(str(exc))
    result = mint(signer, wanted, tenant=settings.tenant_id, project=project.id)
    print(json.dumps(result, indent=2) if args.json else result["jwt"])
    return 0


def _fail(message: str) -> int:
    print(f"behest-local: error: {message}", file=sys.stderr)
    return 2

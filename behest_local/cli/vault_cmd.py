"""``behest-local vault set|list|remove|rekey``: parsing and exit codes; the work is the Vault's.

``vault set`` takes a provider built in (or an alias: ``gemini``) or configured as
``[providers.NAME]`` in behest.toml; any other name is likely a typo, so it is refused
with the closest known name (asked about on a terminal), unless ``--custom`` says it is
meant. Exit codes: 0 done; 2 a user error (one line on stderr starting ``behest-local: error:``);
1 an operating-system error, or ``list`` found keys that fail their integrity check (same
one-line form); 130 interrupted at a prompt. Keys and
passphrases are read from a hidden prompt on a terminal, else from stdin: never from argv,
where they would land in shell history and ``ps``.
"""

from __future__ import annotations

import argparse
import difflib
import getpass
import json
import sys
from pathlib import Path

from behest_local.secret import Secret
from behest_local.vault.key_formats import (PROVIDER_ALIASES, normalize_provider,
                                            validate_provider_key)
from behest_local.vault.entries import VAULT_FILE, read_entries
from behest_local.vault.store import KEY_FILE, PASSPHRASE_ENV, Vault, VaultError, VaultLocked

_HOME_HELP = "state directory (default: $BEHEST_LOCAL_HOME or the platform's user data dir)"


class _UserError(Exception):
    pass


def add_vault_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vault`` and its actions to the top-level ``subparsers`` (dest ``vault_command``)."""
    vault = subparsers.add_parser("vault", help="store provider API keys (BYOK), encrypted")
    actions = vault.add_subparsers(dest="vault_command", metavar="ACTION", required=True)
    put = actions.add_parser("set", help="store a provider's key (hidden prompt, or stdin)",
                             description="Store PROVIDER's API key, read from a hidden prompt "
                                         "on a terminal, else from stdin (one line).")
    put.add_argument("provider", metavar="PROVIDER",
                     help="openai, anthropic, google (or gemini), openrouter, mistral, cohere, "
                          "or a [providers.NAME] of behest.toml")
    put.add_argument("--custom", action="store_true",
                     help="store a key for a name neither built in nor configured (yet)")
    put.add_argument("--config", help="behest.toml whose [providers.NAME] tables name custom "
                                      "providers (default: ./behest.toml if present)")
    listing = actions.add_parser("list", help="list stored keys (last 4 characters only)")
    listing.add_argument("--json", action="store_true",
                         help='print [{"provider", "last4", "added_at"}, …]')
    remove = actions.add_parser("remove", help="forget a provider's key")
    remove.add_argument("provider", metavar="PROVIDER", help="whose key to forget, as "
                                                             "`vault list` names it")
    rekey = actions.add_parser("rekey", help="re-seal the vault with a new passphrase or key file",
                               description="Re-seal the vault. With no option on a terminal, "
                                           "asks for a new passphrase twice.")
    how = rekey.add_mutually_exclusive_group()
    how.add_argument("--passphrase-stdin", action="store_true",
                     help="read the new passphrase from stdin (one line)")
    how.add_argument("--keyfile", action="store_true",
                     help=f"seal with a new random key file ({KEY_FILE}) instead of a passphrase")
    for parser in (put, listing, remove, rekey):
        parser.add_argument("--home", help=_HOME_HELP)


def run_vault(args: argparse.Namespace, home: Path) -> int:
    """Run the ``vault`` action in ``args`` on the vault in ``home``; returns the exit code."""
    try:
        return _ACTIONS[args.vault_command](args, Path(home))
    except (VaultError, _UserError) as exc:
        return _fail(str(exc), 2)
    except OSError as exc:
        return _fail(f"{exc.filename or home}: {exc.strerror or exc}", 1)
    except EOFError:
        return _fail("no input", 2)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _fail(message: str, code: int) -> int:
    print(f"behest-local: error: {message}", file=sys.stderr)
    return code


def _tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _read_line(what: str) -> Secret:
    """One line from stdin, trailing newline removed."""
    if sys.stdin is None:
        raise _UserError(f"no stdin to read the {what} from")
    text = sys.stdin.read().rstrip("\r\n")
    if "\n" in text:
        raise _UserError(f"expected the {what} alone on one line of stdin")
    if not text:
        raise _UserError(f"no {what} on stdin")
    return Secret(text)


def _open(home: Path) -> Vault:
    """The vault, asking for its passphrase on a terminal if it needs one and none is set."""
    try:
        vault = Vault.open(home)
    except VaultLocked:
        if not _tty():
            raise
        vault = Vault.open(home, passphrase=Secret(getpass.getpass("Vault passphrase: ")))
    if vault.created:
        how = (f"key file {vault.key_path}" if vault.mode == "keyfile"
               else f"the passphrase in {PASSPHRASE_ENV}")
        print(f"created {vault.path}, sealed with {how}", file=sys.stderr)
    return vault


def _known_providers(config: str | None) -> tuple[str, ...]:
    """The names ``vault set`` takes without ``--custom``: the built-in providers, their
    aliases and the ``[providers.NAME]`` tables of the configuration."""
    from behest_local import config as configuration
    from behest_local.runtime.build import find_config  # where serve finds its config

    path = find_config(config)
    settings = configuration.load(path) if path else configuration.Settings()
    return (*configuration.BUILTIN_PROVIDERS, *PROVIDER_ALIASES,
            *(n for n in settings.providers if n not in configuration.BUILTIN_PROVIDERS))


def _checked_name(args: argparse.Namespace) -> str:
    """``args.provider`` normalised, and known unless ``--custom``: a name that is neither
    built in nor configured is refused, with the closest known one (on a terminal, asked:
    answering yes stores the key under that name)."""
    from behest_local.config.schema import BUILTIN_PROVIDERS

    provider = normalize_provider(args.provider)  # aliases resolved: gemini is google
    if args.custom or provider in BUILTIN_PROVIDERS:
        return provider  # behest.toml is not read: a broken one does not stop this
    known = _known_providers(args.config)
    if provider in known:
        return provider
    close = difflib.get_close_matches(provider, known, n=1)
    if close and _tty():
        answer = input(f"unknown provider {provider!r}: did you mean {close[0]}? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return normalize_provider(close[0])
    hint = f": did you mean {close[0]}?" if close else "."
    raise _UserError(f"unknown provider {provider!r}{hint} Known: {', '.join(known)}. "
                     "For a custom OpenAI-compatible server, "
                     f"add [providers.{provider}] with its base_url to behest.toml, or pass "
                     "--custom")


def _set(args: argparse.Namespace, home: Path) -> int:
    provider = _checked_name(args)
    if _tty():
        key = Secret(getpass.getpass(f"{provider} API key (input hidden): ").strip())
    else:
        key = _read_line("key")
    validate_provider_key(provider, key)  # before opening: a bad key creates nothing
    vault = _open(home)
    replacing = any(e.provider == provider for e in vault.list())
    vault.set(provider, key)
    shown = f" …{key.last4}" if key.last4 else ""
    print(f"{'replaced' if replacing else 'stored'} the {provider} key{shown}; a running "
          "gateway uses it from its next request")
    return 0


def _list(args: argparse.Namespace, home: Path) -> int:
    entries = read_entries(home)  # metadata only: no passphrase needed, nothing created
    damaged = _damaged(home) if entries else set()
    intact = {e.provider: None if damaged is None else e.provider not in damaged
              for e in entries}
    if args.json:
        print(json.dumps([{"provider": e.provider, "last4": e.last4, "added_at": e.added_at,
                           "intact": intact[e.provider]} for e in entries]))
    else:
        if not entries:
            print("no provider keys yet: behest-local vault set openai")
        for e in entries:
            mark = "  DAMAGED: fails its integrity check" if intact[e.provider] is False else ""
            print(f"{e.provider:<12} {e.hint:<6} added {e.added_at}{mark}")
    if damaged is None:
        print(f"(keys not checked: the vault is sealed with a passphrase; set "
              f"{PASSPHRASE_ENV} to check them)", file=sys.stderr)
    elif damaged:
        names = sorted(damaged)
        return _fail(f"{', '.join(names)}: {'key fails' if len(names) == 1 else 'keys fail'} "
                     f"its integrity check (modified outside behest-local); store "
                     f"{'it' if len(names) == 1 else 'each'} again with "
                     + " and ".join(f"`behest-local vault set {n}`" for n in names), 1)
    return 0


def _damaged(home: Path) -> set[str] | None:
    """The providers whose key fails its integrity check; None when the vault is sealed
    with a passphrase that is not set (listing never asks for it)."""
    try:
        return set(Vault.open(home).damaged())
    except VaultLocked:
        return None


def _remove(args: argparse.Namespace, home: Path) -> int:
    provider = normalize_provider(args.provider)
    if not (home / VAULT_FILE).exists():
        raise _UserError(f"no {provider} key stored (the vault is empty)")
    if not _open(home).remove(provider):
        stored = ", ".join(e.provider for e in read_entries(home)) or "none"
        raise _UserError(f"no {provider} key stored (stored: {stored})")
    print(f"removed the {provider} key")
    return 0


def _rekey(args: argparse.Namespace, home: Path) -> int:
    if not (args.keyfile or args.passphrase_stdin or _tty()):
        raise _UserError("vault rekey: stdin is not a terminal; pass --keyfile, or "
                         "--passphrase-stdin with the new passphrase on stdin")
    vault = _open(home)
    new: Secret | None = None
    if args.passphrase_stdin:
        new = _read_line("new passphrase")
    elif not args.keyfile:
        new = Secret(getpass.getpass("New vault passphrase: "))
        if new != Secret(getpass.getpass("Repeat the new passphrase: ")):
            raise _UserError("the passphrases differ; nothing changed")
    vault.rekey(new_passphrase=new)
    if new is None:
        print(f"vault sealed with a new key file, {vault.key_path}; back it up with vault.json")
    else:
        print(f"vault sealed with the new passphrase; {vault.key_path.name} is deleted. Set "
              f"{PASSPHRASE_ENV} for `behest-local serve` (a running gateway keeps working)")
    return 0


_ACTIONS = {"set": _set, "list": _list, "remove": _remove, "rekey": _rekey}

"""The CLI starts cheaply: building the parser imports no command's machinery.

``behest_local.cli.main`` builds every command's parser on each run, so the ``*_cli`` modules
import only the standard library at the top and each handler imports what it needs.
Checked in a fresh interpreter (imports deferred into functions are invisible to linters),
and the copies of constants the parsers need are checked against their sources.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from behest_local.cli import main as cli
from behest_local.cli import fake_upstream as fake_upstream_cli
from behest_local.cli import mint as mint_cli

HEAVY = ("aiohttp", "jwt", "cryptography", "textual", "rich", "watchfiles", "uvloop",
         "sqlite3", "behest_local.fakes", "behest_local.server", "behest_local.runtime.build",
         "behest_local.providers", "behest_local.config", "behest_local.identity.jwt")


def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"print(sorted({{m for m in sys.modules for h in {HEAVY!r} "
             f"if m == h or m.startswith(h + '.')}}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout)  # a printed list of module names


def test_building_the_parser_loads_no_command_machinery():
    assert _loaded_after("from behest_local.cli.main import build_parser\nbuild_parser()") == []


def test_help_loads_no_command_machinery():
    code = ("import contextlib, io\nfrom behest_local.cli.main import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])")
    assert _loaded_after(code) == []


def test_version_and_keys_list_stay_light(tmp_path):
    code = ("import contextlib, io\nfrom behest_local.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['version']); main(['keys', 'list', '--home', {str(tmp_path)!r}])")
    loaded = _loaded_after(code)
    assert not [m for m in loaded if m.split(".")[0] in ("aiohttp", "jwt", "textual", "rich",
                                                         "uvloop", "watchfiles")]
    assert "behest_local.server" not in loaded and "behest_local.runtime.build" not in loaded


def test_the_parser_copies_of_constants_match_their_sources():
    from behest_local.identity.jwt.claims import ROLES, TTL_DEFAULT
    from behest_local.fakes import PROVIDERS

    assert fake_upstream_cli.NAMES == tuple(sorted(PROVIDERS))
    assert (mint_cli.ROLES, mint_cli.TTL_DEFAULT) == (ROLES, TTL_DEFAULT)


def test_every_command_still_parses_and_serve_takes_a_loop():
    parser = cli.build_parser()
    assert parser.parse_args(["serve"]).loop == "auto"
    for loop in ("asyncio", "uvloop", "auto"):
        assert parser.parse_args(["serve", "--loop", loop]).loop == loop
    assert parser.parse_args(["fake-upstream", "gemini"]).provider == "gemini"
    assert parser.parse_args(["mint", "--role", "admin"]).ttl == mint_cli.TTL_DEFAULT
    for argv in (["keys", "list"], ["vault", "list"], ["traces", "list"], ["probe", "http://x"],
                 ["signing-keys", "list"], ["config", "check"], ["init"], ["dashboard-token"],
                 ["version"]):
        assert parser.parse_args(argv).command == argv[0]


def test_serve_help_shows_the_loop_option(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--loop {auto,asyncio,uvloop}" in out and "uvloop when installed" in out


def test_a_bad_loop_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["serve", "--loop", "trio"])
    assert caught.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_user_errors_of_lazily_imported_modules_print_one_line(tmp_path, capsys):
    bad, good = tmp_path / "bad.toml", tmp_path / "good.toml"
    bad.write_text("[server]\nport = 'x'\n")
    good.write_text("")
    home = str(tmp_path / "home")
    assert cli.main(["keys", "create", "--home", home, "--config", str(bad)]) == 2  # ConfigError
    err = capsys.readouterr().err
    assert err.startswith("behest-local: error:") and "Traceback" not in err
    assert cli.main(["keys", "create", "--project", "nope", "--home", home,  # StartupError
                     "--config", str(good)]) == 2
    assert "unknown project 'nope'" in capsys.readouterr().err
    assert cli.main(["keys", "revoke", "nothing", "--home", home]) == 2  # KeyStoreError
    assert capsys.readouterr().err.startswith("behest-local: error:")


def test_an_unexpected_error_is_not_swallowed(monkeypatch):
    def boom(_args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_keys", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["keys", "list"])

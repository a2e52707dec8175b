"""`behest-local vault …` through add_vault_parser/run_vault: prompts, stdin, exit codes, output."""

from __future__ import annotations

import argparse
import io
import json
import logging

import pytest

from behest_local.cli import vault_cmd as vault_cli
from behest_local.vault.entries import VAULT_FILE
from behest_local.vault.store import KEY_FILE, Vault
from behest_local.cli.vault_cmd import add_vault_parser, run_vault

FAST_N = 2**4
OPENAI = "sk-proj-" + "Q7w8E9r0" * 6
CANARY = "sk-proj-CANARY" + "cli0" * 10 + "Zz9Q"


class FastVault(Vault):
    @classmethod
    def open(cls, home, *, passphrase=None, scrypt_n=FAST_N):
        return super().open(home, passphrase=passphrase, scrypt_n=scrypt_n)


class FakeStdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


class Cli:
    """Runs `vault …` as cli.py will: parse with add_vault_parser, then run_vault."""

    def __init__(self, home, monkeypatch, capsys) -> None:
        self.home, self.monkeypatch, self.capsys = home, monkeypatch, capsys
        self.prompts: list[str] = []
        parser = argparse.ArgumentParser(prog="behest-local")
        add_vault_parser(parser.add_subparsers(dest="command"))
        self.parser = parser

    def __call__(self, *argv: str, stdin: str = "", tty: bool = False,
                 answers: tuple[str, ...] = ()) -> tuple[int, str, str]:
        pending = list(answers)

        def fake_getpass(prompt: str = "Password: ") -> str:
            self.prompts.append(prompt)
            answer = pending.pop(0)
            if answer == "^C":
                raise KeyboardInterrupt
            return answer

        self.monkeypatch.setattr(vault_cli.sys, "stdin", FakeStdin(stdin, tty))
        self.monkeypatch.setattr(vault_cli.getpass, "getpass", fake_getpass)
        args = self.parser.parse_args(["vault", *argv])
        assert args.command == "vault"
        code = run_vault(args, self.home)
        out, err = self.capsys.readouterr()
        assert not pending, "unused prompt answers"
        assert "Traceback" not in err
        if code in (1, 2):
            assert err.startswith("behest-local: error: ") and err.count("\n") == 1, err
        return code, out, err


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys) -> Cli:
    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE", raising=False)
    monkeypatch.setattr(vault_cli, "Vault", FastVault)
    return Cli(tmp_path / "home", monkeypatch, capsys)


def test_set_from_stdin_then_list(cli):
    code, out, err = cli("set", "openai", stdin=OPENAI + "\n")
    assert code == 0 and f"stored the openai key …{OPENAI[-4:]}" in out
    assert "created" in err and KEY_FILE in err
    assert Vault.open(cli.home).get("openai").reveal() == OPENAI
    code, out, _ = cli("set", "Gemini", stdin="AIza" + "k" * 35 + "\r\n")
    assert code == 0 and "stored the google key …kkkk" in out
    code, out, _ = cli("set", "openai", stdin="sk-" + "r" * 30)
    assert code == 0 and "replaced the openai key …rrrr" in out
    code, out, _ = cli("list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("google") and "…kkkk" in lines[0] and "added 20" in lines[0]
    assert lines[1].startswith("openai") and "…rrrr" in lines[1]
    code, out, _ = cli("list", "--json")
    listed = json.loads(out)
    assert [(e["provider"], e["last4"]) for e in listed] == [("google", "kkkk"), ("openai", "rrrr")]
    assert all(set(e) == {"provider", "last4", "added_at", "intact"} for e in listed)
    assert all(e["intact"] is True for e in listed)  # each checked, none damaged


def test_set_on_a_terminal_prompts_hidden(cli):
    code, out, _ = cli("set", "anthropic", tty=True, answers=("  sk-ant-" + "t" * 30 + " ",))
    assert code == 0 and "stored the anthropic key …tttt" in out
    assert cli.prompts == ["anthropic API key (input hidden): "]
    assert Vault.open(cli.home).get("anthropic").reveal() == "sk-ant-" + "t" * 30


@pytest.mark.parametrize("provider,stdin,message", [
    ("google", OPENAI, "a Google (Gemini) key is AIza followed by 35"),
    ("openai", "", "no key on stdin"),
    ("openai", "\n", "no key on stdin"),
    ("openai", OPENAI + "\nsecond line\n", "expected the key alone on one line of stdin"),
    ("openrouter", "sk-or-v1-xyz", "64 hex digits"),
    ("bad/name", OPENAI, "a provider name is 1-32 characters"),
    (OPENAI, "x", "looks like an API key, not a provider name"),
])
def test_set_user_errors(cli, provider, stdin, message):
    code, out, err = cli("set", provider, stdin=stdin)
    assert code == 2 and message in err and out == ""
    assert OPENAI not in err
    assert not (cli.home / VAULT_FILE).exists()  # a rejected key creates nothing


def test_list_needs_no_passphrase_and_creates_nothing(cli, monkeypatch):
    code, out, _ = cli("list")
    assert code == 0 and "no provider keys yet" in out and not cli.home.exists()
    code, out, _ = cli("list", "--json")
    assert code == 0 and json.loads(out) == []
    monkeypatch.setenv("BEHEST_VAULT_PASSPHRASE", "passphrase-one")
    assert cli("set", "cohere", stdin="cohere-key-123")[0] == 0
    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE")
    code, out, err = cli("list")
    assert code == 0 and out.startswith("cohere") and "…" in out
    assert "keys not checked" in err and "BEHEST_VAULT_PASSPHRASE" in err


def test_remove(cli):
    code, _, err = cli("remove", "openai")
    assert code == 2 and "no openai key stored" in err
    cli("set", "openai", stdin=OPENAI)
    cli("set", "mistral", stdin="mistral-key-123")
    code, out, _ = cli("remove", "OpenAI")
    assert code == 0 and out == "removed the openai key\n"
    code, _, err = cli("remove", "openai")
    assert code == 2 and "no openai key stored (stored: mistral)" in err
    assert [e.provider for e in Vault.open(cli.home).list()] == ["mistral"]


def test_passphrase_vault_from_env_or_terminal(cli, monkeypatch):
    monkeypatch.setenv("BEHEST_VAULT_PASSPHRASE", "passphrase-one")
    code, _, err = cli("set", "openai", stdin=OPENAI)
    assert code == 0 and "sealed with the passphrase in BEHEST_VAULT_PASSPHRASE" in err
    assert not (cli.home / KEY_FILE).exists()
    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE")
    code, _, err = cli("set", "cohere", stdin="cohere-key-123")  # piped: nobody to ask
    assert code == 2 and "sealed with a passphrase: set BEHEST_VAULT_PASSPHRASE" in err
    code, _, err = cli("set", "cohere", tty=True, answers=("cohere-key-123", "wrong-passphrase"))
    assert code == 2 and err == ("behest-local: error: the vault passphrase is wrong "
                                 "(BEHEST_VAULT_PASSPHRASE)\n")
    code, out, _ = cli("set", "cohere", tty=True, answers=("cohere-key-123", "passphrase-one"))
    assert code == 0 and "stored the cohere key" in out
    assert cli.prompts[-2:] == ["cohere API key (input hidden): ", "Vault passphrase: "]


def test_rekey_paths(cli, monkeypatch):
    cli("set", "openai", stdin=OPENAI)
    code, _, err = cli("rekey")
    assert code == 2 and "--keyfile, or --passphrase-stdin" in err
    code, out, _ = cli("rekey", "--passphrase-stdin", stdin="passphrase-one\n")
    assert code == 0 and "new passphrase" in out and not (cli.home / KEY_FILE).exists()
    assert FastVault.open(cli.home, passphrase="passphrase-one").get("openai").reveal() == OPENAI
    code, _, err = cli("rekey", tty=True, answers=("passphrase-one", "passphrase-two", "typo"))
    assert code == 2 and "the passphrases differ; nothing changed" in err
    code, _, err = cli("rekey", tty=True, answers=("passphrase-one", "short", "short"))
    assert code == 2 and "at least 8 characters" in err
    code, _, _ = cli("rekey", tty=True, answers=("passphrase-one", "passphrase-two", "passphrase-two"))
    assert code == 0
    assert cli.prompts[-3:] == ["Vault passphrase: ", "New vault passphrase: ",
                                "Repeat the new passphrase: "]
    monkeypatch.setenv("BEHEST_VAULT_PASSPHRASE", "passphrase-two")
    code, out, _ = cli("rekey", "--keyfile")
    assert code == 0 and "new key file" in out and (cli.home / KEY_FILE).exists()
    monkeypatch.delenv("BEHEST_VAULT_PASSPHRASE")
    assert Vault.open(cli.home).get("openai").reveal() == OPENAI


def test_parser(cli):
    with pytest.raises(SystemExit) as exc:
        cli.parser.parse_args(["vault", "rekey", "--keyfile", "--passphrase-stdin"])
    assert exc.value.code == 2
    for argv in (["set", "openai"], ["list", "--json"], ["remove", "x"], ["rekey", "--keyfile"]):
        args = cli.parser.parse_args(["vault", *argv, "--home", "/somewhere"])
        assert args.home == "/somewhere" and args.vault_command == argv[0]
    with pytest.raises(SystemExit):
        cli.parser.parse_args(["vault"])  # an action is required


def test_tampered_vault_is_one_line_exit_2(cli):
    cli("set", "openai", stdin=OPENAI)
    doc = json.loads((cli.home / VAULT_FILE).read_text())
    doc["vault_id"] = "vlt_" + "0" * 32
    (cli.home / VAULT_FILE).write_text(json.dumps(doc))
    code, _, err = cli("set", "cohere", stdin="cohere-key-123")
    assert code == 2 and err == (
        "behest-local: error: vault.json failed its integrity check: it was modified outside "
        "behest-local; restore a backup or remove it and re-add your keys\n")


def test_interrupt_and_os_errors(cli, tmp_path):
    code, _, _ = cli("set", "openai", tty=True, answers=("^C",))
    assert code == 130
    cli.home = tmp_path / "a-file"
    cli.home.write_text("not a directory")
    code, _, err = cli("set", "openai", stdin=OPENAI)
    assert code == 1 and "a-file" in err


def test_canary_never_printed(cli, caplog):
    caplog.set_level(logging.DEBUG)
    outputs = []
    for argv, kwargs in [(("set", "openai"), {"stdin": CANARY}),
                         (("set", "openai"), {"tty": True, "answers": (CANARY,)}),
                         (("set", "google"), {"stdin": CANARY}),
                         (("set", CANARY), {"stdin": "x"}),
                         (("list",), {}), (("list", "--json"), {}),
                         (("rekey", "--keyfile"), {}), (("remove", "openai"), {})]:
        outputs.extend(cli(*argv, **kwargs))
    assert outputs[0] == 0 and outputs[6] == 2 and outputs[9] == 2  # set ok; bad key; bad name
    outputs.append(caplog.text)
    for text in map(str, outputs):
        assert CANARY not in text and CANARY[8:-4] not in text
    for path in cli.home.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes()


ANTHROPIC = "sk-ant-api03-" + "t" * 30


def test_a_mistyped_provider_is_refused_with_the_closest_name(cli):
    code, _, err = cli("set", "antropic", stdin=ANTHROPIC)
    assert code == 2
    assert "unknown provider 'antropic': did you mean anthropic?" in err
    assert "[providers.antropic]" in err and "--custom" in err  # the two ways to mean it
    assert not (cli.home / VAULT_FILE).exists()  # refused before anything was created
    code, _, err = cli("set", "zzz", stdin="key")
    assert code == 2 and "unknown provider 'zzz'. Known: openai, anthropic" in err


def test_on_a_terminal_the_closest_name_is_asked_about(cli):
    code, out, _ = cli("set", "antropic", stdin="y\n", tty=True, answers=(ANTHROPIC,))
    assert code == 0
    assert "unknown provider 'antropic': did you mean anthropic? [y/N]" in out
    assert "stored the anthropic key" in out
    assert cli.prompts == ["anthropic API key (input hidden): "]
    code, _, err = cli("set", "antropic", stdin="n\n", tty=True)
    assert code == 2 and "did you mean anthropic?" in err


def test_custom_or_configured_provider_names_are_taken(cli, tmp_path):
    assert cli("set", "antropic", "--custom", stdin="k")[0] == 0
    (tmp_path / "behest.toml").write_text(
        '[providers.my-llm]\nbase_url = "http://127.0.0.1:11434/v1"\n')
    code, out, _ = cli("set", "my-llm", stdin="local-token")
    assert code == 0 and "stored the my-llm key" in out
    code, _, err = cli("set", "my-lm", stdin="k")
    assert code == 2 and "did you mean my-llm?" in err
    code, out, _ = cli("set", "gemini", stdin="AIza" + "k" * 35)  # an alias is known
    assert code == 0 and "stored the google key" in out

"""What the command line says to a newcomer: help for every option, serve's flags on the
top-level ``--help``, and the closest real flag, command or choice for a typo."""

from __future__ import annotations

import argparse

import pytest

from behest_local.cli.main import build_parser, main


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("behest-local",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_every_option_and_argument_of_every_command_has_help_text():
    missing = [f"{' '.join(path)} {action.option_strings or action.dest}"
               for path, parser in _commands(build_parser()) for action in parser._actions
               if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert missing == []


def test_the_top_level_help_lists_the_default_commands_flags(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    assert "options of serve, the default command (behest-local [serve] [OPTIONS])" in out
    serve = dict(_commands(build_parser()))[("behest-local", "serve")]
    for action in serve._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help"):
                assert flag in out and action.help in " ".join(out.split()), flag


def test_an_unknown_flag_suggests_the_closest_one_of_its_command(capsys):
    code, _, err = _run(capsys, "--prot", "8000")  # serve, the default command
    assert code == 2
    assert "behest-local serve: error: unrecognized arguments: --prot 8000 (did you mean " \
           "--port?)" in err
    code, _, err = _run(capsys, "keys", "create", "--projet=local", "--jsn")
    assert code == 2 and "usage: behest-local keys create" in err
    assert "(did you mean --project for --projet, --json for --jsn?)" in err
    code, _, err = _run(capsys, "keys", "list", "--zzzzzz")
    assert code == 2 and err.rstrip().endswith("unrecognized arguments: --zzzzzz")


def test_a_mistyped_command_or_choice_suggests_the_closest(capsys):
    code, _, err = _run(capsys, "serv")
    assert code == 2 and "invalid choice: 'serv'" in err and "did you mean 'serve'?" in err
    code, _, err = _run(capsys, "serve", "--loop", "uvlop")
    assert code == 2 and "did you mean 'uvloop'?" in err
    code, _, err = _run(capsys, "fake-upstream", "antropic")
    assert code == 2 and "did you mean 'anthropic'?" in err


def test_fake_upstream_help_lists_every_prompt_directive_it_declares(capsys):
    from behest_local.fakes.script import DIRECTIVE, DIRECTIVES

    code, out, _ = _run(capsys, "fake-upstream", "--help")
    assert code == 0 and "prompt directives:" in out
    for directive in DIRECTIVES:
        assert f"  {directive} " in out
        assert DIRECTIVE.fullmatch(directive.replace(" N", " 3").replace(" S", " 429")
                                   .replace(" MS", " 10"))  # as parsed
    assert "behest_local/fakes" not in out  # no pointer at a source file

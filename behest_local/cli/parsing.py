"""How the command line answers a mistake or ``--help``: the CLI's ``ArgumentParser``.

``Parser`` is argparse's parser (every command's, through ``parser_class``) with three
manners a newcomer expects of tools like ``gh`` or ``uv``:

* an unknown flag is answered with the closest real one of the command it was given to
  (``behest-local --prot 8000``: ``did you mean --port?``): ``parse`` collects what no
  parser recognised and ``unrecognized`` words the error for the deepest command chosen;
* a mistyped choice or command gets the same (``behest-local serv``: ``did you mean
  'serve'?``), from argparse's own "invalid choice" message;
* the top-level ``--help`` also lists the options of the default command (``serve``,
  which ``behest-local`` alone runs), set as ``Parser.default_command``.

Standard library only, like the parsers (cli/main.py says why).
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable

_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")
"""argparse's message for a value outside ``choices`` (a subcommand's name too)."""


class Parser(argparse.ArgumentParser):
    default_command: argparse.ArgumentParser | None = None
    """The subcommand that runs when none is named: its options are in this ``--help``."""

    def format_help(self) -> str:
        text = super().format_help()
        default = self.default_command
        if default is None:
            return text
        formatter = self._get_formatter()
        formatter.start_section(f"options of {default.prog.split()[-1]}, the default command "
                                f"({self.prog} [{default.prog.split()[-1]}] [OPTIONS])")
        formatter.add_arguments([a for a in default._actions
                                 if not isinstance(a, argparse._HelpAction)])
        formatter.end_section()
        return f"{text}\n{formatter.format_help()}"

    def error(self, message: str):
        match = _INVALID_CHOICE.search(message)
        if match:
            # Quoted as 'a', 'b' up to Python 3.13, bare from 3.14 on.
            choices = [c.strip().strip("'") for c in match.group(2).split(",")]
            close = difflib.get_close_matches(match.group(1), choices, n=1)
            if close:
                message = f"{message}; did you mean '{close[0]}'?"
        super().error(message)


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)``, but an unrecognised argument is reported by the command
    it was given to, with the closest of that command's flags (exits 2, as argparse)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        chosen = chosen_parser(parser, args)
        chosen.error(unrecognized(extras, _flags(chosen)))
    return args


def chosen_parser(parser: argparse.ArgumentParser,
                  args: argparse.Namespace) -> argparse.ArgumentParser:
    """The deepest subcommand's parser that ``args`` chose (``keys create``'s, say)."""
    while True:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                name = getattr(args, action.dest, None)
                if name in action.choices:
                    parser = action.choices[name]
                    break
        else:
            return parser


def unrecognized(extras: list[str], flags: Iterable[str]) -> str:
    """argparse's message for ``extras``, plus the closest known flag to each unknown one."""
    known = sorted(flags)
    hints = []
    for extra in extras:
        if extra.startswith("-") and len(extra) > 1:
            name = extra.split("=", 1)[0]
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            if close:
                hints.append((name, close[0]))
    message = f"unrecognized arguments: {' '.join(extras)}"
    if len(hints) == 1:
        return f"{message} (did you mean {hints[0][1]}?)"
    if hints:
        return f"{message} (did you mean " + ", ".join(f"{close} for {name}"
                                                       for name, close in hints) + "?)"
    return message


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [flag for action in parser._actions for flag in action.option_strings
            if flag.startswith("--")]

"""``--help`` text a command computes only when asked: ``lazy_epilog``.

The CLI builds every command's parser on each run, so what a parser holds must cost
nothing to build (cli/main.py). Some help is best derived from where its facts are
declared, in modules too heavy to import for every run: the fake upstreams' prompt
directives (``fakes/script.py``, which loads aiohttp), the probe's exit codes
(``probe/verdict.py``). ``lazy_epilog`` replaces a parser's ``-h/--help`` with one that
imports and formats that text first, so it is read from its source only when printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


class KeepLines(argparse.HelpFormatter):
    """argparse's formatter, except that a description or epilog holding line breaks is
    printed as written (a table), while one without them is wrapped as usual."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class _LazyHelp(argparse.Action):
    def __init__(self, option_strings, dest, epilog: Callable[[], str], **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self.epilog = epilog

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.epilog = self.epilog()
        parser.print_help()
        parser.exit()


def lazy_epilog(parser: argparse.ArgumentParser, epilog: Callable[[], str]) -> None:
    """Give ``parser`` (made with ``add_help=False`` and ``formatter_class=KeepLines``, so
    the epilog's lines stay as written) a ``-h/--help`` that prints ``epilog()`` after the
    options."""
    parser.add_argument("-h", "--help", action=_LazyHelp, epilog=epilog,
                        help="show this help message and exit")

"""``behest-local fake-upstream PROVIDER [--port N] [--key K]``: parsing and exit codes.

The serving is ``fakes/serve.py``'s (``serve_fake``). The parser lives here, outside the
``fakes`` package, because importing anything in that package loads every fake (and
aiohttp), and the main CLI builds this parser on every run: ``behest-local --help`` or
``keys list`` must not pay for them. ``NAMES`` repeats ``fakes.PROVIDERS``' keys for the
parser; a test keeps the two equal. The prompt directives that ``--help`` lists are read
from ``fakes/script.py``'s declaration, only when help is asked for (``lazy_help``).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from behest_local.cli.lazy_help import KeepLines, lazy_epilog

NAMES = ("anthropic", "cohere", "gemini", "mistral", "ollama", "openai", "openrouter")
"""``sorted(fakes.PROVIDERS)``, without importing the fakes."""


def add_fake_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``fake-upstream`` command to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "fake-upstream", help="serve a provider's native API offline, scripted by the prompt",
        description="Serve a fake OpenAI, Mistral, OpenRouter, Anthropic, Gemini, Cohere "
                    "or Ollama (a local OpenAI-compatible server) API on loopback. The last "
                    "user message steers it with the directives below, written anywhere in "
                    "it (case-insensitive; N is a whole number); without any, the reply "
                    "echoes the prompt.",
        add_help=False, formatter_class=KeepLines)
    lazy_epilog(parser, _directives)
    parser.add_argument("provider", choices=NAMES, metavar="PROVIDER",
                        help="one of: " + ", ".join(NAMES))
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--key", help="the only API key accepted (default: any non-empty key)")
    return parser


def _directives() -> str:
    """The prompt directives' table, from their declaration (imports the fakes)."""
    from behest_local.fakes.script import DIRECTIVES

    width = max(map(len, DIRECTIVES)) + 2
    lines = ["prompt directives:"]
    for directive, meaning in DIRECTIVES.items():
        wrapped = textwrap.wrap(meaning, 78 - width - 2)
        lines.append(f"  {directive:<{width}}{wrapped[0]}")
        lines += [f"  {'':<{width}}{more}" for more in wrapped[1:]]
    return "\n".join(lines) + "\n"


def run_fake(args: argparse.Namespace) -> int:
    """Run until interrupted; the exit code for ``cli.main``."""
    import asyncio

    from behest_local.fakes.serve import serve_fake

    try:
        asyncio.run(serve_fake(args.provider, port=args.port, key=args.key))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:  # the port is taken, say
        print(f"behest-local: error: cannot serve the fake {args.provider} upstream: {exc}",
              file=sys.stderr)
        return 2
    return 0

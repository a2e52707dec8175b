"""Which asyncio event loop the harness's own Python processes run on.

The fake upstream, the bare proxy and the load generator share the machine's two cores
with the target under test, so whatever CPU they burn is taken from it. They run on
uvloop when it is installed (it is a dependency of behest-local on Linux and macOS), which
is also the loop behest-local picks by default: the bare proxy, the ceiling behest-local
is compared with, then runs on the same loop, and the ratio measures behest-local's own
work rather than a difference of event loops. ``BENCH_LOOP=asyncio`` forces the standard
loop everywhere the harness starts (children inherit the variable, and behest-local is
started with ``--loop`` to match).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any

ENV = "BENCH_LOOP"


def name() -> str:
    """``"uvloop"`` or ``"asyncio"``: what ``run`` uses in this environment."""
    if os.environ.get(ENV, "auto") == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401  (only whether it imports)
    except ImportError:
        return "asyncio"
    return "uvloop"


def version() -> str:
    """The loop with its version, for the table's machine lines."""
    if name() == "uvloop":
        import uvloop

        return f"uvloop {uvloop.__version__}"
    return "asyncio default event loop"


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` on the chosen loop."""
    if name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)

"""Where behest-local keeps its state (keys; later the vault, traces, usage).

``--home DIR`` wins, then ``BEHEST_LOCAL_HOME``, then the platform's user data directory
(``~/.local/share/behest-local`` on Linux, per the XDG base-directory spec). The
directory is created 0700: it holds key hashes and, later, the encrypted vault.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "BEHEST_LOCAL_HOME"


def resolve_home(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        path = Path(explicit)
    elif os.environ.get(ENV):
        path = Path(os.environ[ENV])
    else:
        import platformdirs  # only here: --home and $BEHEST_LOCAL_HOME need none of it

        path = Path(platformdirs.user_data_dir("behest-local", appauthor=False))
    path = path.expanduser()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path

"""Where behest-local keeps its state: keys, the vault, deployed settings, databases.

``--home DIR`` wins, then ``BEHEST_LOCAL_HOME``, then the platform's user data directory
(``~/.local/share/behest-local`` on Linux, per the XDG base-directory spec). The
directory is created 0700: it holds key hashes and the encrypted vault.

The SQLite databases (traces, usage, threads) live one level down, in ``data/``
(``database_path``). The running gateway watches the state directory itself for the
key file, the vault and deployed settings; a database in it would wake those watchers
on every page it writes, hundreds of times a second under load, for nothing.
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


DATA_DIR = "data"


def database_file(home: str | os.PathLike, name: str) -> Path:
    """``<home>/data/<name>``, where database ``name`` lives (nothing is created)."""
    return Path(home) / DATA_DIR / name


def database_path(home: str | os.PathLike, name: str) -> Path:
    """``database_file``, its directory created 0700. A database left directly in
    ``home`` by an earlier version is moved there (with its WAL and journal files)."""
    path = database_file(home, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    legacy = Path(home) / name
    if legacy.exists() and not path.exists():
        for suffix in ("", "-wal", "-shm", "-journal"):
            old = legacy.with_name(name + suffix)
            if old.exists():
                os.replace(old, path.with_name(name + suffix))
    return path

"""Where behest-local keeps its state (keys, the vault, deployed settings, databases), and the
one way files and folders are made in it: private to the user.

``--home DIR`` wins, then ``BEHEST_LOCAL_HOME``, then the platform's user data directory
as platformdirs names it: ``~/.local/share/behest-local`` on Linux (``$XDG_DATA_HOME`` if
set, per the XDG base-directory spec), ``~/Library/Application Support/behest-local`` on
macOS, ``%LOCALAPPDATA%\behest-local`` on Windows (local, not roaming: the databases and
the vault's key file stay on this machine).
``resolve_home`` creates it and its ``data/`` folder, or raises ``StateDirError``: one line
saying which directory and why, which every command prints as its error.

**Private.** The state dir holds key hashes, the encrypted vault and its key file, and the
recorded prompts and replies (traces, usage, threads, fixtures, exports, the TUI's log).
Every folder in it is made 0700 (``private_dir``) and every file 0600: ``private_file`` for
files another library opens by name (SQLite, a log handler), ``open_private`` for files
written here, ``atomic.atomic_write`` (a 0600 temp file renamed into place) for the rest.
Modes are set explicitly rather than through the process umask, which would also apply to
files the user names (``init``'s ``behest.toml``). A state dir that was already open to
other users is left as it is, and ``exposure`` words the warning ``serve`` prints.
On Windows, POSIX modes mean nothing (``chmod`` only sets the read-only flag, ``stat``
reports 0o666 for every writable file): privacy comes from the profile folder's ACL, which
only its user (and administrators) may read, so nothing is tightened nor warned about there
(``POSIX_MODES``).

The SQLite databases (traces, usage, threads) live one level down, in ``data/``
(``database_path``). The running gateway watches the state directory itself for the
key file, the vault and deployed settings; a database in it would wake those watchers
on every page it writes, hundreds of times a second under load, for nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import IO

ENV = "BEHEST_LOCAL_HOME"
DATA_DIR = "data"
DIR_MODE, FILE_MODE = 0o700, 0o600
POSIX_MODES = os.name == "posix"
"""Whether file modes say who may read a file (not on Windows: see the module docstring)."""
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)  # Windows: descriptors are not inherited anyway


class StateDirError(OSError):
    """The state directory cannot be created or written; the message is the whole story."""


def locate_home(explicit: str | os.PathLike | None = None) -> Path:
    """Where the state dir is, without creating it (for a reader such as ``probe``)."""
    if explicit:
        path = Path(explicit)
    elif os.environ.get(ENV):
        path = Path(os.environ[ENV])
    else:
        import platformdirs  # only here: --home and $BEHEST_LOCAL_HOME need none of it

        path = Path(platformdirs.user_data_dir("behest-local", appauthor=False))
    return path.expanduser()


def resolve_home(explicit: str | os.PathLike | None = None) -> Path:
    """The state dir, created private with its ``data/`` folder. Raises ``StateDirError``."""
    path = locate_home(explicit)
    for folder in (path, path / DATA_DIR):
        try:
            private_dir(folder)
        except OSError as exc:
            raise StateDirError(f"cannot create the state directory {folder}: "
                                f"{_why(folder, exc)}{_CHOOSE}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StateDirError(f"the state directory {folder} is not writable by this "
                                f"user{_CHOOSE}")
    return path


_CHOOSE = f"; choose another with --home DIR (or ${ENV})"


def _why(folder: Path, exc: OSError) -> str:
    """``exc`` in words; for a file where a folder should be, which file."""
    with contextlib.suppress(OSError):  # a folder on the way we may not look into
        for path in (folder, *folder.parents):
            if path.exists() and not path.is_dir():
                return f"{path} is a file, not a directory"
    return exc.strerror or str(exc)


def exposure(home: str | os.PathLike) -> str | None:
    """A one-line warning when the state dir is open to other users, else None (also
    when it does not exist yet: it will be made private)."""
    if not POSIX_MODES:
        return None
    try:
        mode = stat.S_IMODE(os.stat(home).st_mode)
    except FileNotFoundError:
        return None
    if not mode & 0o077:
        return None
    return (f"the state directory {home} is open to other users (mode {mode:o}) and holds "
            f"your keys and recorded prompts: chmod 700 {home}")


def private_dir(path: str | os.PathLike) -> Path:
    """``path`` as a directory: made 0700 when missing (its missing parents, outside the
    state dir, as ordinary directories); an existing one is left as it is."""
    path = Path(path)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file is in the way",
                                     str(path)) from None
        return path
    os.chmod(path, DIR_MODE)  # mkdir's mode passes through the umask: make it exact
    return path


def private_file(path: str | os.PathLike) -> Path:
    """``path`` made 0600 (created empty when missing, its folder with ``private_dir``),
    for a file another library then opens by name. SQLite gives a database's ``-wal``,
    ``-shm`` and ``-journal`` files the database's own mode, so they are private too."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | _CLOEXEC, FILE_MODE)
    try:
        _tighten(fd)
    finally:
        os.close(fd)
    return path


def open_private(path: str | os.PathLike) -> IO[str]:
    """``path`` opened for writing UTF-8 text, truncated, mode 0600 (an existing file too)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _CLOEXEC, FILE_MODE)
    try:
        _tighten(fd)
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def _tighten(fd: int) -> None:
    """Exactly 0600: a new file's mode went through the umask, an old one may be looser.
    A file of another user's (only root could have put it there) is left as it is."""
    if POSIX_MODES and stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, FILE_MODE)


def database_file(home: str | os.PathLike, name: str) -> Path:
    """``<home>/data/<name>``, where database ``name`` lives (nothing is created)."""
    return Path(home) / DATA_DIR / name


def database_path(home: str | os.PathLike, name: str) -> Path:
    """``database_file``, its directory created private. A database left directly in
    ``home`` by an earlier version is moved there (with its WAL and journal files)."""
    path = database_file(home, name)
    private_dir(path.parent)
    legacy = Path(home) / name
    if legacy.exists() and not path.exists():
        for suffix in ("", "-wal", "-shm", "-journal"):
            old = legacy.with_name(name + suffix)
            if old.exists():
                os.replace(old, path.with_name(name + suffix))
    return path

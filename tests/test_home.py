"""``home.py``: the state dir's private folders and files, and the exposure warning."""

from __future__ import annotations

import os
import stat

import pytest

from behest_local.home import exposure, open_private, private_dir, private_file


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_private_dir_makes_missing_folders_0700_and_leaves_existing_ones(tmp_path):
    made = private_dir(tmp_path / "a" / "b")
    assert mode(made) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    private_dir(shared)
    assert mode(shared) == 0o755  # the user's choice; serve warns about a state dir like it
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        private_dir(tmp_path / "file")


def test_private_file_creates_0600_and_tightens_an_older_file_without_touching_it(tmp_path):
    new = private_file(tmp_path / "data" / "new.sqlite3")
    assert (mode(new), mode(new.parent), new.read_bytes()) == (0o600, 0o700, b"")
    old = tmp_path / "old.sqlite3"
    old.write_bytes(b"rows")
    os.chmod(old, 0o644)
    private_file(old)
    assert (mode(old), old.read_bytes()) == (0o600, b"rows")
    with pytest.raises(IsADirectoryError):
        private_file(tmp_path / "data")


def test_open_private_truncates_and_tightens(tmp_path):
    path = tmp_path / "export.har"
    path.write_text("an older, longer export")
    os.chmod(path, 0o664)
    with open_private(path) as out:
        out.write("{}")
    assert (mode(path), path.read_text()) == (0o600, "{}")


def test_exposure_words_a_state_dir_others_can_read(tmp_path):
    assert exposure(tmp_path / "missing") is None
    home = private_dir(tmp_path / "home")
    assert exposure(home) is None
    os.chmod(home, 0o750)
    assert exposure(home) == (f"the state directory {home} is open to other users (mode 750) "
                              f"and holds your keys and recorded prompts: chmod 700 {home}")

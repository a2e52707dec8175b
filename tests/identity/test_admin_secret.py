"""The admin secret: made once, stored as a hash, rotated on request, damage reported."""

from __future__ import annotations

import os
import stat

import pytest

from behest_local.identity.admin_secret import ADMIN_FILE, AdminSecret, AdminSecretError


def test_the_secret_is_shown_once_and_only_its_hash_is_stored(tmp_path):
    admin = AdminSecret(tmp_path)
    assert admin.state() == "absent" and not admin.verify("anything")
    secret = admin.create()
    value = secret.reveal()
    assert value.startswith("behest_admin_") and len(value) > 40
    assert repr(secret) == "Secret(****)" and value not in repr(admin)
    stored = (tmp_path / ADMIN_FILE).read_text()
    assert value not in stored and "sha256" in stored
    assert stat.S_IMODE(os.stat(tmp_path / ADMIN_FILE).st_mode) == 0o600
    assert admin.verify(value) and not admin.verify(value + "x")
    assert AdminSecret(tmp_path).verify(value)  # another process reads the same file


def test_an_existing_secret_is_replaced_only_by_rotate(tmp_path):
    admin = AdminSecret(tmp_path)
    first = admin.create().reveal()
    with pytest.raises(AdminSecretError, match="--rotate"):
        admin.create()
    second = admin.create(rotate=True).reveal()
    assert admin.verify(second) and not admin.verify(first)


def test_a_damaged_record_accepts_nothing_is_logged_and_is_kept(tmp_path, caplog):
    admin = AdminSecret(tmp_path)
    admin.create()
    (tmp_path / ADMIN_FILE).write_text('{"sha256": 42}')
    assert not admin.verify("behest_admin_x") and admin.state().startswith("damaged:")
    warnings = [r.getMessage() for r in caplog.records if ADMIN_FILE in r.getMessage()]
    assert len(warnings) == 1 and "--rotate" in warnings[0]  # said once, with the fix
    with pytest.raises(AdminSecretError, match="damaged"):
        admin.create()
    assert (tmp_path / ADMIN_FILE).read_text() == '{"sha256": 42}'

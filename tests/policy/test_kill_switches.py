"""Kill-switch state: the file's round trip, damage, and which routed requests a provider
kill refuses."""

from __future__ import annotations

import os
import stat

import pytest

from behest_local.errors import GatewayError
from behest_local.exchange.events import KillSwitchChanged
from behest_local.policy.kill_switches import KILL_FILE, KillStateError, KillSwitches
from behest_local.policy.routing import EMULATED, Target


def test_a_kill_written_by_one_instance_is_read_by_the_next(tmp_path):
    kills = KillSwitches(tmp_path)
    kills.apply(kills.write("projects", "local", True, reason="abuse", by="test"))
    assert kills.projects == {"local"}
    with pytest.raises(GatewayError) as refused:
        kills.check_project("local")
    assert refused.value.status == 403 and refused.value.code == "forbidden"
    assert "(reason: abuse)" in refused.value.message
    kills.check_project("other")  # not killed: no refusal
    assert KillSwitches(tmp_path).projects == {"local"}
    assert stat.S_IMODE(os.stat(tmp_path / KILL_FILE).st_mode) == 0o600


def test_each_change_is_published_once(tmp_path):
    events: list = []
    kills = KillSwitches(tmp_path, publish=events.append)
    kills.apply(kills.write("providers", "openai", True, by="test"))
    kills.refresh()  # the watcher re-reading the same state: no second event
    kills.apply(kills.write("providers", "openai", False, by="test"))
    assert [(e.kind, e.target, e.killed) for e in events
            if isinstance(e, KillSwitchChanged)] == [("provider", "openai", True),
                                                     ("provider", "openai", False)]


def test_a_damaged_file_stops_a_start_and_is_never_overwritten(tmp_path):
    (tmp_path / KILL_FILE).write_text('{"version": 1, "projects": ["local"]}')
    with pytest.raises(KillStateError, match="damaged"):
        KillSwitches(tmp_path)
    (tmp_path / KILL_FILE).write_text('{"version": 1}')
    kills = KillSwitches(tmp_path)  # started on a good file, then the file breaks
    (tmp_path / KILL_FILE).write_bytes(b"\xff\xfe")
    kills.refresh()
    assert kills.damaged and KILL_FILE in kills.damaged
    with pytest.raises(KillStateError):
        kills.write("projects", "local", True, by="test")
    assert (tmp_path / KILL_FILE).read_bytes() == b"\xff\xfe"


def test_a_provider_kill_refuses_its_models_served_or_stood_in_for(tmp_path):
    kills = KillSwitches(tmp_path)
    kills.apply(kills.write("providers", "openai", True, by="test"))
    for target in (Target("openai", "gpt-4o", "requested model; openai key", "openai"),
                   Target(EMULATED, "gpt-4o", "requested model; no openai key", "openai")):
        with pytest.raises(GatewayError, match="openai provider of tenant 'local'"):
            kills.check_provider(target, "local")
    kills.check_provider(Target("anthropic", "claude-sonnet-4-6", "", "anthropic"), "local")
    kills.apply(kills.write("providers", "google", True, by="test"))
    # The platform's default model is Behest's own, not the tenant's google provider.
    kills.check_provider(Target(EMULATED, "gemini-2.5-flash", "the platform's model",
                                "google"), "local")
    with pytest.raises(GatewayError):
        kills.check_provider(Target("google", "gemini-2.5-pro", "", "google"), "local")

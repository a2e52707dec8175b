"""Live configuration: the layers, reloading them, and a real gateway edited while it runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from behest_local.config import ConfigError, ProjectConfig, Settings
from behest_local.exchange.events import ConfigRejected, ConfigReloaded
from behest_local.config.reload import Flags, LiveConfig, changed_keys
from behest_local.runtime.build import ServeOptions
from behest_local.runtime.running import start

CONFIG = '''[server]
port = 0

[[projects]]
name = "local"
provider_model = "{model}"
'''


def write(path: Path, model: str = "gpt-4o") -> None:
    path.write_text(CONFIG.format(model=model), encoding="utf-8")


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "behest.toml"
    write(path)
    return path


def test_a_valid_edit_applies_and_names_what_changed(tmp_path, toml):
    seen, events = [], []
    live = LiveConfig(tmp_path / "home", path=toml, on_change=seen.append)
    live.subscribe(events.append)
    write(toml, "claude-sonnet-4-20250514")
    assert live.reload_file()
    assert live.settings.projects[0].provider_model == "claude-sonnet-4-20250514"
    assert seen == [live.settings]
    (event,) = events
    assert isinstance(event, ConfigReloaded) and event.source == str(toml)
    assert event.changed == ("projects.local.provider_model",) and event.restart_required == ()
    assert live.reload_file() and len(events) == 1  # nothing changed: nothing published


def test_an_invalid_edit_keeps_the_last_good_settings_and_says_where(tmp_path, toml, caplog):
    events = []
    live = LiveConfig(tmp_path / "home", path=toml)
    live.subscribe(events.append)
    good = live.settings
    toml.write_text("[server]\nprot = 1\n", encoding="utf-8")
    assert not live.reload_file()
    assert live.settings is good
    (event,) = events
    assert isinstance(event, ConfigRejected)
    assert f"{toml}:2: unknown key 'prot' in [server]" in event.error
    assert "did you mean 'port'?" in event.error
    assert "last good one stays in force" in caplog.text and "prot" in caplog.text
    write(toml, "gpt-4o-mini")
    assert live.reload_file() and live.settings.projects[0].provider_model == "gpt-4o-mini"


def test_restart_only_keys_and_command_line_flags(tmp_path, toml):
    events = []
    live = LiveConfig(tmp_path / "home", path=toml, flags=Flags(host="localhost"))
    live.subscribe(events.append)
    assert live.settings.server.host == "localhost"  # the flag wins over the default
    toml.write_text(CONFIG.format(model="gpt-4o").replace("port = 0", "port = 8123"))
    live.reload_file()
    assert events[-1].restart_required == ("server.port",)
    assert live.settings.server.host == "localhost"  # and keeps winning after a reload


def test_the_deployed_layer_wins_and_survives_a_restart(tmp_path, toml):
    home = tmp_path / "home"
    live = LiveConfig(home, path=toml)
    live.deployed.put_draft("local", {"provider_model": "gpt-4o-mini",
                                      "rate_limits": {"rpm": 5}})
    assert live.settings.projects[0].provider_model == "gpt-4o"  # a draft is not live
    live.deployed.deploy("local")
    assert live.refresh_deployed()
    project = live.settings.projects[0]
    assert (project.provider_model, project.rate_limits.rpm) == ("gpt-4o-mini", 5)
    assert live.labels[("projects", 0, "provider_model")].startswith("deployed via API")
    again = LiveConfig(home, path=toml)  # a new process reads the same state dir
    assert again.settings.projects[0].provider_model == "gpt-4o-mini"
    assert toml.read_text() == CONFIG.format(model="gpt-4o")  # behest.toml is never written


def test_a_pending_deploy_goes_live_at_its_time(tmp_path):
    now = [1000.0]
    live = LiveConfig(tmp_path, base=Settings())
    live.deployed.clock = lambda: now[0]
    live.deployed.put_draft("local", {"system_prompt": "Be brief."})
    entry = live.deployed.deploy("local", delay_s=30)
    assert entry["live_at"] == "1970-01-01T00:17:10.000Z"
    live.refresh_deployed()
    assert live.settings.projects[0].system_prompt is None
    now[0] += 30
    assert live.deployed.promote_due() is None
    live.refresh_deployed()
    assert live.settings.projects[0].system_prompt == "Be brief."


def test_a_damaged_deployed_file_stops_startup_with_the_fix(tmp_path):
    (tmp_path / "deployed.toml").write_text("not = [toml", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        LiveConfig(tmp_path, base=Settings())
    assert "deployed.toml" in str(info.value) and "behest-local config reset" in str(info.value)


def test_changed_keys_name_projects_by_id():
    a = Settings(projects=(ProjectConfig(name="x", id="x"),))
    b = Settings(projects=(ProjectConfig(name="x", id="x", system_prompt="hi"),
                           ProjectConfig(name="y", id="y")))
    changed = changed_keys(a, b)
    assert "projects.x.system_prompt" in changed and "projects.y.name" in changed


# -- a real gateway, a real file, real watchfiles ---------------------------------------------


class Watched:
    """A running gateway whose behest.toml the test edits; waits on config events."""

    def __init__(self, running, toml: Path) -> None:
        self.running, self.toml = running, toml
        self.gateway = running.gateway
        self.events: asyncio.Queue = asyncio.Queue()
        self.gateway.live.subscribe(self.events.put_nowait)
        key, _ = self.gateway.keys.create("local")
        self.headers = {"Authorization": f"Bearer {key}"}

    async def edit(self, text: str, kind: type) -> object:
        """Save ``text`` and wait for the event; re-save while the watcher is starting up."""
        while not self.events.empty():
            self.events.get_nowait()
        for _ in range(10):
            self.toml.write_text(text, encoding="utf-8")
            try:
                event = await asyncio.wait_for(self.events.get(), 1.0)
            except TimeoutError:
                continue
            assert isinstance(event, kind), event
            return event
        raise AssertionError("the edit was never applied")

    async def close(self) -> None:
        await asyncio.wait_for(self.running.close(), 5)  # stops the watchers start() began


@pytest.fixture
async def watched(tmp_path, toml):
    running = await start(ServeOptions(home=tmp_path / "home", config_path=toml))
    w = Watched(running, toml)
    yield w
    await w.close()


async def chat(session: aiohttp.ClientSession, w: Watched, **body) -> dict:
    async with session.post(w.running.url + "/v1/chat/completions", headers=w.headers,
                            json={"messages": [{"role": "user", "content": "Hi"}], **body}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_saving_behest_toml_changes_the_next_request(watched):
    async with aiohttp.ClientSession() as session:
        assert (await chat(session, watched, model="default"))["model"] == "gpt-4o"
        event = await watched.edit(CONFIG.format(model="claude-sonnet-4-20250514"), ConfigReloaded)
        assert event.changed == ("projects.local.provider_model",)
        assert (await chat(session, watched))["model"] == "claude-sonnet-4-20250514"
        # A broken edit: rejected with file:line, the last good settings keep serving.
        broken = await watched.edit('[[projects]]\nname = "local"\nprovider_model = 4\n',
                                    ConfigRejected)
        assert f"{watched.toml}:3: projects[0].provider_model: expected a string" in broken.error
        assert (await chat(session, watched))["model"] == "claude-sonnet-4-20250514"
        # Its repair applies as usual.
        await watched.edit(CONFIG.format(model="gpt-4o-mini"), ConfigReloaded)
        assert (await chat(session, watched))["model"] == "gpt-4o-mini"


async def test_a_stream_in_flight_keeps_the_settings_it_started_with(watched):
    """The stream stalls after its first events; the reload lands meanwhile; every chunk
    still carries the old model, the stream ends normally, and the next request is new."""
    url = watched.running.url + "/v1/chat/completions"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, headers={**watched.headers,
                                              "x-behest-emulate": "stall_ms=1500; stall_after=2"},
                                json={"stream": True, "messages": [
                                    {"role": "user", "content": "Tell me about rivers"}]}) as r:
            first = await r.content.readline()
            assert first.startswith(b"data: ")
            await watched.edit(CONFIG.format(model="claude-sonnet-4-20250514"), ConfigReloaded)
            exchange = watched.gateway.store.find(r.headers["X-Request-Id"])
            assert exchange.ended is None  # still streaming across the reload
            rest = (first + await r.read()).decode()
        events = [line[6:] for line in rest.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        assert {json.loads(e)["model"] for e in events[:-1]} == {"gpt-4o"}
        assert exchange.status == 200
        assert (await chat(session, watched))["model"] == "claude-sonnet-4-20250514"


def test_repairing_a_broken_edit_back_to_the_old_text_clears_the_error(tmp_path, toml, caplog):
    """The user undoes a bad edit: nothing changes, but the error in force must go away."""
    events = []
    live = LiveConfig(tmp_path / "home", path=toml)
    live.subscribe(events.append)
    toml.write_text("oops = [\n", encoding="utf-8")
    assert not live.reload_file() and live.rejected
    write(toml)
    with caplog.at_level("INFO"):
        assert live.reload_file()
    assert live.rejected is None
    assert [type(e) for e in events] == [ConfigRejected, ConfigReloaded]
    assert events[-1].changed == ()
    assert any("valid again" in r.getMessage() for r in caplog.records)

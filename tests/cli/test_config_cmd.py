"""``behest-local init``, ``config check|show|reset`` and ``dashboard-token``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

from behest_local.cli.main import main
from behest_local.config.template import TEMPLATE
from behest_local.identity.dashboard_token import DashboardTokens
from behest_local.config.deployed import DeployedStore

CONFIGS = Path(__file__).parents[1] / "config" / "configs"


def test_init_writes_the_template_and_never_overwrites_silently(tmp_path, capsys):
    assert main(["init"]) == 0  # the autouse fixture chdirs into tmp_path
    assert (tmp_path / "behest.toml").read_text() == TEMPLATE
    assert "edit the file while it runs" in capsys.readouterr().out
    (tmp_path / "behest.toml").write_text("# mine\n")
    assert main(["init"]) == 2
    assert "exists: not overwritten (use --force" in capsys.readouterr().err
    assert (tmp_path / "behest.toml").read_text() == "# mine\n"
    assert main(["init", "--force"]) == 0 and (tmp_path / "behest.toml").read_text() == TEMPLATE
    (tmp_path / "sub").mkdir()
    assert main(["init", "sub"]) == 0 and (tmp_path / "sub" / "behest.toml").is_file()


def test_config_check_exits_1_listing_every_problem(capsys):
    assert main(["config", "check", str(CONFIGS / "good.toml")]) == 0
    assert "ok. tenant acme on the business plan" in capsys.readouterr().out
    assert main(["config", "check", str(CONFIGS / "bad_types.toml")]) == 1
    err = capsys.readouterr().err
    assert err.count("bad_types.toml:") == 5 and "4 problems" in err
    assert "did you mean 'pro'?" in err and "remove the quotes" in err
    assert main(["config", "check"]) == 2  # no ./behest.toml
    assert "behest-local init" in capsys.readouterr().err


def test_config_show_names_each_values_layer(tmp_path, capsys):
    (tmp_path / "behest.toml").write_text('[server]\nport = 8000\n\n[[projects]]\nname = "local"\n'
                                          'provider_model = "claude-sonnet-4-20250514"\n')
    store = DeployedStore(tmp_path / "home")
    store.put_draft("local", {"provider_model": "gpt-4o"})
    store.deploy("local")
    assert main(["config", "show", "--json", "--port", "9000"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["server.port"] == {"key": "server.port", "value": 9000, "layer": "CLI flag",
                                   "behest_toml": 8000}
    assert rows["server.host"]["layer"] == "default"
    assert rows["projects.local.name"]["layer"] == "behest.toml:5"
    model = rows["projects.local.provider_model"]
    assert model["value"] == "gpt-4o" and model["layer"].startswith("deployed via API")
    assert model["behest_toml"] == "claude-sonnet-4-20250514"
    assert rows["projects.local.slug"]["layer"] == "derived from the id"
    assert main(["config", "show"]) == 0
    text = capsys.readouterr().out
    assert 'provider_model = "gpt-4o"' in text and 'behest.toml says "claude-sonnet' in text
    assert main(["config", "reset"]) == 0
    assert "dropped the settings deployed via the API" in capsys.readouterr().out
    assert main(["config", "show", "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["projects.local.provider_model"]["value"] == "claude-sonnet-4-20250514"


def test_dashboard_token_prints_a_new_token_and_stores_only_its_hash(tmp_path, capsys):
    assert main(["dashboard-token"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("behest_dash_") and "DASHBOARD_JWT" in out.err
    home = tmp_path / "home"
    assert token not in (home / "dashboard.json").read_text()
    assert oct((home / "dashboard.json").stat().st_mode & 0o777) == "0o600"
    assert DashboardTokens(home).verify(token)
    assert main(["dashboard-token", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["tenant_id"] == "local"
    assert not DashboardTokens(home).verify(token) and DashboardTokens(home).verify(second["token"])

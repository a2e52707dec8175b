"""behest.toml: the schema, its error messages, the example file, and TOML round trips."""

from __future__ import annotations

import re
import string
from dataclasses import fields
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from behest_local.printable import shows_as_is
from behest_local import config
from behest_local.config import (BudgetConfig, ConfigError, EmulatorConfig, ModelPrice,
                                 ProjectConfig, ProviderConfig, RateLimitConfig, ScriptedReply,
                                 ServerConfig, Settings, TenantConfig, TierLimits, TierOverrides,
                                 ToolCallReply)
from behest_local.config.locate import index_lines, line_of
from behest_local.config.render import to_toml
from behest_local.config.slugs import SLUG_RE, slug_for, unique_slug
from behest_local.config.template import TEMPLATE

CONFIGS = Path(__file__).parent / "configs"
EXAMPLE = Path(__file__).parents[2] / "behest.toml.example"


def test_good_config_reads_every_table():
    s = config.load(CONFIGS / "good.toml")
    assert s.source.endswith("good.toml")
    assert s.tenant == TenantConfig(id="acme", plan="business")
    assert s.server == ServerConfig(host="127.0.0.1", port=8123, max_body_bytes=1048576)
    assert s.emulator == EmulatorConfig(first_token_ms=5.0, tokens_per_second=200.5,
                                        deploy_delay_s=2.0, emulate_unconfigured=False)
    assert s.providers["openai"].base_url == "https://proxy.example.com/v1"
    assert s.providers["ollama"].prefixes == ("llama", "qwen")
    assert not s.requires_key("ollama") and s.requires_key("openai")
    support, llm = s.projects
    assert (support.id, support.slug, support.provider_model) == \
        ("support", "amber-fox-042", "gpt-4o")
    assert support.system_prompt == "You are terse.\nAnswer in one line."
    assert support.cors_origins == ("https://your-app.com", "http://localhost:5173")
    assert support.rate_limits == RateLimitConfig(rpm=100, user_rpm=5)
    assert support.tiers.free == TierLimits(rpm=3) and support.tiers.pro == TierLimits()
    assert support.budgets == BudgetConfig(user_tokens_per_month=500000)
    refund, weather, overload = support.scripted
    assert refund.reply == "Refunds take 5 business days."
    assert weather.tool_call.name == "get_weather"
    assert dict(weather.tool_call.arguments) == {"city": "Paris", "days": 2}
    assert overload.emulate == "status=429; retry_after=2"
    assert (llm.id, llm.status) == ("local-llm", "suspended")  # the id defaults to the name
    assert SLUG_RE.fullmatch(llm.slug) and llm.slug == slug_for("local-llm")


def test_minimal_config_keeps_every_default():
    s = config.load(CONFIGS / "minimal.toml")
    assert s == Settings(projects=(ProjectConfig(name="only", id="only"),))


# (fixture, [(line, fragments of the message, fragment of the hint or None), ...])
BAD = [
    ("bad_unknown_key.toml", [(3, ["unknown key 'prot' in [server]",
                                   "expected one of host, port, max_body_bytes"],
                               "did you mean 'port'?")]),
    ("bad_not_toml.toml", [(3, ["not valid TOML"], "strings need quotes")]),
    ("bad_types.toml", [
        (2, ["tenant.plan: expected one of 'free', 'pro', 'business', 'enterprise'",
             "got the string 'prp'"], "did you mean 'pro'?"),
        (5, ["server.port: expected an integer from 0 to 65535", "got the string '7717'"],
         "remove the quotes"),
        (8, ["emulator.emulate_unconfigured: expected true or false"], None),
        (9, ["emulator.tokens_per_second: expected a number ≥ 0", "got the number -1"], None)]),
    ("bad_projects.toml", [
        (3, ["projects[0].slug: 'Not A Slug' is not valid", "'amber-fox-042'"], None),
        (7, ["projects[1].cors_origins[0]", "ends with '/'"], "use 'https://your-app.com'"),
        (10, ["projects[1].scripted[0].match: not a valid regular expression"], "Python `re`")]),
    ("bad_project_rules.toml", [
        (7, ["projects[1].scripted[0]: expected reply, tool_call or emulate"], "reply = "),
        (13, ["reply and tool_call exclude each other"], "keep one"),
        (15, ["projects[2]: id 'a' is already used by projects[0]"], "its own id"),
        (17, ["projects[2].provider_model: no provider serves 'llama3'"], "custom provider")]),
    ("bad_provider.toml", [
        (1, ["[providers.ollama]: a custom provider needs base_url"], "11434"),
        (4, ["[providers.gemini]: the provider is called 'google'"], "[providers.google]")]),
    ("bad_scripted.toml", [
        (6, ["projects[0].scripted[0].emulate: unknown directive 'sttaus'"], None)]),
    ("bad_free_plan.toml", [(2, ["tenant.plan 'free' allows 3 active projects, found 4"],
                             'status = "suspended"')]),
    ("bad_missing_name.toml", [(1, ["[projects[0]] needs 'name' (a string)"], None)]),
    ("bad_tenant_id.toml", [(1, ["'tenant_id' has moved"], '[tenant] id = "..."')]),
    ("bad_guardrails.toml", [
        (6, ["unknown key 'EMAIL' in [projects[0].guardrails.pii.entities]",
             "EMAIL_ADDRESS"], None),
        (10, ["projects[0].guardrails.content.patterns[0]: a repeated group"],
         "may not repeat again"),
        (13, ["projects[0].guardrails.injection.mode: expected one of 'disabled', 'shadow'"],
         None)]),
]


@pytest.mark.parametrize("name, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_configs_name_file_line_key_and_fix(name, expected):
    path = CONFIGS / name
    with pytest.raises(ConfigError) as info:
        config.load(path)
    error = info.value
    assert len(error.problems) == len(expected), str(error)
    for problem, (line, fragments, hint) in zip(error.problems, expected):
        assert problem.line == line, str(error)
        for fragment in fragments:
            assert fragment in problem.message, str(error)
        assert (hint is None and problem.hint is None) or hint in (problem.hint or ""), str(error)
    text = str(error)
    assert text.startswith(f"{path}:{expected[0][0]}: ")  # file:line: message
    if expected[0][2]:
        assert "\n  hint: " in text


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(tmp_path / "absent.toml")
    (tmp_path / "latin1.toml").write_bytes(b'[tenant]\nid = "\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.load(tmp_path / "latin1.toml")


def test_provider_model_default_and_empty_mean_unset():
    s = config.loads('[[projects]]\nname = "p"\nprovider_model = "default"\n'
                     '[[projects]]\nname = "q"\nprovider_model = ""\n')
    assert [p.provider_model for p in s.projects] == [None, None]


def test_example_file_is_the_init_template_and_loads_to_the_defaults():
    assert EXAMPLE.read_text(encoding="utf-8") == TEMPLATE
    assert config.loads(TEMPLATE, "behest.toml.example") == Settings()


def _schema_keys(cls: type, out: set[str]) -> set[str]:
    for f in fields(cls):
        if f.name != "source":
            out.add(f.name)
    return out


def test_the_template_documents_every_key():
    schema: set[str] = set()
    for cls in (Settings, TenantConfig, ServerConfig, EmulatorConfig, ProviderConfig,
                ProjectConfig, RateLimitConfig, TierOverrides, TierLimits, BudgetConfig,
                ScriptedReply, ToolCallReply, ModelPrice):
        _schema_keys(cls, schema)
    missing = {key for key in schema
               if not re.search(rf"(\b{key} = |[.\[]{key}[.\]])", TEMPLATE)}
    assert missing == set()


def test_the_templates_commented_examples_are_valid_config():
    """Uncommenting every example line of the template still gives a valid file."""
    lines = []
    for line in TEMPLATE.splitlines():
        match = re.match(r"# ((\[{1,2}[a-z_.]+\]{1,2}(\s+#.*)?)|[a-z_]+ = .*)$", line)
        lines.append(match.group(1) if match else line)
    s = config.loads("\n".join(lines))
    project = s.projects[0]
    assert project.provider_model == "gpt-4o" and len(project.scripted) == 3
    assert s.providers["ollama"].requires_key is False


def test_slugs_are_behests_form_deterministic_and_unique():
    assert slug_for("local") == slug_for("local") != slug_for("other")
    assert all(SLUG_RE.fullmatch(slug_for(f"p{i}")) for i in range(200))
    taken = {slug_for("x")}
    assert unique_slug("x", taken) != slug_for("x") and SLUG_RE.fullmatch(unique_slug("x", taken))
    assert ProjectConfig(name="n", id="x").slug == slug_for("x")


def test_line_index_follows_arrays_of_tables_and_multiline_values():
    text = ('a = 1\n[t]\nb = """x\nc = 2\n"""\nd = [\n 1,\n]\n'
            '[[p]]\nname = "one"\n[[p]]\nname = "two" # c\n[p.sub]\ne = 1\n'
            '[[p.rules]]\nm = "x"\n[[p.rules]]\nm = "y"\nx.y = 3\n')
    index = index_lines(text)
    assert index[("a",)] == 1 and index[("t", "b")] == 3 and ("t", "c") not in index
    assert index[("t", "d")] == 6
    assert index[("p", 0, "name")] == 10 and index[("p", 1, "name")] == 12
    assert index[("p", 1, "sub", "e")] == 14
    assert index[("p", 1, "rules", 1, "m")] == 18 and index[("p", 1, "rules", 1, "x", "y")] == 19
    assert line_of(index, ("p", 1, "sub", "unknown")) == 13


# -- hypothesis: generated settings survive TOML and back; extra keys are always named ------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_ident = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
_count = st.integers(1, 10**9)
_tool = st.builds(ToolCallReply, name=_ident, arguments=st.dictionaries(
    _ident, st.one_of(st.integers(-1000, 1000), _text, st.booleans()), max_size=3))
_rule = st.one_of(
    st.builds(ScriptedReply, match=st.sampled_from(["hi", "(?i)refund", "^a.*b$"]), reply=_text,
              emulate=st.sampled_from([None, "tokens_per_second=50", "drop_after=3"])),
    st.builds(ScriptedReply, match=st.just("weather"), tool_call=_tool),
    st.builds(ScriptedReply, match=st.just("boom"), emulate=st.just("status=503")))
_project = st.builds(
    ProjectConfig, name=_text.filter(lambda n: n.strip() and shows_as_is(n)), id=_ident,
    status=st.sampled_from(["active", "suspended"]),
    provider_model=st.sampled_from([None, "gpt-4o", "claude-sonnet-4-20250514",
                                    "gemini-2.5-pro", "meta-llama/llama-3-70b", "llama3.1"]),
    system_prompt=st.one_of(st.none(), _text),
    cors_origins=st.lists(st.sampled_from(["https://a.com", "http://localhost:5173", "*",
                                           "https://*.vercel.app"]), unique=True,
                          max_size=3).map(tuple),
    rate_limits=st.builds(RateLimitConfig, rpm=_count, user_rpm=st.one_of(st.none(), _count)),
    tiers=st.builds(TierOverrides, free=st.builds(TierLimits, rpm=st.one_of(st.none(), _count))),
    budgets=st.builds(BudgetConfig, user_tokens_per_day=st.integers(0, 10**9)),
    scripted=st.lists(_rule, max_size=3).map(tuple))
_settings = st.builds(
    Settings,
    tenant=st.builds(TenantConfig, id=_ident,
                     plan=st.sampled_from(["pro", "business", "enterprise"])),
    server=st.builds(ServerConfig, port=st.integers(0, 65535),
                     max_body_bytes=st.integers(1024, 10**9)),
    emulator=st.builds(EmulatorConfig, first_token_ms=st.floats(0, 600_000),
                       tokens_per_second=st.floats(0, 1e6), deploy_delay_s=st.floats(0, 3600),
                       emulate_unconfigured=st.booleans()),
    providers=st.fixed_dictionaries({  # "llama3.1" projects need the custom provider
        "ollama": st.builds(ProviderConfig, base_url=st.just("http://127.0.0.1:11434/v1"),
                            prefixes=st.just(("llama",)), requires_key=st.booleans())},
        optional={"openai": st.builds(ProviderConfig, timeout_s=st.floats(0.1, 3600))}),
    projects=st.lists(_project, min_size=1, max_size=3, unique_by=lambda p: p.id).map(tuple))


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_settings)
def test_settings_round_trip_through_tomli_w(s):
    text = tomli_w.dumps(to_toml(s))
    assert config.loads(text) == s


def _tables(data: dict, path: tuple = ()):
    yield path, data
    for key, value in data.items():
        if isinstance(value, dict) and key != "arguments":
            yield from _tables(value, path + (key,))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for i, item in enumerate(value):
                yield from _tables(item, path + (key, i))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_settings, st.data(), st.text(string.ascii_lowercase + "_", min_size=1, max_size=12))
def test_an_unknown_key_anywhere_is_rejected_by_name(s, data, key):
    doc = to_toml(s)
    tables = [t for t in _tables(doc) if not (t[0] and t[0][0] in ("providers", "prices") and len(t[0]) == 1)]
    path, table = data.draw(st.sampled_from(tables))
    if key in table or (path == () and key in ("tenant_id",)):
        return
    table[key] = 1
    with pytest.raises(ConfigError) as info:
        config.loads(tomli_w.dumps(doc), "behest.toml")
    assert f"unknown key {key!r}" in str(info.value)


def test_toml_that_ends_mid_value_names_the_last_line(tmp_path):
    path = tmp_path / "behest.toml"
    path.write_text("[server]\nport = 0\noops = [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert f"{path}:3: not valid TOML" in str(info.value)
    assert "end of the file" in str(info.value)

"""Configuration: presets, immutability, file and environment overrides."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from runtime.agents import AgentCatalog, load_class
from runtime.approval import NO_PRESET
from runtime.config.file import load_file
from runtime.config.presets import PRESETS, OrchestratorConfig, resolve_all, resolve_config
from runtime.config.settings import Settings
from runtime.errors import BadRequest, ConfigError
from runtime.models.scripted import ScriptedModel
from runtime.testing import RECORDS_AGENTS, ClerkOrchestrator
from runtime.tiers import RecursionBudget

NO_ENV: dict[str, str] = {}


@pytest.mark.parametrize(
    ("agent", "history", "window_ms", "timeout_ms"),
    [
        ("onboarding", 30, 300_000, 10_000),
        ("chatbot", 10, 30_000, 5_000),
        ("admin", 20, 120_000, 5_000),
    ],
)
def test_presets(agent: str, history: int, window_ms: int, timeout_ms: int) -> None:
    cfg = resolve_config(agent, env=NO_ENV)
    assert cfg == PRESETS[agent]
    assert cfg.max_history_messages == history
    assert cfg.soft_confirm_window_ms == window_ms
    assert cfg.executor_timeout_ms == timeout_ms
    assert cfg.recursion_budget == RecursionBudget(T1=10, T2=3, T3=1)
    assert cfg.breaker_threshold == 3
    assert cfg.breaker_reset_ms == 60_000


def test_resolve_all_covers_every_agent() -> None:
    configs = resolve_all(env=NO_ENV)
    assert tuple(configs) == tuple(PRESETS) == ("onboarding", "chatbot", "admin")
    assert configs["chatbot"].soft_confirm_window_ms == 30_000


def test_config_is_frozen() -> None:
    cfg = resolve_config("chatbot", env=NO_ENV)
    with pytest.raises(pydantic.ValidationError):
        cfg.max_history_messages = 99  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        cfg.recursion_budget.T1 = 99  # type: ignore[misc]
    assert PRESETS["chatbot"].max_history_messages == 10


def test_toml_file_override(tmp_path: Path) -> None:
    path = tmp_path / "orchestra.toml"
    path.write_text(
        "[agents.all]\nbreaker_threshold = 5\n\n"
        "[agents.chatbot]\nsoft_confirm_window_ms = 5000\n\n"
        "[agents.chatbot.recursion_budget]\nT2 = 1\n"
    )
    data = load_file(path)
    chatbot = resolve_config("chatbot", data, env=NO_ENV)
    admin = resolve_config("admin", data, env=NO_ENV)
    assert chatbot.soft_confirm_window_ms == 5000
    assert chatbot.recursion_budget == RecursionBudget(T1=10, T2=1, T3=1)  # merged, not replaced
    assert chatbot.breaker_threshold == admin.breaker_threshold == 5
    assert admin.soft_confirm_window_ms == 120_000  # the chatbot table does not leak


def test_yaml_file_override(tmp_path: Path) -> None:
    path = tmp_path / "orchestra.yaml"
    path.write_text(
        "agents:\n"
        "  onboarding:\n"
        "    max_history_messages: 12\n"
        "    executor_timeout_ms: 2500\n"
        "    recursion_budget: {T1: 4}\n"
    )
    cfg = resolve_config("onboarding", load_file(path), env=NO_ENV)
    assert cfg.max_history_messages == 12
    assert cfg.executor_timeout_ms == 2500
    assert cfg.recursion_budget == RecursionBudget(T1=4, T2=3, T3=1)
    assert cfg.soft_confirm_window_ms == 300_000


def test_env_overrides_file_and_agent_scope_beats_all(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("agents:\n  chatbot:\n    soft_confirm_window_ms: 7000\n")
    env = {
        "ORCHESTRA_CHATBOT__SOFT_CONFIRM_WINDOW_MS": "9000",
        "ORCHESTRA_ALL__EXECUTOR_TIMEOUT_MS": "1111",
        "ORCHESTRA_CHATBOT__EXECUTOR_TIMEOUT_MS": "2222",
        "ORCHESTRA_ADMIN__MAX_HISTORY_MESSAGES": "3",
        "UNRELATED": "x",
    }
    cfg = resolve_config("chatbot", load_file(path), env=env)
    assert cfg.soft_confirm_window_ms == 9000
    assert cfg.executor_timeout_ms == 2222
    assert cfg.max_history_messages == 10
    assert resolve_config("onboarding", env=env).executor_timeout_ms == 1111


def test_env_recursion_budget() -> None:
    env = {
        "ORCHESTRA_ADMIN__RECURSION_BUDGET__T1": "2",
        "ORCHESTRA_ALL__RECURSION_BUDGET__T3": "0",
    }
    admin = resolve_config("admin", env=env)
    assert admin.recursion_budget == RecursionBudget(T1=2, T2=3, T3=0)
    assert resolve_config("chatbot", env=env).recursion_budget == RecursionBudget(T1=10, T2=3, T3=0)


def test_env_from_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRA_CHATBOT__MAX_HISTORY_MESSAGES", "7")
    assert resolve_config("chatbot").max_history_messages == 7


@pytest.mark.parametrize(
    "env",
    [
        {"ORCHESTRA_CHATBOT__MAX_HISTORY_MESSAGES": "many"},
        {"ORCHESTRA_CHATBOT__MAX_HISTORY_MESSAGES": "1"},
        {"ORCHESTRA_CHATBOT__EXECUTOR_TIMEOUT_MS": "0"},
        {"ORCHESTRA_CHATBOT__TEMPERATURE": "1.5"},
        {"ORCHESTRA_CHATBOT__SOFT_CONFIRM_WINDOW_MS": "-5"},
        {"ORCHESTRA_CHATBOT__RECURSION_BUDGET__T1": "-1"},
        {"ORCHESTRA_CHATBOT__RECURSION_BUDGET__T9": "4"},
        {"ORCHESTRA_ALL__NO_SUCH_FIELD": "1"},
    ],
    ids=lambda e: next(iter(e)),
)
def test_invalid_env_values_raise_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="invalid config for agent chatbot"):
        resolve_config("chatbot", env=env)


def test_invalid_file_values_raise_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[agents.admin]\nbreaker_threshold = "lots"\n')
    with pytest.raises(ConfigError):
        resolve_config("admin", load_file(path), env=NO_ENV)
    typo = tmp_path / "typo.yaml"
    typo.write_text("agents:\n  admin:\n    recursion_budget: {t1: 5}\n")
    with pytest.raises(ConfigError):  # a lower-case tier is a typo, not silently ignored
        resolve_config("admin", load_file(typo), env=NO_ENV)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.toml", "[agents\nx = 1"),
        ("broken.yaml", "agents: [unclosed"),
        ("list.yaml", "- 1\n- 2\n"),
        ("binary.toml", b"\xff\xfe\x00"),
    ],
)
def test_unreadable_config_files(tmp_path: Path, name: str, content: str | bytes) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError):
        load_file(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_file(tmp_path / "absent.toml")


def test_empty_yaml_is_an_empty_mapping(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_file(path) == {}
    assert resolve_config("admin", load_file(path), env=NO_ENV) == PRESETS["admin"]


def test_unknown_agent_and_preset() -> None:
    # the default preset's fields, but the approval defaults of an agent with no preset
    assert resolve_config("support", env=NO_ENV) == PRESETS["admin"].model_copy(
        update={"approval": NO_PRESET}
    )
    assert resolve_config("support", env=NO_ENV, base="chatbot") == PRESETS["chatbot"]
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        resolve_config("support", env=NO_ENV, base="nope")
    with pytest.raises(BadRequest, match="unknown agent"):
        AgentCatalog(ScriptedModel(), extra=RECORDS_AGENTS).get("support")


def test_catalog_uses_given_config_and_presets() -> None:
    custom = OrchestratorConfig(max_history_messages=4)
    catalog = AgentCatalog(ScriptedModel(), configs={"clerk": custom}, extra=RECORDS_AGENTS)
    assert catalog.get("clerk").config is custom
    assert catalog.get("clerk") is catalog.get("clerk")
    assert catalog.get("lab").config.max_history_messages == 20  # the default preset's
    assert catalog.names() == ["lab", "clerk"]


@pytest.mark.parametrize(
    "path",
    [
        "runtime.nowhere:Agent",
        "runtime.agents:NoSuchClass",
        "runtime.config.presets:OrchestratorConfig",
    ],
)
def test_load_class_errors(path: str) -> None:
    with pytest.raises(ConfigError):
        load_class(path)


def test_load_class_ok() -> None:
    assert load_class("runtime.testing.records:ClerkOrchestrator") is ClerkOrchestrator


def test_service_settings_from_file_env_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ORCHESTRA_RATE_LIMIT_PER_S", "ORCHESTRA_MODEL_TTFT_MS", "ORCHESTRA_MODEL"):
        monkeypatch.delenv(var, raising=False)
    file = {
        "gateway": {"rate_limit_per_s": 5, "rate_limit_burst": 9},
        "model": {"kind": "scripted", "ttft_ms": 300, "tokens_per_s": 40, "latency_sigma": 0.5},
    }
    s = Settings.from_env(config_data=file)
    assert (s.rate_limit_per_s, s.rate_limit_burst) == (5, 9)
    assert (s.model_ttft_ms, s.model_tokens_per_s, s.model_latency_sigma) == (300, 40, 0.5)
    monkeypatch.setenv("ORCHESTRA_RATE_LIMIT_PER_S", "7")
    monkeypatch.setenv("ORCHESTRA_MODEL_TTFT_MS", "120")
    s = Settings.from_env(config_data=file)
    assert (s.rate_limit_per_s, s.model_ttft_ms) == (7, 120)  # the environment wins
    assert Settings.from_env(config_data=file, rate_limit_per_s=9).rate_limit_per_s == 9
    assert Settings.from_env(config_data=file, rate_limit_per_s=None).rate_limit_per_s == 7


def test_the_unknown_key_limit_from_file_env_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ORCHESTRA_UNKNOWN_KEY_RATE_PER_S", "ORCHESTRA_UNKNOWN_KEY_BURST"):
        monkeypatch.delenv(var, raising=False)
    assert (Settings().unknown_key_rate_per_s, Settings().unknown_key_burst) == (10, 20)
    file = {"gateway": {"unknown_key_rate_per_s": 2, "unknown_key_burst": 3}}
    s = Settings.from_env(config_data=file)
    assert (s.unknown_key_rate_per_s, s.unknown_key_burst) == (2, 3)
    with pytest.raises(ConfigError, match=r"\[gateway\] unknown_key_burst"):
        Settings.from_env(config_data={"gateway": {"unknown_key_burst": 0}})
    monkeypatch.setenv("ORCHESTRA_UNKNOWN_KEY_RATE_PER_S", "4.5")
    monkeypatch.setenv("ORCHESTRA_UNKNOWN_KEY_BURST", "6")
    s = Settings.from_env(config_data=file)
    assert (s.unknown_key_rate_per_s, s.unknown_key_burst) == (4.5, 6)  # the environment wins
    s = Settings.from_env(config_data=file, unknown_key_rate_per_s=7, unknown_key_burst=None)
    assert (s.unknown_key_rate_per_s, s.unknown_key_burst) == (7, 6)  # then a given flag


def test_a_bad_service_setting_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"\[gateway\] rate_limit_per_s"):
        Settings.from_env(config_data={"gateway": {"rate_limit_per_s": -1}})
    with pytest.raises(ConfigError, match=r"\[model\] kind"):
        Settings.from_env(config_data={"model": {"kind": "gpt"}})


def test_approval_policy_defaults_and_overrides() -> None:
    """API.md's defaults, a tier override from the file, and a tool's own policy."""
    assert PRESETS["chatbot"].approval.T3.approvers == ("subject", "staff", "owner")
    assert PRESETS["onboarding"].approval.T2.approvers == ("subject", "owner")
    assert PRESETS["admin"].approval.T2.approvers == ("staff", "owner")
    assert PRESETS["admin"].approval.T3.approvers == ("staff", "owner")
    no_preset = resolve_config("support", env=NO_ENV).approval
    assert no_preset.T2.approvers == ("subject", "staff", "owner")
    assert no_preset.T3.approvers == ("staff", "owner")
    declared = resolve_config("support", env=NO_ENV, base="chatbot").approval
    assert declared == PRESETS["chatbot"].approval
    data = {"agents": {"admin": {"approval": {"T3": {"quorum": 2, "self_approval": False}}}}}
    t3 = resolve_config("admin", data, env=NO_ENV).approval.T3
    assert (t3.approvers, t3.quorum, t3.self_approval) == (("staff", "owner"), 2, False)
    with pytest.raises(ConfigError):
        resolve_config(
            "admin", {"agents": {"admin": {"approval": {"T3": {"quorum": 0}}}}}, env=NO_ENV
        )
    with pytest.raises(ConfigError):
        bad = {"agents": {"admin": {"approval": {"T3": {"approvers": ["boss"]}}}}}
        resolve_config("admin", bad, env=NO_ENV)

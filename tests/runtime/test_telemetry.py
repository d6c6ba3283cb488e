"""When tracing is on, and what a span or the turn inspector may show (redaction)."""

from __future__ import annotations

import pytest

from runtime import telemetry
from runtime.config.file import parse_config
from runtime.config.settings import Settings
from runtime.errors import ConfigError
from runtime.redact import REDACTED, redact, shown


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, False),
        ({"OTEL_SERVICE_NAME": "x"}, None),
    ],
)
def test_the_standard_variables_turn_tracing_on_or_off(
    env: dict[str, str], expected: bool | None
) -> None:
    assert telemetry.env_enabled(env) is expected


def test_settings_follow_the_file_then_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(telemetry.otel_variables()):
        monkeypatch.delenv(var)
    assert not Settings.from_env().telemetry_enabled
    on = Settings.from_env({"telemetry": {"enabled": True, "capture_content": True}})
    assert on.telemetry_enabled and on.telemetry_capture_content
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=a")
    env_on = Settings.from_env()
    assert env_on.telemetry_enabled and env_on.telemetry_exporter == "otlp"
    # the driver's variables travel to actors on other nodes
    assert env_on.telemetry_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not Settings.from_env({"telemetry": {"enabled": True}}).telemetry_enabled


def test_a_typo_in_the_telemetry_section_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="telemetry"):
        parse_config({"telemetry": {"enable": True}}, "orchestra.toml")


def test_tracing_is_off_by_default_and_creates_nothing() -> None:
    assert not telemetry.enabled()
    assert telemetry.carrier() == ""
    assert telemetry.attach("00-" + "1" * 32 + "-" + "2" * 16 + "-01") is None
    with pytest.raises(RuntimeError):
        telemetry.span("x")


def test_secrets_are_redacted_by_key_and_by_shape() -> None:
    value = {
        "password": "p",
        "Authorization": "Bearer abc",
        "refresh_token": "t",
        "api_key": "k",
        "nested": [{"secret": 1, "note": "call with Bearer abcdefghijkl please"}],
        "url": "https://bob:hunter2@example.com/x",
        "key": "v",
        "orc": "orc_0123456789abcdefghij",
        "sk": "use sk-ant-0123456789abcdefghij",
        "max_tokens": 5,
        "day": "2030-01-01",
    }
    out = redact(value)
    for k in ("password", "Authorization", "refresh_token", "api_key", "key"):
        assert out[k] == REDACTED
    assert out["nested"][0]["secret"] == REDACTED
    assert out["nested"][0]["note"] == f"call with {REDACTED} please"
    assert out["url"] == f"https://{REDACTED}@example.com/x"
    assert out["orc"] == REDACTED and out["sk"] == f"use {REDACTED}"
    assert (out["max_tokens"], out["day"]) == (5, "2030-01-01")


def test_shown_caps_what_it_returns() -> None:
    small = {"a": 1}
    assert shown(small) == small
    big = {"a": "x" * 5000}
    cut = shown(big, 100)
    assert isinstance(cut, str) and cut.startswith('{"a":"xxx') and "more characters cut" in cut
    assert len(cut) < 160

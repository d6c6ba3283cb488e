"""Settings of a deployment (one frozen object shared by the gateway, the CLI and every actor)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime import telemetry
from runtime.agents import AgentCatalog
from runtime.agents.build import deployment
from runtime.config.file import effective_config, parse_config
from runtime.errors import ConfigError
from runtime.models.base import Model
from runtime.models.scripted import ScriptedModel
from runtime.retry import RetryPolicy


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    redis_url: str = ""  # empty: the CLI starts an embedded Valkey and fills this in
    store_prefix: str = "orc"
    namespace: str = "orchestra"
    placement: Literal["hosted", "dedicated"] = "hosted"
    hosts: int = Field(default=2, ge=1, le=256)
    registry_shards: int = Field(default=1, ge=1, le=64)
    model: Literal["scripted", "anthropic", "openai"] = "scripted"
    model_name: str = ""  # the model to ask for; wins over the agents' (needed for openai)
    model_latency_ms: float = Field(default=0, ge=0)  # scripted: extra delay per model call
    model_ttft_ms: float = Field(default=0, ge=0)  # scripted: delay before the first token
    model_tokens_per_s: float = Field(default=0, ge=0)  # scripted: stream rate (0: at once)
    model_latency_sigma: float = Field(default=0.0, ge=0)  # scripted: lognormal spread
    model_seed: int = 7  # scripted: the delays' random seed (reproducible runs)
    config_data: dict[str, object] = Field(default_factory=dict)  # parsed config file
    config_source: str = "the config"  # its path, for error messages
    mcp_tools: dict[str, list[dict[str, object]]] = Field(default_factory=dict)  # discovered
    extra_agents: dict[str, str] = Field(default_factory=dict)  # name -> "module:Class"
    max_message_bytes: int = Field(default=16 * 1024, gt=0)
    rate_limit_per_s: float = Field(default=200.0, gt=0)  # per tenant, per gateway process
    rate_limit_burst: int = Field(default=400, gt=0)
    # requests with unknown API keys, per client address and gateway process
    unknown_key_rate_per_s: float = Field(default=10.0, gt=0)
    unknown_key_burst: int = Field(default=20, gt=0)
    # how long a session host holds a batch's call open for its first result (batching)
    run_hold_ms: float = Field(default=5.0, ge=0)
    idle_evict_s: float = Field(default=600.0, gt=0)
    # what one session host takes at once: operations running, sessions loading from
    # the store, and operations waiting for a slot (past that: 503 with Retry-After)
    host_max_running: int = Field(default=1000, gt=0)
    host_max_loading: int = Field(default=128, gt=0)
    host_max_queued: int = Field(default=10_000, ge=0)
    sweep_interval_s: float = Field(default=1.0, gt=0)
    # SIGTERM: /readyz answers 503 for drain_s while requests are still served, then
    # the listener closes and what is in flight may take grace_s to finish
    drain_s: float = Field(default=5.0, ge=0, le=600)
    grace_s: float = Field(default=30.0, ge=0, le=3600)
    # OpenTelemetry (docs/OBSERVABILITY.md): on from `[telemetry] enabled` or the OTEL_*
    # variables; the driver's OTEL_* variables travel to actors on every node
    telemetry_enabled: bool = False
    telemetry_capture_content: bool = False
    telemetry_exporter: Literal["otlp", "console", "memory"] = "otlp"  # memory: tests
    telemetry_env: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_env(cls, config_data: Mapping[str, Any] | None = None, **overrides: Any) -> Settings:
        """Defaults <- the config file's sections <- the environment <- `overrides`
        (the command line's explicit flags; None means not given)."""
        file = dict(config_data or {})
        data: dict[str, object] = {"config_data": file}
        for section, key, field in FILE_KEYS:
            table = file.get(section)
            if isinstance(table, Mapping) and key in table:
                data[field] = table[key]
        for var, field in ENV_KEYS:
            if os.environ.get(var):
                data[field] = os.environ[var]
        on, capture = telemetry.env_enabled(), telemetry.env_capture()
        if on is not None:
            data["telemetry_enabled"] = on
        if capture is not None:
            data["telemetry_capture_content"] = capture
        if data.get("telemetry_enabled"):
            data["telemetry_env"] = telemetry.otel_variables()
            if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
                data["telemetry_exporter"] = "console"
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            where = next((f"[{sec}] {key}" for sec, key, f in FILE_KEYS if f == field), field)
            raise ConfigError(f"setting {where}: {first['msg']}") from exc


# (config file section, key, setting) and (environment variable, setting): API.md's
# "Configuration"; the environment wins over the file.
FILE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("model", "kind", "model"),
    ("model", "name", "model_name"),
    ("model", "latency_ms", "model_latency_ms"),
    ("model", "ttft_ms", "model_ttft_ms"),
    ("model", "tokens_per_s", "model_tokens_per_s"),
    ("model", "latency_sigma", "model_latency_sigma"),
    ("model", "seed", "model_seed"),
    ("gateway", "rate_limit_per_s", "rate_limit_per_s"),
    ("gateway", "rate_limit_burst", "rate_limit_burst"),
    ("gateway", "unknown_key_rate_per_s", "unknown_key_rate_per_s"),
    ("gateway", "unknown_key_burst", "unknown_key_burst"),
    ("gateway", "max_message_bytes", "max_message_bytes"),
    ("host", "max_running", "host_max_running"),
    ("host", "max_loading", "host_max_loading"),
    ("host", "max_queued", "host_max_queued"),
    ("gateway", "drain_s", "drain_s"),
    ("gateway", "grace_s", "grace_s"),
    ("telemetry", "enabled", "telemetry_enabled"),
    ("telemetry", "capture_content", "telemetry_capture_content"),
)
ENV_KEYS: tuple[tuple[str, str], ...] = (
    ("REDIS_URL", "redis_url"),
    ("ORCHESTRA_PLACEMENT", "placement"),
    ("ORCHESTRA_MODEL", "model"),
    ("ORCHESTRA_MODEL_NAME", "model_name"),
    ("ORCHESTRA_MODEL_LATENCY_MS", "model_latency_ms"),
    ("ORCHESTRA_MODEL_TTFT_MS", "model_ttft_ms"),
    ("ORCHESTRA_MODEL_TOKENS_PER_S", "model_tokens_per_s"),
    ("ORCHESTRA_MODEL_LATENCY_SIGMA", "model_latency_sigma"),
    ("ORCHESTRA_MODEL_SEED", "model_seed"),
    ("ORCHESTRA_RATE_LIMIT_PER_S", "rate_limit_per_s"),
    ("ORCHESTRA_RATE_LIMIT_BURST", "rate_limit_burst"),
    ("ORCHESTRA_UNKNOWN_KEY_RATE_PER_S", "unknown_key_rate_per_s"),
    ("ORCHESTRA_UNKNOWN_KEY_BURST", "unknown_key_burst"),
    ("ORCHESTRA_RUN_HOLD_MS", "run_hold_ms"),
    ("ORCHESTRA_HOST_MAX_RUNNING", "host_max_running"),
    ("ORCHESTRA_HOST_MAX_LOADING", "host_max_loading"),
    ("ORCHESTRA_HOST_MAX_QUEUED", "host_max_queued"),
    ("ORCHESTRA_DRAIN_S", "drain_s"),
    ("ORCHESTRA_GRACE_S", "grace_s"),
)


def build_model(settings: Settings) -> Model:
    """The configured model. Vendor SDKs are imported only when chosen (start-up time).

    The orchestrator owns retries (with metrics): adapters make one attempt.
    """
    name = settings.model_name or None
    if settings.model == "anthropic":
        if not os.environ.get("ANTHROPIC_API_KEY"):
            raise ConfigError(
                "ORCHESTRA_MODEL=anthropic needs ANTHROPIC_API_KEY in the environment"
            )
        from runtime.models.anthropic import AnthropicModel

        return AnthropicModel(model=name, policy=RetryPolicy(max_attempts=1))
    if settings.model == "openai":
        if not name:
            raise ConfigError(
                "ORCHESTRA_MODEL=openai needs ORCHESTRA_MODEL_NAME, the model the server"
                " serves (e.g. llama3.1:8b)"
            )
        if not os.environ.get("OPENAI_BASE_URL") and not os.environ.get("OPENAI_API_KEY"):
            raise ConfigError(
                "ORCHESTRA_MODEL=openai needs OPENAI_BASE_URL (a local server) or OPENAI_API_KEY"
            )
        from runtime.models.openai import OpenAIModel

        return OpenAIModel(model=name, policy=RetryPolicy(max_attempts=1))
    return ScriptedModel(
        settings.model_latency_ms / 1000,
        ttft_s=settings.model_ttft_ms / 1000,
        tokens_per_s=settings.model_tokens_per_s,
        sigma=settings.model_latency_sigma,
        seed=settings.model_seed,
    )


async def with_mcp_tools(settings: Settings) -> Settings:
    """The settings with every configured MCP server's tools discovered (once, at
    start-up: the processes that call them build their tools from these). A server
    that cannot be reached is a `ConfigError` naming it."""
    cfg = parse_config(effective_config(settings.config_data), settings.config_source)
    if not cfg.mcp:
        return settings
    from runtime.tools.mcp import discover  # imports the MCP SDK: only when configured

    with naming_the_file(settings.config_source):
        found = {name: await discover(name, section) for name, section in cfg.mcp.items()}
    return settings.model_copy(update={"mcp_tools": found})


def build_catalog(settings: Settings) -> AgentCatalog:
    """The deployment's agents: the config file's (with the demo's under it unless
    `demo = false`), the settings' extra classes, their presets and canaries.
    Every agent is built now: a config error surfaces at start-up."""
    data = effective_config(settings.config_data)
    cfg = parse_config(data, settings.config_source)
    with naming_the_file(settings.config_source):
        built = deployment(cfg, data, extra=settings.extra_agents, mcp_infos=settings.mcp_tools)
        catalog = AgentCatalog(
            build_model(settings),
            built.configs,
            canary=cfg.canary,
            factories=built.factories,
            presets=built.presets,
        )
        for name in catalog.names():
            catalog.get(name)
    return catalog


@contextlib.contextmanager
def naming_the_file(source: str) -> Iterator[None]:
    """A `ConfigError` raised while the file's agents and tools are built names the
    file first, as the parser's own errors do (`orchestra.toml: agents.desk...`)."""
    try:
        yield
    except ConfigError as exc:
        if str(exc).startswith(f"{source}: "):
            raise
        raise ConfigError(f"{source}: {exc}") from exc

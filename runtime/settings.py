"""Service settings (one frozen object shared by the gateway, the CLI and every actor)."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .agents import AgentCatalog, CanaryConfig
from .config import resolve_config
from .errors import ConfigError
from .models.base import Model
from .models.scripted import ScriptedModel
from .retry import RetryPolicy


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
    model_latency_ms: int = Field(default=0, ge=0)
    config_data: dict[str, Any] = Field(default_factory=dict)  # parsed config file
    extra_agents: dict[str, str] = Field(default_factory=dict)  # name -> "module:Class"
    max_message_bytes: int = Field(default=16 * 1024, gt=0)
    rate_limit_per_s: float = Field(default=200.0, gt=0)  # per tenant, per gateway process
    rate_limit_burst: int = Field(default=400, gt=0)
    idle_evict_s: float = Field(default=600.0, gt=0)
    sweep_interval_s: float = Field(default=1.0, gt=0)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        env = os.environ
        data: dict[str, Any] = {}
        if env.get("REDIS_URL"):
            data["redis_url"] = env["REDIS_URL"]
        if env.get("ORCHESTRA_MODEL"):
            data["model"] = env["ORCHESTRA_MODEL"]
        if env.get("ORCHESTRA_MODEL_NAME"):
            data["model_name"] = env["ORCHESTRA_MODEL_NAME"]
        if env.get("ORCHESTRA_PLACEMENT"):
            data["placement"] = env["ORCHESTRA_PLACEMENT"]
        if env.get("ORCHESTRA_MODEL_LATENCY_MS"):
            data["model_latency_ms"] = int(env["ORCHESTRA_MODEL_LATENCY_MS"])
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(data)


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
        from .models.anthropic import AnthropicModel

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
        from .models.openai import OpenAIModel

        return OpenAIModel(model=name, policy=RetryPolicy(max_attempts=1))
    return ScriptedModel(latency_s=settings.model_latency_ms / 1000)


def build_catalog(settings: Settings) -> AgentCatalog:
    names = ["onboarding", "chatbot", "admin", *settings.extra_agents]
    configs = {n: resolve_config(n, settings.config_data, base="admin") for n in names}
    canary = CanaryConfig.model_validate(settings.config_data.get("canary") or {})
    catalog = AgentCatalog(
        build_model(settings), configs, extra=settings.extra_agents, canary=canary
    )
    for name in names:  # build every agent now: config errors surface at start-up
        catalog.get(name)
    return catalog

"""Agent presets: one frozen `OrchestratorConfig` per agent (history, window,
tool timeout, budgets...), resolved from a named preset and overrides.

Precedence (lowest first): the preset (the agent's own name when it is one,
else its `preset`, else "admin") -> the config file's `[agents.all]` and
`[agents.<name>]` preset fields -> the environment (`ORCHESTRA_<AGENT>__<FIELD>`,
e.g. `ORCHESTRA_CHATBOT__SOFT_CONFIRM_WINDOW_MS=5000`, or `ORCHESTRA_ALL__<FIELD>`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.approval import DEFAULT_POLICIES, NO_PRESET, TierPolicies
from runtime.errors import ConfigError
from runtime.tiers import RecursionBudget

# Keys of an `[agents.NAME]` table that say what the agent is, not its preset.
AGENT_KEYS = frozenset({"class", "preset", "system_prompt", "greeting", "tools", "script"})
DEFAULT_PRESET = "admin"


class OrchestratorConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = "claude-sonnet-4-6"
    max_tokens: int = Field(default=1024, gt=0)
    temperature: float = Field(default=0.2, ge=0.0, le=1.0)
    max_history_messages: int = Field(default=20, ge=2)
    soft_confirm_window_ms: int = Field(default=120_000, gt=0)
    recursion_budget: RecursionBudget = RecursionBudget()
    executor_timeout_ms: int = Field(default=5_000, gt=0)
    context_cache_ttl_ms: int = Field(default=60_000, ge=0)
    breaker_threshold: int = Field(default=3, gt=0)
    breaker_reset_ms: int = Field(default=60_000, gt=0)
    max_model_attempts: int = Field(default=4, gt=0)
    # who may approve each write tier (`[agents.X.approval.T3]`); a tool's own wins
    approval: TierPolicies = DEFAULT_POLICIES["admin"]


PRESETS: dict[str, OrchestratorConfig] = {
    "onboarding": OrchestratorConfig(
        max_history_messages=30,
        soft_confirm_window_ms=300_000,
        executor_timeout_ms=10_000,
        approval=DEFAULT_POLICIES["onboarding"],
    ),
    "chatbot": OrchestratorConfig(
        max_history_messages=10,
        soft_confirm_window_ms=30_000,
        executor_timeout_ms=5_000,
        approval=DEFAULT_POLICIES["chatbot"],
    ),
    "admin": OrchestratorConfig(
        max_history_messages=20, soft_confirm_window_ms=120_000, executor_timeout_ms=5_000
    ),
}


def _env_overrides(agent: str, env: Mapping[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for scope in ("ALL", agent.upper()):
        prefix = f"ORCHESTRA_{scope}__"
        for key, value in env.items():
            if not key.startswith(prefix):
                continue
            field = key[len(prefix) :].lower()
            if field.startswith("recursion_budget__"):
                budget = out.setdefault("recursion_budget", {})
                if isinstance(budget, dict):
                    budget[field.split("__", 1)[1].upper()] = value
            else:
                out[field] = value
    return out


def _merge(base: dict[str, object], over: Mapping[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def resolve_config(
    agent: str,
    file_data: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    base: str | None = None,
) -> OrchestratorConfig:
    """The effective config of one agent (`base`: its preset, if its name is none)."""
    preset = PRESETS.get(agent) or PRESETS.get(base or DEFAULT_PRESET)
    if preset is None:
        raise ConfigError(f"unknown preset {base!r}; expected one of {', '.join(PRESETS)}")
    data = preset.model_dump()
    if agent not in PRESETS and base is None:  # no preset: the generic approval defaults
        data["approval"] = NO_PRESET.model_dump()
    agents_section = (file_data or {}).get("agents", {})
    if isinstance(agents_section, Mapping):
        for scope in ("all", agent):
            section = agents_section.get(scope)
            if isinstance(section, Mapping):
                preset_fields = {k: v for k, v in section.items() if k not in AGENT_KEYS}
                data = _merge(data, preset_fields)
    data = _merge(data, _env_overrides(agent, os.environ if env is None else env))
    try:
        return OrchestratorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid config for agent {agent}: {exc}") from exc


def resolve_all(
    file_data: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, OrchestratorConfig]:
    return {name: resolve_config(name, file_data, env) for name in PRESETS}

"""The config file of `orchestra serve --config FILE` (TOML or YAML): its format and checks.

The format is shared/API.md's "Configuration": `[model]`, `[gateway]`, `[telemetry]`,
`[agents.NAME]` (a preset override, a Python class, or a declared agent),
`[tools.NAME]` (a Python function or an HTTP endpoint), `[mcp.NAME]` (an MCP
server), `[canary]`, and the top-level `demo` (the salon's agents are there
unless `demo = false`). Every key is known: a typo'd section or key, an
unknown tier, a schema that is not JSON Schema is a `ConfigError` naming the
file, the key and the reason, before anything starts.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from runtime.agents.canary import CanaryConfig
from runtime.approval import ApprovalPolicy
from runtime.errors import ConfigError
from runtime.tiers import RecursionBudget, Tier


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ModelSection(_Section):
    kind: Literal["scripted", "anthropic", "openai"] = "scripted"
    name: str = ""
    ttft_ms: float = Field(default=0, ge=0)
    tokens_per_s: float = Field(default=0, ge=0)
    latency_ms: float = Field(default=0, ge=0)
    latency_sigma: float = Field(default=0, ge=0)
    seed: int = 7


class GatewaySection(_Section):
    rate_limit_per_s: float | None = Field(default=None, gt=0)
    rate_limit_burst: int | None = Field(default=None, gt=0)
    unknown_key_rate_per_s: float | None = Field(default=None, gt=0)
    unknown_key_burst: int | None = Field(default=None, gt=0)
    max_message_bytes: int | None = Field(default=None, gt=0)
    drain_s: float | None = Field(default=None, ge=0, le=600)
    grace_s: float | None = Field(default=None, ge=0, le=3600)


class HostSection(_Section):
    """What one session host takes at once (Settings.host_max_*)."""

    max_running: int | None = Field(default=None, gt=0)
    max_loading: int | None = Field(default=None, gt=0)
    max_queued: int | None = Field(default=None, ge=0)


class ScriptRule(_Section):
    """A scripted-model rule of a declared agent: text that matches `match` (a
    regular expression, searched) calls `tool` with `args`, whose strings are
    templates over the expression's named groups (`"{order_id}"`)."""

    match: str = Field(min_length=1, max_length=1_000)
    tool: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _fields(self) -> ScriptRule:
        groups = set(re.compile(self.match).groupindex)
        for name, value in self.args.items():
            if not isinstance(value, str):
                continue
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
            except ValueError as exc:
                raise ValueError(f"args.{name}: not a valid template ({exc})") from None
            for f in fields:
                if f not in groups:
                    known = ", ".join(sorted(groups)) or "none"
                    raise ValueError(
                        f"args.{name}: {{{f}}} is not a named group of `match` (groups: {known})"
                    )
        return self


class TelemetrySection(_Section):
    enabled: bool = False
    capture_content: bool = False


class AgentSection(_Section):
    """A preset override (any of the preset's fields), and what the agent is:
    a Python class, or a declared agent (system prompt, greeting, tools)."""

    class_: str | None = Field(default=None, alias="class", pattern=r"^[\w.]+:[\w.]+$")
    preset: str | None = None
    system_prompt: str | None = Field(default=None, max_length=20_000)
    greeting: str | None = Field(default=None, max_length=2_000)
    tools: list[str] | None = None
    script: list[ScriptRule] | None = None  # rules for the scripted model (declared agents)
    # preset fields (runtime.presets.OrchestratorConfig)
    model: str | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    max_history_messages: int | None = Field(default=None, ge=2)
    soft_confirm_window_ms: int | None = Field(default=None, gt=0)
    recursion_budget: RecursionBudget | None = None
    executor_timeout_ms: int | None = Field(default=None, gt=0)
    context_cache_ttl_ms: int | None = Field(default=None, ge=0)
    breaker_threshold: int | None = Field(default=None, gt=0)
    breaker_reset_ms: int | None = Field(default=None, gt=0)
    max_model_attempts: int | None = Field(default=None, gt=0)
    approval: dict[Tier, ApprovalPolicy] | None = None  # [agents.X.approval.T3]

    @field_validator("approval")
    @classmethod
    def _write_tiers(
        cls, value: dict[Tier, ApprovalPolicy] | None
    ) -> dict[Tier, ApprovalPolicy] | None:
        if value and Tier.T1 in value:
            raise ValueError("T1 tools run at once: only T2 and T3 have an approval policy")
        return value

    @property
    def declared(self) -> bool:
        return self.system_prompt is not None or self.tools is not None


def _json_schema(value: dict[str, Any]) -> dict[str, Any]:
    try:
        validator_for(value).check_schema(value)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    if value.get("type", "object") != "object":
        raise ValueError("the arguments' schema must be of type object")
    return value


Retries = Annotated[int, Field(ge=0, le=10)]  # re-sends of an idempotent tool's call
MaxResultBytes = Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)]  # a result's JSON
RETRIES = 2
MAX_RESULT_BYTES = 64 * 1024


class PythonToolSection(_Section):
    python: str = Field(pattern=r"^[\w.]+:[\w.]+$")
    tier: Tier | None = None  # a @tool function has its own; this overrides it
    description: str = ""
    retries: Retries = RETRIES
    max_result_bytes: MaxResultBytes = MAX_RESULT_BYTES
    approval: ApprovalPolicy | None = None


class HttpToolSection(_Section):
    kind: Literal["http"]
    url: str = Field(pattern=r"^(https?://|env:)")  # "env:VAR": read when the tool is built
    tier: Tier
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    timeout_ms: int = Field(default=5_000, gt=0)  # one attempt
    idempotent: bool = False
    retries: Retries = RETRIES
    max_result_bytes: MaxResultBytes = MAX_RESULT_BYTES
    headers: dict[str, str] = Field(default_factory=dict)  # values may be "env:VAR"
    approval: ApprovalPolicy | None = None

    @field_validator("parameters")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _json_schema(value)


class McpSection(_Section):
    """An MCP server: `url` (streamable HTTP) or `command` (stdio)."""

    url: str | None = Field(default=None, pattern=r"^https?://")
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)  # values may be "env:VAR"
    tiers: dict[str, Tier] = Field(default_factory=dict)  # tool -> tier (else annotations)
    # the tools safe to send again after a crash: a list, or true for every tool
    idempotent: bool | list[str] = Field(default_factory=list)
    timeout_ms: int = Field(default=10_000, gt=0)  # one attempt
    retries: Retries = RETRIES
    max_result_bytes: MaxResultBytes = MAX_RESULT_BYTES
    headers: dict[str, str] = Field(default_factory=dict)  # values may be "env:VAR"

    @model_validator(mode="after")
    def _one_transport(self) -> McpSection:
        if (self.url is None) == (self.command is None):
            raise ValueError("give the server either `url` (streamable HTTP) or `command` (stdio)")
        return self


def _tool_source(table: object) -> str:
    if isinstance(table, Mapping):
        return "http" if "kind" in table else "python"
    return "http" if getattr(table, "kind", None) else "python"


ToolSection = Annotated[
    Annotated[PythonToolSection, Tag("python")] | Annotated[HttpToolSection, Tag("http")],
    Discriminator(_tool_source),
]


class ConfigFile(_Section):
    demo: bool = True
    model: ModelSection = ModelSection()
    gateway: GatewaySection = GatewaySection()
    host: HostSection = HostSection()
    telemetry: TelemetrySection = TelemetrySection()
    agents: dict[str, AgentSection] = Field(default_factory=dict)
    tools: dict[str, ToolSection] = Field(default_factory=dict)
    mcp: dict[str, McpSection] = Field(default_factory=dict)
    canary: CanaryConfig = CanaryConfig()

    @field_validator("tools", mode="before")
    @classmethod
    def _tool_kind(cls, value: object) -> object:
        if isinstance(value, Mapping):  # a table with `kind` is an endpoint, else Python
            for name, table in value.items():
                if isinstance(table, Mapping) and "kind" not in table and "python" not in table:
                    raise ValueError(
                        f'{name}: a tool needs `python = "module:function"` or `kind = "http"`'
                    )
        return value


DEMO_PACKAGE = "salon"  # the demo plugin: its `orchestra.toml` is the default config


def effective_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """The file's data over the demo's config (unless it says `demo = false`)."""
    if data.get("demo") is False:
        return dict(data)
    try:
        resource = files(DEMO_PACKAGE).joinpath("orchestra.toml")
        demo = tomllib.loads(resource.read_text())
    except (ModuleNotFoundError, FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the demo config ({DEMO_PACKAGE}) cannot be read: {exc}") from exc
    return merge(demo, data)


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, tables merged key by key."""
    merged = dict(base)
    for key, value in over.items():
        old = merged.get(key)
        merged[key] = (
            merge(old, value) if isinstance(value, Mapping) and isinstance(old, Mapping) else value
        )
    return merged


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML or YAML config file into a dict."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from exc
    try:
        if p.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode())
        else:
            data = yaml.safe_load(raw) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a table/mapping at top level")
    return data


def parse_config(data: Mapping[str, Any], source: str = "the config") -> ConfigFile:
    """The validated file; `ConfigError` names `source`, the key and the reason."""
    try:
        return ConfigFile.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"] if not str(p).startswith(("function-", "union["))]
        where = ".".join(_tidy(loc)) or "top level"
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown key (not in the config format: a typo?)"
        raise ConfigError(f"{source}: {where}: {reason}") from exc


def _tidy(loc: list[str]) -> list[str]:
    """Drop pydantic's union branch names (`PythonToolSection`, ...) from a path."""
    return [p for p in loc if p not in ("python", "http", "class_")] or loc

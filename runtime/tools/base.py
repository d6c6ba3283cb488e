"""Tools: whatever their source, a name, a tier, a JSON Schema and a way to run.

A `Tool` is what the orchestrator calls and the proposal registry executes:
`check(raw)` validates the model's arguments into the JSON-able dict a
proposal stores, `invoke(ctx, args)` runs it. `idempotent` says that sending
the same call again with the same idempotency key has no second effect (the
ledger may then re-dispatch after a crash); `outcome(ctx)`, when a tool has
it, says whether a call cut short took effect.

Sources build Tools: `runtime.tools.python` (async functions, typed, with a
decorator), `runtime.tools.http` (declared endpoints), `runtime.tools.mcp`
(MCP servers' tools).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runtime.store.data import TenantData

from ..approval import ApprovalPolicy
from ..errors import ToolValidationError
from ..models.base import ToolSpec
from ..tiers import Tier

Source = Literal["python", "http", "mcp"]
DEFAULT_RETRIES = 2  # re-sends of an idempotent tool's call
DEFAULT_MAX_RESULT_BYTES = 64 * 1024


class ToolContext(BaseModel):
    """Read-only facts a tool runs with. Assigning a field or item raises, and the
    data port is read-only too (a tool cannot point it at another tenant)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    tenant_id: str
    session_id: str
    subject: str
    agent: str
    tenant_name: str = ""
    idempotency_key: str | None = None  # the proposal id, for approved writes
    settings: Mapping[str, Any] = Field(default_factory=lambda: MappingProxyType({}))
    data: Any = None  # a TenantData; Any keeps pydantic from copying it

    @field_validator("settings", mode="after")
    @classmethod
    def _freeze(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        frozen: Mapping[str, Any] = _deep_freeze(value)
        return frozen

    def store(self) -> TenantData:
        """The tenant's data (`runtime.store.data`)."""
        if self.data is None:
            raise ToolValidationError("this tool needs tenant data but none is attached")
        port: TenantData = self.data
        return port


def _deep_freeze(value: Any) -> Any:
    """Read-only copies all the way down: mappings -> MappingProxyType, lists -> tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _deep_freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple | set | frozenset):
        items = tuple(_deep_freeze(v) for v in value)
        return frozenset(items) if isinstance(value, set | frozenset) else items
    return value


Args = dict[str, object]
Invoke = Callable[[ToolContext, Args], Awaitable[object]]  # its result, JSON-able
Check = Callable[[Mapping[str, object]], Args]
# Did the call with this context's idempotency key take effect? True, False, or
# None when the tool cannot tell (then a call cut short has an unknown outcome).
OutcomeCheck = Callable[[ToolContext], Awaitable[bool | None]]


@dataclass(frozen=True)
class Tool:
    name: str
    tier: Tier
    description: str
    parameters: Mapping[str, object]  # the JSON Schema of its arguments
    invoke: Invoke
    check: Check
    idempotent: bool = False
    outcome: OutcomeCheck | None = None
    preview: Callable[[Args], str] | None = None
    source: Source = "python"
    retries: int = DEFAULT_RETRIES
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES
    approval: ApprovalPolicy | None = None  # who may approve a call (else its agent's tier's)
    _spec: ToolSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        schema = dict(self.parameters)
        object.__setattr__(self, "_spec", ToolSpec(self.name, self.description, schema))

    def spec(self) -> ToolSpec:
        return self._spec

    def parse(self, raw: Mapping[str, object]) -> Args:
        """The validated arguments (`ToolValidationError` names the first bad one)."""
        return self.check(raw)

    def describe(self, args: Args) -> str:
        if self.preview is not None:
            return self.preview(args)
        fields = ", ".join(f"{k}={v}" for k, v in args.items() if v not in ("", None))
        return f"{self.name}({fields})"


class ToolRegistry:
    """The tools of one agent type, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"duplicate tool {tool.name}")
            self._tools[tool.name] = tool
        self._specs = tuple(t.spec() for t in self._tools.values())  # JSON schema: build once

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def specs(self) -> tuple[ToolSpec, ...]:
        return self._specs

    def all(self) -> list[Tool]:
        return list(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")

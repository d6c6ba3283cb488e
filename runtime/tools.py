"""Tools: a tier, a pydantic argument schema, a handler, and a frozen context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ToolValidationError
from .models.base import ToolSpec
from .tiers import Tier


class BusinessPort(Protocol):
    """What tools may do to the tenant's business data (see agents/business.py)."""

    async def read(self) -> dict[str, Any]: ...

    async def write(self, key: str, op: str, args: dict[str, Any]) -> Any: ...

    async def applied(self, key: str) -> bool:
        """Has the write with idempotency `key` happened?"""
        ...


class ToolContext(BaseModel):
    """Read-only facts a tool runs with. Assigning a field or item raises."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    tenant_id: str
    session_id: str
    subject: str
    agent: str
    idempotency_key: str | None = None
    settings: Mapping[str, Any] = Field(default_factory=lambda: MappingProxyType({}))
    business: Any = None  # a BusinessPort; Any keeps pydantic from copying it

    @field_validator("settings", mode="after")
    @classmethod
    def _freeze(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        frozen: Mapping[str, Any] = _deep_freeze(value)
        return frozen

    def port(self) -> BusinessPort:
        if self.business is None:
            raise ToolValidationError("this tool needs business data but none is attached")
        port: BusinessPort = self.business
        return port


def _deep_freeze(value: Any) -> Any:
    """Read-only copies all the way down: mappings -> MappingProxyType, lists -> tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _deep_freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple | set | frozenset):
        items = tuple(_deep_freeze(v) for v in value)
        return frozenset(items) if isinstance(value, set | frozenset) else items
    return value


Handler = Callable[[ToolContext, Any], Awaitable[Any]]
# Did the call with this context's idempotency key take effect? True, False, or
# None when the tool cannot tell (then a call cut short has an unknown outcome).
OutcomeCheck = Callable[[ToolContext], Awaitable[bool | None]]


@dataclass(frozen=True)
class Tool:
    name: str
    tier: Tier
    description: str
    args: type[BaseModel]
    handler: Handler
    preview: Callable[[Any], str] | None = None
    outcome: OutcomeCheck | None = None

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.args.model_json_schema())

    def parse(self, raw: Mapping[str, Any]) -> BaseModel:
        try:
            return self.args.model_validate(dict(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise ToolValidationError(f"{self.name}: {where}: {first['msg']}") from exc

    def describe(self, parsed: BaseModel) -> str:
        if self.preview is not None:
            return self.preview(parsed)
        fields = ", ".join(
            f"{k}={v}" for k, v in parsed.model_dump().items() if v not in ("", None)
        )
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

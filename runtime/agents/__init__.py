"""The agent types and the catalog that builds them by name."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from importlib import import_module

from pydantic import BaseModel, ConfigDict, Field

from .. import metrics
from ..config import OrchestratorConfig, resolve_config
from ..errors import BadRequest, ConfigError
from ..models.base import Model
from ..orchestrator import BaseOrchestrator
from .admin import AdminOrchestrator
from .chatbot import ChatbotOrchestrator
from .onboarding import OnboardingOrchestrator

BUILTIN: dict[str, type[BaseOrchestrator]] = {
    "onboarding": OnboardingOrchestrator,
    "chatbot": ChatbotOrchestrator,
    "admin": AdminOrchestrator,
}


def load_class(path: str) -> type[BaseOrchestrator]:
    """'package.module:Class' -> the orchestrator class (for extra agents)."""
    module, _, name = path.partition(":")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load agent class {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseOrchestrator)):
        raise ConfigError(f"{path!r} is not a BaseOrchestrator subclass")
    return cls


class CanaryConfig(BaseModel):
    """Route whole tenants to other orchestrator classes (the roadmap's canary).

    A tenant is in the canary when listed in `tenants`, or when its stable hash
    bucket (0-99, salted) is below `percent`. Rollback: `percent: 0, tenants: []`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    percent: int = Field(default=0, ge=0, le=100)
    tenants: tuple[str, ...] = ()
    salt: str = ""
    agents: dict[str, str] = Field(default_factory=dict)  # agent -> "module:Class"

    def applies(self, agent: str, tenant_id: str) -> bool:
        if agent not in self.agents:
            return False
        if tenant_id in self.tenants:
            return True
        digest = hashlib.blake2b(f"{self.salt}|{tenant_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest) % 100 < self.percent


class AgentCatalog:
    """Builds one orchestrator per agent type, sharing one model."""

    def __init__(
        self,
        model: Model,
        configs: Mapping[str, OrchestratorConfig] | None = None,
        extra: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
        canary: CanaryConfig | None = None,
    ) -> None:
        self.classes: dict[str, type[BaseOrchestrator]] = dict(BUILTIN)
        for name, path in (extra or {}).items():
            self.classes[name] = load_class(path)
        self.canary = canary or CanaryConfig()
        for name, path in self.canary.agents.items():
            if name not in self.classes:
                raise ConfigError(f"canary names unknown agent {name!r}")
            self.classes[f"{name}@canary"] = load_class(path)
        self._configs = dict(configs or {})
        self._model = model
        self._clock = clock
        self._built: dict[str, BaseOrchestrator] = {}
        self._max_history = max(self._config(n).max_history_messages for n in self.names())

    def names(self) -> list[str]:
        return [n for n in self.classes if "@" not in n]

    def _config(self, agent: str) -> OrchestratorConfig:
        return self._configs.get(agent) or resolve_config(agent if agent in BUILTIN else "admin")

    def max_history_messages(self) -> int:
        """The longest history any agent keeps: a bound to load before the agent is known."""
        return self._max_history

    def get(self, agent: str, tenant_id: str | None = None) -> BaseOrchestrator:
        """The orchestrator of `agent` (for `tenant_id`: its canary version, if any)."""
        key = agent
        if tenant_id is not None and self.canary.applies(agent, tenant_id):
            key = f"{agent}@canary"
        orch = self._built.get(key)
        if orch is None:
            cls = self.classes.get(key)
            if cls is None:
                raise BadRequest(
                    f"unknown agent {agent!r}; expected one of {', '.join(self.classes)}"
                )
            config = self._config(agent)
            orch = (
                cls(config, self._model, clock=self._clock)
                if self._clock
                else cls(config, self._model)
            )
            self._built[key] = orch
            metrics.prime(agent, [(t.tier.value, t.name) for t in orch.tools.all()])
        return orch


__all__ = [
    "BUILTIN",
    "AdminOrchestrator",
    "AgentCatalog",
    "CanaryConfig",
    "ChatbotOrchestrator",
    "OnboardingOrchestrator",
    "load_class",
]

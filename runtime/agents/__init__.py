"""The agent types and the catalog that builds them by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module

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


class AgentCatalog:
    """Builds one orchestrator per agent type, sharing one model."""

    def __init__(
        self,
        model: Model,
        configs: Mapping[str, OrchestratorConfig] | None = None,
        extra: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.classes: dict[str, type[BaseOrchestrator]] = dict(BUILTIN)
        for name, path in (extra or {}).items():
            self.classes[name] = load_class(path)
        self._configs = dict(configs or {})
        self._model = model
        self._clock = clock
        self._built: dict[str, BaseOrchestrator] = {}

    def names(self) -> list[str]:
        return list(self.classes)

    def get(self, agent: str) -> BaseOrchestrator:
        orch = self._built.get(agent)
        if orch is None:
            cls = self.classes.get(agent)
            if cls is None:
                raise BadRequest(
                    f"unknown agent {agent!r}; expected one of {', '.join(self.classes)}"
                )
            config = self._configs.get(agent) or resolve_config(
                agent if agent in BUILTIN else "admin"
            )
            orch = (
                cls(config, self._model, clock=self._clock)
                if self._clock
                else cls(config, self._model)
            )
            self._built[agent] = orch
            metrics.prime(agent, [(t.tier.value, t.name) for t in orch.tools.all()])
        return orch


__all__ = [
    "BUILTIN",
    "AdminOrchestrator",
    "AgentCatalog",
    "ChatbotOrchestrator",
    "OnboardingOrchestrator",
    "load_class",
]

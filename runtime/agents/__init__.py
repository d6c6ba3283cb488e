"""The agents of a deployment and the catalog that builds them by name.

An agent is a Python class (`BaseOrchestrator` subclass, named
`package.module:Class`) or a declared agent (`DeclaredAgent`, from the config
file); `AgentCatalog` builds one orchestrator per name on first use, sharing
one model, and routes canary tenants to another class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module

from runtime.config.presets import DEFAULT_PRESET, PRESETS, OrchestratorConfig, resolve_config
from runtime.shapes import AgentOut

from .. import metrics
from ..errors import BadRequest, ConfigError
from ..models.base import Model
from ..orchestrator import BaseOrchestrator
from .canary import CanaryConfig
from .declared import DeclaredAgent, check_template

Clock = Callable[[], float]
# (its config, the model, the clock or None) -> the agent
Factory = Callable[[OrchestratorConfig, Model, Clock | None], BaseOrchestrator]


def load_class(path: str) -> type[BaseOrchestrator]:
    """'package.module:Class' -> the orchestrator class."""
    module, _, name = path.partition(":")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot load agent class {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseOrchestrator)):
        raise ConfigError(f"{path!r} is not a BaseOrchestrator subclass")
    return cls


def class_factory(name: str, cls: type[BaseOrchestrator]) -> Factory:
    def make(config: OrchestratorConfig, model: Model, clock: Clock | None) -> BaseOrchestrator:
        if clock is None:
            return cls(config, model, name=name)
        return cls(config, model, clock, name=name)

    return make


class AgentCatalog:
    """Builds one orchestrator per agent, sharing one model."""

    def __init__(
        self,
        model: Model,
        configs: Mapping[str, OrchestratorConfig] | None = None,
        extra: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        canary: CanaryConfig | None = None,
        factories: Mapping[str, Factory] | None = None,
        presets: Mapping[str, str] | None = None,
    ) -> None:
        self.factories: dict[str, Factory] = dict(factories or {})
        for name, path in (extra or {}).items():
            self.factories[name] = class_factory(name, load_class(path))
        self.canary = canary or CanaryConfig()
        for name, path in self.canary.agents.items():
            if name not in self.factories:
                raise ConfigError(f"canary names unknown agent {name!r}")
            self.factories[f"{name}@canary"] = class_factory(name, load_class(path))
        self._configs = dict(configs or {})
        self._presets = dict(presets or {})
        self._model = model
        self._clock = clock
        self._built: dict[str, BaseOrchestrator] = {}
        bounds = [self._config(n).max_history_messages for n in self.names()]
        self._max_history = max(bounds, default=2)

    def names(self) -> list[str]:
        return [n for n in self.factories if "@" not in n]

    def preset(self, agent: str) -> str:
        """The preset `agent`'s config starts from (its own name's, else the file's
        `preset`, else the default)."""
        if agent in PRESETS:
            return agent
        return self._presets.get(agent) or DEFAULT_PRESET

    def describe(self) -> list[AgentOut]:
        """Every agent, in catalog order, with its preset and its tools."""
        return [
            {
                "name": name,
                "preset": self.preset(name),
                "tools": [
                    {
                        "name": t.name,
                        "tier": t.tier.value,
                        "source": t.source,
                        "description": t.description,
                        "idempotent": t.idempotent,
                    }
                    for t in self.get(name).tools.all()
                ],
            }
            for name in self.names()
        ]

    def _config(self, agent: str) -> OrchestratorConfig:
        return self._configs.get(agent) or resolve_config(agent)

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
            make = self.factories.get(key)
            if make is None:
                raise BadRequest(
                    f"unknown agent {agent!r}; expected one of {', '.join(self.names())}"
                )
            orch = self._built[key] = make(self._config(agent), self._model, self._clock)
            metrics.prime(agent, [(t.tier.value, t.name) for t in orch.tools.all()])
        return orch


__all__ = [
    "AgentCatalog",
    "CanaryConfig",
    "DeclaredAgent",
    "Factory",
    "check_template",
    "class_factory",
    "load_class",
]

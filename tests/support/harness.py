"""The in-process harness of the unit tests: a runtime over a store, a fake clock
and a recording model (`LocalBackend` over `MemoryStore`, no Ray).

Time that matters to a rule (soft-confirm windows, breaker reset, context TTL)
comes from `FakeClock`; only tool timeouts use real time, kept at ~0.1 s. Each
test package's conftest chooses the agents (`new_harness(clock, agents, cls)`):
tests/runtime uses `runtime.testing`'s agents, tests/salon the demo's.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from runtime.agents import AgentCatalog
from runtime.backends.local import LocalBackend
from runtime.config.presets import OrchestratorConfig
from runtime.inbound import Inbound
from runtime.models.base import Model
from runtime.models.scripted import ScriptedModel
from runtime.proposals.model import Proposal
from runtime.sessions.session import settle
from runtime.store.data import Change
from runtime.store.memory import MemoryStore
from runtime.testing import T0 as T0  # re-exported: the tests import these from here
from runtime.testing import FakeClock as FakeClock
from runtime.testing import RecordingModel
from runtime.testing import TickingClock as TickingClock

# Hypothesis imports libcst to explain a falsifying example; libcst trips a
# DeprecationWarning (mypy_extensions.TypedDict) that warnings-as-errors turns
# into an INTERNALERROR hiding the real failure. Import it once, quietly.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst.codemod
    import libcst.metadata  # noqa: F401

TENANT = "acme"
OTHER_TENANT = "globex"


class YieldingStore(MemoryStore):
    """A MemoryStore that yields to the event loop in the proposal/ledger paths.

    MemoryStore never suspends, so concurrent callers would run one after the
    other by accident; yielding here lets the races the runtime guards against
    actually interleave.
    """

    async def get_proposal(self, tenant_id: str, proposal_id: str) -> Proposal | None:
        await asyncio.sleep(0)
        return await super().get_proposal(tenant_id, proposal_id)

    async def save_proposals(
        self, proposals: list[Proposal], audit: list[dict[str, Any]], ledger: Any = None
    ) -> None:
        await asyncio.sleep(0)
        await super().save_proposals(proposals, audit, ledger)

    async def ledger_claim(self, tenant_id: str, proposal_id: str, at: float) -> Any:
        await asyncio.sleep(0)
        return await super().ledger_claim(tenant_id, proposal_id, at)

    async def data_update(self, tenant_id: str, name: str, key: str, change: Change) -> Any:
        await asyncio.sleep(0)
        return await super().data_update(tenant_id, name, key, change)

    async def data_read(self, tenant_id: str, name: str) -> tuple[int, Any]:
        await asyncio.sleep(0)
        return await super().data_read(tenant_id, name)


def lab_config(**overrides: Any) -> OrchestratorConfig:
    """A small, fast config for the lab agent (100 ms tool timeout)."""
    base: dict[str, Any] = {"executor_timeout_ms": 100}
    return OrchestratorConfig(**(base | overrides))


@dataclass
class Harness:
    """One LocalBackend with its store, clock and model, plus helpers."""

    rt: LocalBackend
    store: MemoryStore
    clock: FakeClock
    model: RecordingModel

    async def session(
        self, agent: str = "lab", subject: str = "user-1", tenant: str = TENANT
    ) -> str:
        info, _ = await self.rt.create_session(tenant, agent, subject)
        return str(info["session_id"])

    async def send(self, sid: str, text: str, tenant: str = TENANT) -> dict[str, Any]:
        """Send, then let what the turn left in the background (a summary) land."""
        out = await self.rt.send_message(Inbound(tenant, sid, text))
        await settle()
        return out

    async def proposal(self, pid: str, tenant: str = TENANT) -> Proposal:
        return await self.rt.book.get(tenant, pid)


H = TypeVar("H", bound=Harness)


def new_harness(clock: FakeClock, agents: Mapping[str, str], cls: type[H]) -> Callable[..., H]:
    """`make(configs=..., store=..., inner=..., clock=...)` -> a fresh harness of `cls`
    whose catalog holds `agents` ("lab" gets `lab_config()` unless configured)."""

    def make(
        configs: Mapping[str, OrchestratorConfig] | None = None,
        store: MemoryStore | None = None,
        inner: Model | None = None,
        clock: FakeClock = clock,
    ) -> H:
        st = store if store is not None else MemoryStore()
        model = RecordingModel(inner if inner is not None else ScriptedModel())
        cfgs = {"lab": lab_config()} | dict(configs or {})
        catalog = AgentCatalog(model, configs=cfgs, extra=dict(agents), clock=clock)
        return cls(LocalBackend(st, catalog, clock=clock), st, clock, model)

    return make


async def gather_outcomes(calls: list[Awaitable[Any]]) -> list[Any]:
    """asyncio.gather with exceptions returned, for race tests."""
    return list(await asyncio.gather(*calls, return_exceptions=True))

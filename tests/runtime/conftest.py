"""Fixtures of the runtime unit tests: a fake clock, a recording model, runtimes.

`FakeClock`, `TickingClock` and `RecordingModel` come from `runtime.testing`.

Everything runs in-process (`LocalBackend` over `MemoryStore`, no Ray). Time
that matters to a rule (soft-confirm windows, breaker reset, context TTL) comes
from `FakeClock`; only tool timeouts use real time, kept at ~0.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

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
from runtime.testing import FakeClock, RecordingModel
from runtime.testing import TickingClock as TickingClock
from salon.testing import SALON_AGENTS, SALON_LAB, business

from .probe import PROBE_AGENT

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

    async def business(self, tenant: str = TENANT) -> dict[str, Any]:
        return await business(self.store, tenant)

    async def proposal(self, pid: str, tenant: str = TENANT) -> Proposal:
        return await self.rt.book.get(tenant, pid)


MakeHarness = Callable[..., Harness]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_harness(clock: FakeClock) -> MakeHarness:
    """`make_harness(configs=..., store=..., inner=..., clock=...)` -> a fresh `Harness`.

    Agents: the built-in three, "lab" (runtime.testing) and "probe" (probe.py).
    """

    def make(
        configs: Mapping[str, OrchestratorConfig] | None = None,
        store: MemoryStore | None = None,
        inner: Model | None = None,
        clock: FakeClock = clock,
    ) -> Harness:
        st = store if store is not None else MemoryStore()
        model = RecordingModel(inner if inner is not None else ScriptedModel())
        cfgs = {"lab": lab_config()} | dict(configs or {})
        catalog = AgentCatalog(
            model, configs=cfgs, extra=SALON_AGENTS | SALON_LAB | PROBE_AGENT, clock=clock
        )
        return Harness(LocalBackend(st, catalog, clock=clock), st, clock, model)

    return make


@pytest.fixture
def h(make_harness: MakeHarness) -> Harness:
    """The default harness: lab agent with a 100 ms tool timeout."""
    return make_harness()


async def gather_outcomes(calls: list[Awaitable[Any]]) -> list[Any]:
    """asyncio.gather with exceptions returned, for race tests."""
    return list(await asyncio.gather(*calls, return_exceptions=True))

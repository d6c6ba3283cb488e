"""The canary flag: whole tenants switch orchestrator class; rollback by flag."""

from __future__ import annotations

import pytest

from runtime.agents import AgentCatalog, CanaryConfig
from runtime.backends.local import LocalBackend
from runtime.errors import ConfigError
from runtime.inbound import Inbound
from runtime.models.scripted import ScriptedModel
from runtime.store.memory import MemoryStore
from runtime.store.tenants import add_tenant
from runtime.testing import RECORDS_AGENTS, CanaryClerk, ClerkOrchestrator

NEW = {"clerk": "runtime.testing.records:CanaryClerk"}
TENANTS = [f"tenant-{i}" for i in range(400)]


def in_canary(canary: CanaryConfig) -> set[str]:
    return {t for t in TENANTS if canary.applies("clerk", t)}


def test_listed_tenants_and_only_listed_agents_switch() -> None:
    catalog = AgentCatalog(
        ScriptedModel(), extra=RECORDS_AGENTS, canary=CanaryConfig(tenants=("pilot",), agents=NEW)
    )
    assert type(catalog.get("clerk", "pilot")) is CanaryClerk
    assert type(catalog.get("clerk", "other")) is ClerkOrchestrator
    assert type(catalog.get("clerk")) is ClerkOrchestrator
    assert catalog.get("lab", "pilot").agent == "lab"
    assert catalog.get("clerk", "pilot").config == catalog.get("clerk").config  # same preset
    assert "clerk@canary" not in catalog.names()


def test_percent_is_a_stable_growing_share_of_tenants() -> None:
    ten = in_canary(CanaryConfig(percent=10, agents=NEW))
    quarter = in_canary(CanaryConfig(percent=25, agents=NEW))
    assert 0.05 * len(TENANTS) < len(ten) < 0.15 * len(TENANTS)
    assert ten < quarter  # raising the percent keeps the first tenants in
    assert in_canary(CanaryConfig(percent=10, agents=NEW)) == ten  # deterministic
    assert in_canary(CanaryConfig(percent=10, salt="v2", agents=NEW)) != ten  # salt reshuffles
    assert in_canary(CanaryConfig(percent=100, agents=NEW)) == set(TENANTS)
    assert in_canary(CanaryConfig(percent=0, agents=NEW)) == set()


def test_unknown_agent_or_class_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        AgentCatalog(
            ScriptedModel(),
            extra=RECORDS_AGENTS,
            canary=CanaryConfig(agents={"nope": NEW["clerk"]}),
        )
    with pytest.raises(ConfigError):
        AgentCatalog(
            ScriptedModel(),
            extra=RECORDS_AGENTS,
            canary=CanaryConfig(agents={"clerk": "no.such:Thing"}),
        )


async def test_rollback_applies_from_the_next_message() -> None:
    store = MemoryStore()
    rt = LocalBackend(store, AgentCatalog(ScriptedModel(), extra=RECORDS_AGENTS))
    t, _ = await add_tenant(store, "Pilot")
    rt.pool.catalog = AgentCatalog(
        extra=RECORDS_AGENTS,
        model=ScriptedModel(),
        canary=CanaryConfig(tenants=(t.tenant_id,), agents=NEW),
    )
    s, _ = await rt.create_session(t.tenant_id, "clerk", "c")
    assert s["greeting"].startswith("[canary]")
    await rt.send_message(Inbound(t.tenant_id, s["session_id"], "!tools list_records"))
    assert type(rt.pool.cores[s["session_id"]].orch) is CanaryClerk
    rt.pool.catalog = AgentCatalog(
        ScriptedModel(), extra=RECORDS_AGENTS
    )  # rollback: the flag is off
    r = await rt.send_message(Inbound(t.tenant_id, s["session_id"], "!tools list_records"))
    assert r["tool_calls"] == [{"tool": "list_records", "tier": "T1", "status": "ok"}]
    assert type(rt.pool.cores[s["session_id"]].orch) is ClerkOrchestrator

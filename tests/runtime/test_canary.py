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
from salon import ChatbotOrchestrator
from salon.testing import SALON_AGENTS, CanaryChatbot

NEW = {"chatbot": "salon.testing:CanaryChatbot"}
TENANTS = [f"tenant-{i}" for i in range(400)]


def in_canary(canary: CanaryConfig) -> set[str]:
    return {t for t in TENANTS if canary.applies("chatbot", t)}


def test_listed_tenants_and_only_listed_agents_switch() -> None:
    catalog = AgentCatalog(
        ScriptedModel(), extra=SALON_AGENTS, canary=CanaryConfig(tenants=("pilot",), agents=NEW)
    )
    assert type(catalog.get("chatbot", "pilot")) is CanaryChatbot
    assert type(catalog.get("chatbot", "other")) is ChatbotOrchestrator
    assert type(catalog.get("chatbot")) is ChatbotOrchestrator
    assert catalog.get("admin", "pilot").agent == "admin"
    assert catalog.get("chatbot", "pilot").config == catalog.get("chatbot").config  # same preset
    assert "chatbot@canary" not in catalog.names()


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
            extra=SALON_AGENTS,
            canary=CanaryConfig(agents={"nope": NEW["chatbot"]}),
        )
    with pytest.raises(ConfigError):
        AgentCatalog(
            ScriptedModel(),
            extra=SALON_AGENTS,
            canary=CanaryConfig(agents={"chatbot": "no.such:Thing"}),
        )


async def test_rollback_applies_from_the_next_message() -> None:
    store = MemoryStore()
    rt = LocalBackend(store, AgentCatalog(ScriptedModel(), extra=SALON_AGENTS))
    t, _ = await add_tenant(store, "Pilot")
    rt.pool.catalog = AgentCatalog(
        extra=SALON_AGENTS,
        model=ScriptedModel(),
        canary=CanaryConfig(tenants=(t.tenant_id,), agents=NEW),
    )
    s, _ = await rt.create_session(t.tenant_id, "chatbot", "c")
    assert s["greeting"].startswith("[canary]")
    await rt.send_message(Inbound(t.tenant_id, s["session_id"], "what services do you have?"))
    assert type(rt.pool.cores[s["session_id"]].orch) is CanaryChatbot
    rt.pool.catalog = AgentCatalog(ScriptedModel(), extra=SALON_AGENTS)  # rollback: the flag is off
    r = await rt.send_message(Inbound(t.tenant_id, s["session_id"], "what services do you have?"))
    assert r["tool_calls"] == [{"tool": "list_services", "tier": "T1", "status": "ok"}]
    assert type(rt.pool.cores[s["session_id"]].orch) is ChatbotOrchestrator

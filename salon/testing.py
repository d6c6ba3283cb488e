"""Salon agents for tests: the lab agent with the salon's tools, a canary chatbot."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime import DataStore, Tier, Tool, ToolContext, function_tool
from runtime.testing import LabOrchestrator

from .agents import ChatbotOrchestrator
from .domain import DOCUMENT, Business, new_business
from .tools import applied, change, read_tool, write_tool

SALON_AGENTS = {
    "onboarding": "salon.agents:OnboardingOrchestrator",
    "chatbot": "salon.agents:ChatbotOrchestrator",
    "admin": "salon.agents:AdminOrchestrator",
}
SALON_LAB = {"lab": "salon.testing:SalonLab"}


class WriteArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    seconds: float = Field(default=0.0, ge=0, le=60)


async def _slow_write(ctx: ToolContext, args: WriteArgs) -> object:
    """A T2 write that waits, then adds a service (once per idempotency key)."""
    await asyncio.sleep(args.seconds)
    key = ctx.idempotency_key or "unkeyed"
    service = {"name": args.name, "price": 1.0, "duration_min": 10}
    return await ctx.store().update(DOCUMENT, key, lambda doc: change(doc, "add_service", service))


class SalonLab(LabOrchestrator):
    """The lab's misbehaving tools plus the salon's service tools (T1, T2, T3)."""

    def build_tools(self) -> list[Tool]:
        slow_write = function_tool(
            "slow_write",
            Tier.T2,
            "A slow write.",
            WriteArgs,
            _slow_write,
            outcome=applied,
            idempotent=True,
        )
        return [
            *super().build_tools(),
            slow_write,
            read_tool("list_services"),
            write_tool("create_service"),
            write_tool("update_service"),
            write_tool("delete_service"),
        ]


class CanaryChatbot(ChatbotOrchestrator):
    """A "new version" of the chatbot for canary tests: same tools, new greeting."""

    def get_greeting(self, context: dict[str, str]) -> str:
        return f"[canary] Welcome to {context['name']}!"


# -- the business document, for tests that look at it directly ----------------------


async def business(store: DataStore, tenant_id: str) -> Business:
    """The tenant's business document (the default one until it is first changed)."""
    doc: Business | None
    _, doc = await store.data_read(tenant_id, DOCUMENT)
    return doc if doc is not None else new_business()


async def business_version(store: DataStore, tenant_id: str) -> int:
    return (await store.data_read(tenant_id, DOCUMENT))[0]


async def business_write(
    store: DataStore, tenant_id: str, key: str, op: str, args: dict[str, Any]
) -> object:
    """Apply `op` as the salon's write tools do: once per idempotency `key`."""
    return await store.data_update(tenant_id, DOCUMENT, key, lambda doc: change(doc, op, args))


async def business_applied(store: DataStore, tenant_id: str, key: str) -> bool:
    return await store.data_applied(tenant_id, DOCUMENT, key)

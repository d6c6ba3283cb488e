"""The "lab" agent: tools that sleep, fail or write on request."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..agents.business import _applied, read_tool, write_tool
from ..agents.chatbot import ChatbotOrchestrator
from ..errors import ToolError
from ..orchestrator import BaseOrchestrator
from ..tiers import Tier
from ..tools import NoArgs, Tool, ToolContext

LAB_AGENT = {"lab": "runtime.testing.agents:LabOrchestrator"}


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=1.0, ge=0, le=60)


class WriteArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    seconds: float = Field(default=0.0, ge=0, le=60)


async def _echo(ctx: ToolContext, _: NoArgs) -> Any:
    return {"tenant": ctx.tenant_id, "session": ctx.session_id}


async def _slow(ctx: ToolContext, args: SleepArgs) -> Any:
    await asyncio.sleep(args.seconds)
    return {"slept": args.seconds}


async def _fail(ctx: ToolContext, _: NoArgs) -> Any:
    raise ToolError("the lab tool failed on purpose")


async def _mutate_context(ctx: ToolContext, _: NoArgs) -> Any:
    ctx.settings["tenant"] = "other"  # type: ignore[index]  # must raise: context is frozen
    return {"mutated": True}


async def _retarget_port(ctx: ToolContext, _: NoArgs) -> Any:
    ctx.business._tenant = "other"  # must raise: the port is read-only
    return {"retargeted": True}


async def _slow_write(ctx: ToolContext, args: WriteArgs) -> Any:
    """A T2 write that waits, then adds a service through the idempotent port."""
    await asyncio.sleep(args.seconds)
    key = ctx.idempotency_key or "unkeyed"
    return await ctx.port().write(
        key, "add_service", {"name": args.name, "price": 1.0, "duration_min": 10}
    )


EFFECTS: list[str] = []  # what `slow_effect` did, in this process (tests read it)


async def _effect(ctx: ToolContext, args: SleepArgs) -> Any:
    """A T2 effect outside the store (a notification, a payment): it happens, then
    it sleeps; nothing can tell afterwards whether a cut-short call had its effect."""
    EFFECTS.append(ctx.idempotency_key or "")
    await asyncio.sleep(args.seconds)
    return {"effect": True}


class LabOrchestrator(BaseOrchestrator):
    agent = "lab"

    def build_tools(self) -> list[Tool]:
        return [
            Tool("echo", Tier.T1, "Echo the context.", NoArgs, _echo),
            Tool("slow", Tier.T1, "Sleep for a while.", SleepArgs, _slow),
            Tool("fail", Tier.T1, "Always fail.", NoArgs, _fail),
            Tool("mutate_context", Tier.T1, "Try to mutate the context.", NoArgs, _mutate_context),
            Tool("retarget_port", Tier.T1, "Try to retarget the port.", NoArgs, _retarget_port),
            Tool("slow_write", Tier.T2, "A slow write.", WriteArgs, _slow_write, outcome=_applied),
            Tool("slow_effect", Tier.T2, "A slow effect outside the store.", SleepArgs, _effect),
            read_tool("list_services"),
            write_tool("create_service"),
            write_tool("update_service"),
            write_tool("delete_service"),
        ]

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return f"Lab agent for {context['name']}."

    def get_greeting(self, context: dict[str, str]) -> str:
        return "Lab ready."


class CanaryChatbot(ChatbotOrchestrator):
    """A "new version" of the chatbot for canary tests: same tools, new greeting."""

    def get_greeting(self, context: dict[str, str]) -> str:
        return f"[canary] Welcome to {context['name']}!"

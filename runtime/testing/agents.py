"""The "lab" agent: tools that sleep, fail or misbehave on request."""

from __future__ import annotations

import asyncio
import time
from typing import NoReturn

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ToolError
from ..orchestrator import BaseOrchestrator
from ..tiers import Tier
from ..tools import NoArgs, Tool, ToolContext, function_tool

LAB_AGENT = {"lab": "runtime.testing.agents:LabOrchestrator"}

HOG_SLICE_S = 0.25  # how long `hog` holds the loop at a time


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=1.0, ge=0, le=60)


async def _echo(ctx: ToolContext, _: NoArgs) -> dict[str, str]:
    return {"tenant": ctx.tenant_id, "session": ctx.session_id}


async def _slow(ctx: ToolContext, args: SleepArgs) -> dict[str, float]:
    await asyncio.sleep(args.seconds)
    return {"slept": args.seconds}


async def _hog(ctx: ToolContext, args: SleepArgs) -> dict[str, float]:
    """Keep the event loop busy for `seconds` (a synthetic burst): it blocks in
    slices and lets one round of other callbacks run between them, as a loop
    crowded with work does."""
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        time.sleep(min(HOG_SLICE_S, max(0.0, end - time.monotonic())))  # noqa: ASYNC251
        await asyncio.sleep(0)
    return {"held": args.seconds}


async def _fail(ctx: ToolContext, _: NoArgs) -> NoReturn:
    raise ToolError("the lab tool failed on purpose")


async def _mutate_context(ctx: ToolContext, _: NoArgs) -> dict[str, bool]:
    ctx.settings["tenant"] = "other"  # type: ignore[index]  # must raise: context is frozen
    return {"mutated": True}


async def _retarget_port(ctx: ToolContext, _: NoArgs) -> dict[str, bool]:
    ctx.data._tenant = "other"  # must raise: the port is read-only
    return {"retargeted": True}


class SizeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(default=100, ge=0, le=50_000_000)


async def _big(ctx: ToolContext, args: SizeArgs) -> dict[str, str]:
    return {"blob": "x" * args.n}


EFFECTS: list[str] = []  # what `slow_effect` did, in this process (tests read it)


async def _effect(ctx: ToolContext, args: SleepArgs) -> dict[str, bool]:
    """A T2 effect outside the store (a notification, a payment): it happens, then
    it sleeps; nothing can tell afterwards whether a cut-short call had its effect."""
    EFFECTS.append(ctx.idempotency_key or "")
    await asyncio.sleep(args.seconds)
    return {"effect": True}


class LabOrchestrator(BaseOrchestrator):
    agent = "lab"

    def build_tools(self) -> list[Tool]:
        return [
            function_tool("echo", Tier.T1, "Echo the context.", NoArgs, _echo),
            function_tool("slow", Tier.T1, "Sleep for a while.", SleepArgs, _slow),
            function_tool("hog", Tier.T1, "Block the event loop.", SleepArgs, _hog),
            function_tool("fail", Tier.T1, "Always fail.", NoArgs, _fail),
            function_tool(
                "mutate_context", Tier.T1, "Try to mutate the context.", NoArgs, _mutate_context
            ),
            function_tool(
                "retarget_port", Tier.T1, "Try to retarget the port.", NoArgs, _retarget_port
            ),
            function_tool(
                "slow_effect", Tier.T2, "A slow effect outside the store.", SleepArgs, _effect
            ),
            function_tool("big", Tier.T1, "Answer about n bytes.", SizeArgs, _big),
        ]

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return f"Lab agent for {context.get('tenant_name', 'a tenant')}."

    def get_greeting(self, context: dict[str, str]) -> str:
        return "Lab ready."

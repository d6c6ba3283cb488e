"""Salon agents for tests: the lab agent with the salon's tools, a canary chatbot."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime import Tier, Tool, ToolContext, function_tool
from runtime.testing import LabOrchestrator

from .agents import ChatbotOrchestrator
from .domain import DOCUMENT
from .tools import applied, change, read_tool, write_tool

SALON_LAB = {"lab": "salon.testing:SalonLab"}


class WriteArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    seconds: float = Field(default=0.0, ge=0, le=60)


async def _slow_write(ctx: ToolContext, args: WriteArgs) -> Any:
    """A T2 write that waits, then adds a service (once per idempotency key)."""
    await asyncio.sleep(args.seconds)
    key = ctx.idempotency_key or "unkeyed"
    service = {"name": args.name, "price": 1.0, "duration_min": 10}
    return await ctx.store().update(DOCUMENT, key, lambda doc: change(doc, "add_service", service))


class SalonLab(LabOrchestrator):
    """The lab's misbehaving tools plus the salon's service tools (T1, T2, T3)."""

    def build_tools(self) -> list[Tool]:
        slow_write = function_tool(
            "slow_write", Tier.T2, "A slow write.", WriteArgs, _slow_write, outcome=applied
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

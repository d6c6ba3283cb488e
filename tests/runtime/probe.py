"""A test-only agent ("probe") whose T1 tools count their calls or reject input.

Enable with `AgentCatalog(..., extra=PROBE_AGENT)`; `CALLS` counts handler
invocations per tool name (reset it in the test).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from runtime.errors import ToolError, ToolValidationError
from runtime.orchestrator import BaseOrchestrator
from runtime.tiers import Tier
from runtime.tools import NoArgs, Tool, ToolContext, function_tool

PROBE_AGENT = {"probe": "tests.runtime.probe:ProbeOrchestrator"}
CALLS: Counter[str] = Counter()


async def _count(ctx: ToolContext, _: NoArgs) -> Any:
    CALLS["count"] += 1
    return {"calls": CALLS["count"]}


async def _fail(ctx: ToolContext, _: NoArgs) -> Any:
    CALLS["fail"] += 1
    raise ToolError("probe failure")


async def _reject_input(ctx: ToolContext, _: NoArgs) -> Any:
    CALLS["reject_input"] += 1
    raise ToolValidationError("the probe does not like this input")


class ProbeOrchestrator(BaseOrchestrator):
    agent = "probe"

    def build_tools(self) -> list[Tool]:
        return [
            function_tool("count", Tier.T1, "Count calls.", NoArgs, _count),
            function_tool("fail", Tier.T1, "Always fail.", NoArgs, _fail),
            function_tool("reject_input", Tier.T1, "Reject its input.", NoArgs, _reject_input),
        ]

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return f"Probe agent for {context['tenant_name']}."

    def get_greeting(self, context: dict[str, str]) -> str:
        return "Probe ready."

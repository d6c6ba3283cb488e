"""Declared agents: an agent written in the config file, not in Python.

    [agents.support]
    preset = "chatbot"
    system_prompt = "You are the support agent of {tenant_name}."
    greeting = "Hi, how can I help?"
    tools = ["lookup_order", "refund", "mcp:crm"]

The prompt and greeting are templates over the prompt context (`tenant_name`,
and `agent` and `subject`), every value sanitised; the tools are the config's
`[tools.*]` and, for `mcp:NAME`, every tool of that MCP server.
"""

from __future__ import annotations

import string
from collections.abc import Callable

from runtime.config.presets import OrchestratorConfig

from ..errors import ConfigError
from ..models.base import Model
from ..orchestrator import BaseOrchestrator
from ..tools import Tool, ToolContext

FIELDS = ("tenant_name", "agent", "subject")


def check_template(template: str, where: str) -> None:
    """Only `{tenant_name}`, `{agent}`, `{subject}` (and `{{`/`}}`) in a template."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}: not a valid template ({exc})") from exc
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise ConfigError(f"{where}: unknown field {{{unknown[0]}}} (known: {', '.join(FIELDS)})")


class DeclaredAgent(BaseOrchestrator):
    def __init__(
        self,
        config: OrchestratorConfig,
        model: Model,
        clock: Callable[[], float] | None = None,
        *,
        name: str,
        system_prompt: str,
        greeting: str,
        tools: list[Tool],
    ) -> None:
        if clock is None:
            super().__init__(config, model, name=name)
        else:
            super().__init__(config, model, clock, name=name)
        self._prompt = system_prompt
        self._greeting = greeting
        self._tools = tools

    def build_tools(self) -> list[Tool]:
        return list(self._tools)

    async def prompt_context(self, ctx: ToolContext) -> dict[str, str]:
        return {"tenant_name": ctx.tenant_name, "agent": self.agent, "subject": ctx.subject}

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return self._prompt.format(**context)

    def get_greeting(self, context: dict[str, str]) -> str:
        return self._greeting.format(**context)

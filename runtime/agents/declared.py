"""Declared agents: an agent written in the config file, not in Python.

    [agents.support]
    preset = "chatbot"
    system_prompt = "You are the support agent of {tenant_name}."
    greeting = "Hi, how can I help?"
    tools = ["lookup_order", "refund", "mcp:crm"]

    [[agents.support.script]]
    match = '(?i)refund order (?P<order_id>[a-z]-\\d+)'
    tool = "refund"
    args = { order_id = "{order_id}" }

The prompt and greeting are templates over the prompt context (`tenant_name`,
and `agent` and `subject`), every value sanitised; the tools are the config's
`[tools.*]` and, for `mcp:NAME`, every tool of that MCP server. Its script
rules (`ScriptRule`s, for the offline ScriptedModel) come first, in order: the
first whose `match` is found in the text calls its tool with its `args`
templates filled from the named groups (typed as the tool's schema says).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from runtime.config.presets import OrchestratorConfig

from ..errors import ConfigError
from ..models.base import Model, Plan
from ..models.understand import coerce_args
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


@dataclass(frozen=True)
class Rule:
    """A compiled `[[agents.NAME.script]]` rule."""

    pattern: re.Pattern[str]
    tool: str
    args: Mapping[str, object]

    def plan(self, text: str, schema: Mapping[str, object]) -> Plan | None:
        m = self.pattern.search(text)
        if m is None:
            return None
        groups = {k: v or "" for k, v in m.groupdict().items()}
        args = {k: v.format(**groups) if isinstance(v, str) else v for k, v in self.args.items()}
        return [(self.tool, coerce_args(args, schema))]


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
        rules: list[Rule] | None = None,
    ) -> None:
        if clock is None:
            super().__init__(config, model, name=name)
        else:
            super().__init__(config, model, clock, name=name)
        self._prompt = system_prompt
        self._greeting = greeting
        self._tools = tools
        self._rules = list(rules or [])

    def build_tools(self) -> list[Tool]:
        return list(self._tools)

    def script(self, text: str, tools: set[str]) -> Plan:
        for rule in self._rules:
            tool = self.tools.get(rule.tool)
            if tool is None or rule.tool not in tools:
                continue
            plan = rule.plan(text, tool.parameters)
            if plan is not None:
                return plan
        return []

    async def prompt_context(self, ctx: ToolContext) -> dict[str, str]:
        return {"tenant_name": ctx.tenant_name, "agent": self.agent, "subject": ctx.subject}

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return self._prompt.format(**context)

    def get_greeting(self, context: dict[str, str]) -> str:
        return self._greeting.format(**context)

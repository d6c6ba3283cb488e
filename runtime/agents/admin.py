"""The admin assistant: manages the tenant's services for its staff."""

from __future__ import annotations

from ..models.base import Plan
from ..orchestrator import BaseOrchestrator
from ..tools import Tool
from .business import read_tool, write_tool
from .script import plan


class AdminOrchestrator(BaseOrchestrator):
    agent = "admin"

    def script(self, text: str, tools: set[str]) -> Plan:
        return plan(text, tools)

    def build_tools(self) -> list[Tool]:
        return [read_tool("list_services")] + [
            write_tool(n) for n in ("create_service", "update_service", "delete_service")
        ]

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return (
            f"You are the admin assistant of {context['name']}. "
            f"Services: {context['services']}. Creating and updating services waits for "
            "the user's next message; deleting needs an explicit confirmation."
        )

    def get_greeting(self, context: dict[str, str]) -> str:
        return f"Admin assistant for {context['name']} here. What would you like to change?"

"""The onboarding agent: walks a tenant's staff through setting up the business."""

from __future__ import annotations

from ..models.base import Plan
from ..orchestrator import BaseOrchestrator
from ..tools import Tool
from .business import read_tool, write_tool
from .script import plan


class OnboardingOrchestrator(BaseOrchestrator):
    agent = "onboarding"

    def script(self, text: str, tools: set[str]) -> Plan:
        return plan(text, tools)

    def build_tools(self) -> list[Tool]:
        return [read_tool("get_profile")] + [
            write_tool(n)
            for n in ("set_business_profile", "add_service", "set_hours", "publish_site")
        ]

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return (
            f"You help the staff of {context['name']} set up their business in four steps: "
            "profile, services, hours, publish. Every change you propose waits for the "
            "user's next message; a 'no' cancels it.\n"
            f"Current services: {context['services']}. Hours: {context['hours']}."
        )

    def get_greeting(self, context: dict[str, str]) -> str:
        return (
            f"Welcome! Let's get {context['name']} ready: tell me your business name, "
            "then your services, your opening hours, and I'll publish your site."
        )

"""The salon's three agents: a customer chatbot, staff onboarding, and an admin.

Python agent classes on Orchestra's public API (`runtime.BaseOrchestrator`):
tools from `salon.tools`, the business document's facts in their prompts, and
the keyword script the offline ScriptedModel follows for the demo journeys, and
the sentences it answers with (`replies`).
"""

from __future__ import annotations

from typing import Any

from runtime import BaseOrchestrator, Plan, Tool, ToolContext, ToolOutcome

from . import replies
from .domain import DOCUMENT, Business, context_summary, new_business
from .script import plan
from .tools import read_tool, write_tool


class SalonAgent(BaseOrchestrator):
    """What the three share: the business facts as prompt context, the demo script."""

    agent = "salon"

    async def context_version(self, ctx: ToolContext) -> int:
        version, _ = await ctx.store().read(DOCUMENT)
        return version

    async def prompt_context(self, ctx: ToolContext) -> dict[str, str]:
        doc: Business | None
        _, doc = await ctx.store().read(DOCUMENT)
        return context_summary(doc or new_business())

    def script(self, text: str, tools: set[str]) -> Plan:
        return plan(text, tools)

    def narrate(self, outcome: ToolOutcome) -> str | None:
        return replies.narrate(outcome)

    def gate(self, tool: str, args: dict[str, Any], done: list[ToolOutcome]) -> str | None:
        return replies.gate(tool, args, done)


class ChatbotOrchestrator(SalonAgent):
    agent = "chatbot"

    def build_tools(self) -> list[Tool]:
        return [
            read_tool("list_services"),
            read_tool("check_availability"),
            write_tool("book_appointment"),
        ]

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return (
            f"You are the booking assistant of {context['name']}. "
            f"Services: {context['services']}. Hours: {context['hours']}. "
            "Check availability before proposing a booking; a booking needs the "
            "customer's explicit confirmation."
        )

    def get_greeting(self, context: dict[str, str]) -> str:
        return f"Hi! I'm the assistant of {context['name']}. How can I help you today?"


class OnboardingOrchestrator(SalonAgent):
    agent = "onboarding"

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


class AdminOrchestrator(SalonAgent):
    agent = "admin"

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

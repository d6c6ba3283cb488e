"""The customer chatbot: answers customers and books appointments (T3)."""

from __future__ import annotations

from ..models.base import Plan
from ..orchestrator import BaseOrchestrator
from ..tools import Tool
from .business import read_tool, write_tool
from .script import plan


class ChatbotOrchestrator(BaseOrchestrator):
    agent = "chatbot"

    def script(self, text: str, tools: set[str]) -> Plan:
        return plan(text, tools)

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

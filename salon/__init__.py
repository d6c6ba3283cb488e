"""The demo salon: three agents and their business tools, as a plugin.

Built only on Orchestra's public API (`runtime`: `BaseOrchestrator`,
`function_tool`, `ToolContext`, tenant data) and declared in a config file
like any team's agents: `DEFAULT_CONFIG` is what `orchestra serve` runs when
no other agents are configured.
"""

from pathlib import Path

from .agents import AdminOrchestrator, ChatbotOrchestrator, OnboardingOrchestrator, SalonAgent
from .domain import DEFAULT_BUSINESS, DOCUMENT, apply_op, context_summary, new_business, resolve_day
from .tools import read_business, read_tool, write_tool

DEFAULT_CONFIG = Path(__file__).with_name("orchestra.toml")

__all__ = [
    "DEFAULT_BUSINESS",
    "DEFAULT_CONFIG",
    "DOCUMENT",
    "AdminOrchestrator",
    "ChatbotOrchestrator",
    "OnboardingOrchestrator",
    "SalonAgent",
    "apply_op",
    "context_summary",
    "new_business",
    "read_business",
    "read_tool",
    "resolve_day",
    "write_tool",
]

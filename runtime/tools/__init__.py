"""Tools from three sources under one shape (`Tool`), each with a trust tier."""

from .base import Args, NoArgs, OutcomeCheck, Tool, ToolContext, ToolRegistry
from .python import function_tool, load_tool, tool

__all__ = [
    "Args",
    "NoArgs",
    "OutcomeCheck",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "function_tool",
    "load_tool",
    "tool",
]

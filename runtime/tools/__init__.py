"""Tools from three sources under one shape (`Tool`), each with a trust tier."""

from .base import Args, NoArgs, OutcomeCheck, Tool, ToolContext, ToolRegistry
from .endpoints import endpoint_of, redact_urls
from .python import function_tool, load_tool, tool
from .run import cap_result, run_tool

__all__ = [
    "Args",
    "NoArgs",
    "OutcomeCheck",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "cap_result",
    "endpoint_of",
    "function_tool",
    "load_tool",
    "redact_urls",
    "run_tool",
    "tool",
]

"""Models: the `Model` protocol, the offline `ScriptedModel` and the vendor adapters.

`AnthropicModel` and `OpenAIModel` are imported on first use: their SDKs take a
while to import, and a process that runs the scripted model needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    Block,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    StreamEnd,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolOutcome,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
    assistant_text,
    collect,
    message_from_dict,
    message_to_dict,
    stream_response,
    user_text,
)
from .scripted import ScriptedModel

if TYPE_CHECKING:
    from .anthropic import AnthropicModel
    from .openai import OpenAIModel

__all__ = [
    "AnthropicModel",
    "Block",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "OpenAIModel",
    "ScriptedModel",
    "StreamEnd",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ToolOutcome",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
    "Usage",
    "assistant_text",
    "collect",
    "message_from_dict",
    "message_to_dict",
    "stream_response",
    "user_text",
]


def __getattr__(name: str) -> object:
    if name == "AnthropicModel":
        from .anthropic import AnthropicModel

        return AnthropicModel
    if name == "OpenAIModel":
        from .openai import OpenAIModel

        return OpenAIModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

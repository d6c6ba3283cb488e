"""Models: the `Model` protocol, the offline `ScriptedModel` and `AnthropicModel`."""

from .anthropic import AnthropicModel
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

__all__ = [
    "AnthropicModel",
    "Block",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ScriptedModel",
    "StreamEnd",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
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

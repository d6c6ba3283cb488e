"""Models: the `Model` protocol, the offline `ScriptedModel` and `AnthropicModel`."""

from .base import (
    Block,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
    assistant_text,
    message_from_dict,
    message_to_dict,
    user_text,
)

__all__ = [
    "Block",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "TextBlock",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
    "Usage",
    "assistant_text",
    "message_from_dict",
    "message_to_dict",
    "user_text",
]

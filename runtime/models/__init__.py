"""Models: the `Model` protocol, the offline `ScriptedModel` and `AnthropicModel`."""

from .anthropic import AnthropicModel
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
from .scripted import ScriptedModel

__all__ = [
    "AnthropicModel",
    "Block",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ScriptedModel",
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

"""`AnthropicModel`: the `Model` protocol over the official Anthropic SDK.

The SDK's own retries are off (`max_retries=0`): `runtime.retry` owns them,
driven by `classify()`. Every SDK exception is turned into a `ModelError` at
this boundary, so callers only ever see our error tree.

`ModelRequest.temperature` is not sent: SDK 2.x speaks API version 2026-10-21,
which removed the sampling parameters (the SDK has no `temperature` argument,
and the API answers 400 to one smuggled in through `extra_body`).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from types import TracebackType
from typing import cast

import anthropic
from anthropic.types import Message as SDKMessage
from anthropic.types import (
    MessageParam,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)

from ..errors import (
    ConfigError,
    ErrorClass,
    ModelError,
    classify,
    classify_status,
    retry_after_of,
)
from ..retry import OnRetry, RetryPolicy, Sleep, retry
from .base import (
    Block,
    Message,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
    block_to_dict,
    stream_response,
)

DEFAULT_MODEL = "claude-sonnet-4-6"
OVERLOADED = 529  # Anthropic's "overloaded_error": transient, retry with backoff

BlockParam = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam


class AnthropicModel:
    """Answers `ModelRequest`s with the Anthropic Messages API."""

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        default_model: str = DEFAULT_MODEL,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        on_retry: OnRetry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ConfigError(
                "AnthropicModel needs an API key: pass api_key= or set ANTHROPIC_API_KEY"
            )
        self.default_model = default_model
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._on_retry = on_retry
        self._rng = rng
        self._client = anthropic.AsyncAnthropic(
            api_key=key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One completion; RATE_LIMIT/NETWORK errors are retried per `policy`."""

        async def once() -> ModelResponse:
            return await self._create(request)

        return await retry(
            once, self.policy, sleep=self._sleep, on_retry=self._on_retry, rng=self._rng
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        async for event in stream_response(await self.complete(request)):
            yield event

    async def _create(self, request: ModelRequest) -> ModelResponse:
        tools = [to_tool_param(t) for t in request.tools]
        try:
            message = await self._client.messages.create(
                model=request.model or self.default_model,
                max_tokens=request.max_tokens,
                system=request.system if request.system else anthropic.omit,
                messages=[to_message_param(m) for m in request.messages],
                tools=tools if tools else anthropic.omit,
            )
        except anthropic.AnthropicError as exc:
            raise to_model_error(exc) from exc
        return from_sdk_message(message)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> AnthropicModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def to_block_param(block: Block) -> BlockParam:
    # Our stored block shape is the Messages API's own.
    return cast(BlockParam, block_to_dict(block))


def to_message_param(message: Message) -> MessageParam:
    content = [to_block_param(b) for b in message.content]
    if message.role == "user":
        return {"role": "user", "content": content}
    return {"role": "assistant", "content": content}


def to_tool_param(tool: ToolSpec) -> ToolParam:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


def from_sdk_message(message: SDKMessage) -> ModelResponse:
    """Keep text and tool_use blocks; other kinds (thinking, server tools) are dropped."""
    blocks: list[Block] = []
    for block in message.content:
        if block.type == "text":
            blocks.append(TextBlock(block.text))
        elif block.type == "tool_use":
            blocks.append(ToolUseBlock(block.id, block.name, dict(block.input)))
    return ModelResponse(
        content=tuple(blocks),
        stop_reason=message.stop_reason or "end_turn",
        usage=Usage(message.usage.input_tokens, message.usage.output_tokens),
    )


def to_model_error(exc: anthropic.AnthropicError) -> ModelError:
    """Map an SDK exception to a `ModelError` carrying class, status and retry-after."""
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        error_class = ErrorClass.NETWORK if status == OVERLOADED else classify_status(status)
        kind = f" {exc.type}" if exc.type else ""
        return ModelError(
            f"anthropic HTTP {status}{kind}: {exc.message}",
            error_class,
            status_code=status,
            retry_after=retry_after_of(exc),
        )
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return ModelError(f"anthropic unreachable: {exc}", ErrorClass.NETWORK)
    return ModelError(f"anthropic: {exc}", classify(exc))

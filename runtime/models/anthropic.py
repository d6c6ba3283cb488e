"""`AnthropicModel`: the `Model` protocol over the official Anthropic SDK, streaming.

`stream()` makes one streaming request (`messages.create(stream=True)`) and
turns the server-sent events into ours as they arrive: each `text_delta` is a
`TextDelta`; a tool call's `input_json_delta` fragments are gathered per
content-block index and yielded as one `ToolUseBlock` at its
`content_block_stop`; `message_start`/`message_delta` usage and stop reason
make the closing `StreamEnd` at `message_stop`. It never retries: once text
has reached a client only the orchestrator may decide what a retry means.
`complete()` is `collect(stream())` under the adapter's own `RetryPolicy`.

The SDK's own retries are off (`max_retries=0`). Every failure becomes a
`ModelError` at this boundary: an HTTP error before the stream (by status,
with the server's `retry-after`), an `error` event inside it (by its error
type: `overloaded_error` is NETWORK), a transport error mid-stream (the SDK
does not wrap those) and a stream that ends before `message_stop`.

`ModelRequest.temperature` is not sent: SDK 2.x speaks API version 2026-10-21,
which removed the sampling parameters (the SDK has no `temperature` argument,
and the API answers 400 to one smuggled in through `extra_body`).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Unpack, cast

import anthropic
import httpx2  # the SDK's transport: its errors mid-stream reach us unwrapped
from anthropic.types import (
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)

from ..errors import ConfigError, ErrorClass, ModelError, classify_status, parse_retry_after
from .base import (
    Block,
    Message,
    ModelRequest,
    SdkModel,
    SdkOptions,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolSpec,
    ToolUseBlock,
    Usage,
    block_to_dict,
)

DEFAULT_MODEL = "claude-sonnet-4-6"

BlockParam = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam

# The `error.type` of an `error` event inside a stream (its HTTP status was 200).
STREAM_ERROR_CLASSES: dict[str, ErrorClass] = {
    "overloaded_error": ErrorClass.NETWORK,
    "api_error": ErrorClass.NETWORK,
    "timeout_error": ErrorClass.NETWORK,
    "rate_limit_error": ErrorClass.RATE_LIMIT,
    "authentication_error": ErrorClass.AUTH,
    "permission_error": ErrorClass.AUTH,
    "invalid_request_error": ErrorClass.VALIDATION,
    "not_found_error": ErrorClass.VALIDATION,
    "request_too_large": ErrorClass.VALIDATION,
}


class AnthropicModel(SdkModel[anthropic.AsyncAnthropic]):
    """Answers `ModelRequest`s with the Anthropic Messages API."""

    name = "anthropic"

    def __init__(
        self, *, default_model: str = DEFAULT_MODEL, **options: Unpack[SdkOptions]
    ) -> None:
        """`default_model` stands in for an empty `request.model`; the API key
        defaults to `ANTHROPIC_API_KEY`."""
        self.default_model = default_model
        super().__init__(**options)

    def _connect(
        self, api_key: str | None, base_url: str | None, timeout: float
    ) -> anthropic.AsyncAnthropic:
        key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ConfigError(
                "AnthropicModel needs an API key: pass api_key= or set ANTHROPIC_API_KEY"
            )
        return anthropic.AsyncAnthropic(
            api_key=key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """One streaming attempt: events as they arrive; `ModelError` on any failure."""
        tools = [to_tool_param(t) for t in request.tools]
        try:
            events = await self._client.messages.create(
                model=self.model or request.model or self.default_model,
                max_tokens=request.max_tokens,
                system=request.system if request.system else anthropic.omit,
                messages=[to_message_param(m) for m in request.messages],
                tools=tools if tools else anthropic.omit,
                stream=True,
            )
        except anthropic.AnthropicError as exc:
            raise to_model_error(exc) from exc
        assembler = StreamAssembler()
        try:
            async with events:
                async for raw in events:
                    event = assembler.feed(raw)
                    if event is not None:
                        yield event
        except anthropic.AnthropicError as exc:
            raise to_model_error(exc) from exc
        except httpx2.TransportError as exc:
            raise ModelError(f"anthropic stream broken: {exc!r}", ErrorClass.NETWORK) from exc
        except json.JSONDecodeError as exc:
            raise ModelError(f"anthropic stream garbled: {exc}", ErrorClass.NETWORK) from exc
        if not assembler.done:
            raise ModelError("anthropic stream ended before message_stop", ErrorClass.NETWORK)


class StreamAssembler:
    """Turns one message's raw stream events into `StreamEvent`s (at most one each).

    Blocks other than text and tool_use (thinking, server tools) are dropped.
    """

    def __init__(self) -> None:
        self.tools: dict[int, tuple[str, str, list[str]]] = {}  # index -> id, name, fragments
        self.stop_reason = "end_turn"
        self.input_tokens = 0
        self.output_tokens = 0
        self.done = False

    def feed(self, event: RawMessageStreamEvent) -> StreamEvent | None:
        if isinstance(event, RawContentBlockDeltaEvent):
            delta = event.delta
            if delta.type == "text_delta" and delta.text:
                return TextDelta(delta.text)
            if delta.type == "input_json_delta" and event.index in self.tools:
                self.tools[event.index][2].append(delta.partial_json)
        elif isinstance(event, RawContentBlockStartEvent):
            block = event.content_block
            if block.type == "tool_use":
                self.tools[event.index] = (block.id, block.name, [])
            elif block.type == "text" and block.text:
                return TextDelta(block.text)
        elif isinstance(event, RawContentBlockStopEvent):
            if event.index in self.tools:
                return tool_use(*self.tools.pop(event.index))
        elif isinstance(event, RawMessageStartEvent):
            self.input_tokens = event.message.usage.input_tokens
            self.output_tokens = event.message.usage.output_tokens
        elif isinstance(event, RawMessageDeltaEvent):
            if event.delta.stop_reason:
                self.stop_reason = event.delta.stop_reason
            if event.usage.input_tokens is not None:  # the counts are cumulative
                self.input_tokens = event.usage.input_tokens
            self.output_tokens = event.usage.output_tokens
        elif isinstance(event, RawMessageStopEvent):
            self.done = True
            return StreamEnd(self.stop_reason, Usage(self.input_tokens, self.output_tokens))
        return None


def tool_use(tool_id: str, name: str, fragments: list[str]) -> ToolUseBlock:
    """A whole tool call from its input's JSON fragments (none: an empty input)."""
    raw = "".join(fragments)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"anthropic tool call {name!r} has invalid input JSON: {exc}", ErrorClass.VALIDATION
        ) from exc
    if not isinstance(data, dict):
        raise ModelError(
            f"anthropic tool call {name!r} input is not a JSON object", ErrorClass.VALIDATION
        )
    return ToolUseBlock(tool_id, name, data)


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


def to_model_error(exc: anthropic.AnthropicError) -> ModelError:
    """Map an SDK exception to a `ModelError` carrying class, status and retry-after."""
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        kind = f" {exc.type}" if exc.type else ""
        if status < 400:  # an `error` event inside a stream that began with 200
            error_class = STREAM_ERROR_CLASSES.get(exc.type or "", ErrorClass.NETWORK)
            detail = exc.api_message or exc.message
            return ModelError(f"anthropic stream error{kind}: {detail}", error_class)
        return ModelError(
            f"anthropic HTTP {status}{kind}: {exc.message}",
            classify_status(status),  # 529 overloaded_error, like 5xx: NETWORK
            status_code=status,
            retry_after=parse_retry_after(exc.response.headers),
        )
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        cause = f" ({exc.__cause__!r})" if exc.__cause__ else ""
        return ModelError(f"anthropic connection failed: {exc}{cause}", ErrorClass.NETWORK)
    return ModelError(f"anthropic: {exc}", ErrorClass.UNKNOWN)

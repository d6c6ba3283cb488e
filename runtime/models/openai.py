"""`OpenAIModel`: the `Model` protocol over the official OpenAI SDK's Chat Completions.

Chat Completions is the API that OpenAI and the local servers (vLLM, Ollama,
llama.cpp's server) all speak, so this adapter is how Orchestra runs on them:
point `OPENAI_BASE_URL` at the server and name the model it serves
(`ORCHESTRA_MODEL_NAME`; it wins over `request.model`, whose default from the
agent presets is a Claude model). Local servers ignore the API key, but the
SDK needs one: a placeholder is used when a base URL is set without a key.

Our messages are Anthropic-shaped blocks; they are converted here: the system
prompt becomes a `system` message, an assistant turn's tool_use blocks its
`tool_calls` (arguments as a JSON string), each tool_result a `role: "tool"`
message answering its `tool_call_id` (an error result is marked "Error: ",
the API having no such flag). `max_tokens` is sent, not `max_completion_tokens`,
which the local servers do not all understand.

`stream()` makes one streaming request (`stream_options.include_usage`): each
`delta.content` is a `TextDelta`; tool-call fragments (id and name first,
`function.arguments` split over many deltas) are gathered per index and
yielded as `ToolUseBlock`s when the choice finishes; the finish reason and
the final usage chunk make `StreamEnd`. It never retries (the orchestrator
decides); `complete()` is `collect(stream())` under the adapter's own
`RetryPolicy`. SDK retries are off and every failure becomes a `ModelError`
here: HTTP errors by status (with `retry-after`), transport errors, an error
object inside the stream (`{"error": {...}}`, or bare as older vLLM sends it)
and a stream cut before its finish reason (NETWORK),
and tool arguments that are not a JSON object (VALIDATION).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import openai
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from ..errors import ConfigError, ErrorClass, ModelError, classify_status, parse_retry_after
from .base import (
    Message,
    ModelRequest,
    SdkModel,
    StreamEnd,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
)

PLACEHOLDER_KEY = "not-needed"  # local servers ignore the key; the SDK wants one

STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAIModel(SdkModel[openai.AsyncOpenAI]):
    """Answers `ModelRequest`s with an OpenAI-compatible Chat Completions server."""

    name = "openai"

    def _connect(
        self, api_key: str | None, base_url: str | None, timeout: float
    ) -> openai.AsyncOpenAI:
        """`api_key` and `base_url` default to `OPENAI_API_KEY` and `OPENAI_BASE_URL`."""
        url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY") or (PLACEHOLDER_KEY if url else None)
        if not key:
            raise ConfigError(
                "OpenAIModel needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local server"
            )
        return openai.AsyncOpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=0)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """One streaming attempt: events as they arrive; `ModelError` on any failure."""
        model = self.model or request.model
        if not model:
            raise ModelError(
                "openai: no model name (set ORCHESTRA_MODEL_NAME)", ErrorClass.VALIDATION
            )
        tools = [to_tool_param(t) for t in request.tools]
        try:
            chunks = await self._client.chat.completions.create(
                model=model,
                messages=to_chat_messages(request.system, request.messages),
                tools=tools if tools else openai.omit,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
        except openai.OpenAIError as exc:
            raise to_model_error(exc) from exc
        assembler = ChunkAssembler()
        try:
            async with chunks:
                async for chunk in chunks:
                    for event in assembler.feed(chunk):
                        yield event
        except openai.OpenAIError as exc:
            raise to_model_error(exc) from exc
        except json.JSONDecodeError as exc:
            raise ModelError(f"openai stream garbled: {exc}", ErrorClass.NETWORK) from exc
        yield assembler.end()


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChunkAssembler:
    """Turns the chunks of one completion (its first choice) into `StreamEvent`s."""

    def __init__(self) -> None:
        self.calls: dict[int, _Call] = {}
        self.finish_reason: str | None = None
        self.usage = Usage()

    def feed(self, chunk: ChatCompletionChunk) -> list[StreamEvent]:
        if not isinstance(chunk.choices, list):  # not a chunk: a bare error object
            detail = getattr(chunk, "message", None) or "not a chat.completion.chunk"
            raise ModelError(f"openai stream error: {detail}", ErrorClass.NETWORK)
        if chunk.usage is not None:
            self.usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        events: list[StreamEvent] = []
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.content:
                events.append(TextDelta(delta.content))
            for fragment in delta.tool_calls or ():
                call = self.calls.setdefault(fragment.index, _Call())
                call.id = fragment.id or call.id
                if fragment.function is not None:
                    call.name = fragment.function.name or call.name
                    call.arguments.append(fragment.function.arguments or "")
            if choice.finish_reason is not None and self.finish_reason is None:
                self.finish_reason = choice.finish_reason
                events.extend(tool_use(self.calls[i]) for i in sorted(self.calls))
        return events

    def end(self) -> StreamEnd:
        if self.finish_reason is None:
            raise ModelError("openai stream ended before its finish reason", ErrorClass.NETWORK)
        # Some servers finish a tool-calling turn with "stop": the calls decide.
        stop = (
            "tool_use" if self.calls else STOP_REASONS.get(self.finish_reason, self.finish_reason)
        )
        return StreamEnd(stop, self.usage)


def tool_use(call: _Call) -> ToolUseBlock:
    if not call.name:
        raise ModelError("openai tool call without a function name", ErrorClass.VALIDATION)
    raw = "".join(call.arguments)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"openai tool call {call.name!r} has invalid arguments JSON: {exc}",
            ErrorClass.VALIDATION,
        ) from exc
    if not isinstance(data, dict):
        raise ModelError(
            f"openai tool call {call.name!r} arguments are not a JSON object",
            ErrorClass.VALIDATION,
        )
    return ToolUseBlock(call.id or f"call_{uuid.uuid4().hex[:24]}", call.name, data)


def to_chat_messages(
    system: str, messages: tuple[Message, ...]
) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = []
    if system:
        out.append({"role": "system", "content": system})
    for message in messages:
        text = "".join(b.text for b in message.content if isinstance(b, TextBlock))
        if message.role == "assistant":
            calls = [to_tool_call(b) for b in message.tool_uses]
            if calls:
                out.append({"role": "assistant", "content": text or None, "tool_calls": calls})
            else:
                out.append({"role": "assistant", "content": text})
            continue
        for block in message.content:  # tool results first: they answer the calls before
            if isinstance(block, ToolResultBlock):
                content = f"Error: {block.content}" if block.is_error else block.content
                out.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": content})
        if text or not message.is_tool_result:
            out.append({"role": "user", "content": text})
    return out


def to_tool_call(block: ToolUseBlock) -> ChatCompletionMessageFunctionToolCallParam:
    return {
        "id": block.id,
        "type": "function",
        "function": {"name": block.name, "arguments": json.dumps(block.input)},
    }


def to_tool_param(tool: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.input_schema,
        },
    }


def to_model_error(exc: openai.OpenAIError) -> ModelError:
    """Map an SDK exception to a `ModelError` carrying class, status and retry-after."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return ModelError(
            f"openai HTTP {status}: {exc.message}",
            classify_status(status),
            status_code=status,
            retry_after=parse_retry_after(exc.response.headers),
        )
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError, cut streams
        cause = f" ({exc.__cause__!r})" if exc.__cause__ else ""
        return ModelError(f"openai connection failed: {exc}{cause}", ErrorClass.NETWORK)
    if isinstance(exc, openai.APIError):  # an error object inside a stream that began with 200
        return ModelError(f"openai stream error: {exc.message}", ErrorClass.NETWORK)
    return ModelError(f"openai: {exc}", ErrorClass.UNKNOWN)

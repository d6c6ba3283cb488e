"""The `Model` protocol and the message shapes it speaks (Anthropic-like blocks).

A model answers a `ModelRequest` in one of two ways:

- `stream(request)`: an async iterator of `StreamEvent`s as the model makes them:
  `TextDelta` (a piece of text), `ToolUseBlock` (a complete tool call, yielded once
  its input is whole) and, last, `StreamEnd` (stop reason and token usage).
- `complete(request)`: the whole `ModelResponse`; `collect()` builds it from a stream.

Adapters raise `ModelError` (runtime.errors) for every failure, before or during
the stream; a stream that raised after a `TextDelta` must not be retried by
whoever already forwarded that text.
"""

from __future__ import annotations

import asyncio
import json
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Literal, Protocol, Self, TypedDict, TypeVar, runtime_checkable

from ..retry import OnRetry, RetryPolicy, Sleep, retry
from ..store.payloads import BlockDict, StoredMessage


@dataclass(frozen=True, slots=True)
class TextBlock:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ToolUseBlock:
    id: str
    name: str
    input: dict[str, object]
    type: Literal["tool_use"] = "tool_use"


@dataclass(frozen=True, slots=True)
class ToolResultBlock:
    tool_use_id: str
    content: str
    is_error: bool = False
    type: Literal["tool_result"] = "tool_result"


Block = TextBlock | ToolUseBlock | ToolResultBlock


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["user", "assistant"]
    content: tuple[Block, ...]
    at: float = 0.0
    _tool_result: bool = field(init=False, repr=False, compare=False, default=False)
    _words: int = field(init=False, repr=False, compare=False, default=-1)

    @property
    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_uses(self) -> tuple[ToolUseBlock, ...]:
        return tuple(b for b in self.content if isinstance(b, ToolUseBlock))

    @property
    def is_tool_result(self) -> bool:
        return self._tool_result

    def words(self) -> int:
        """About how many words the message holds, a tool call counted as
        `name {json}` (the ScriptedModel's tokens). Counted once: a history's
        messages are in every request of the session."""
        if self._words < 0:
            n = 0
            for b in self.content:
                if isinstance(b, TextBlock):
                    n += len(b.text.split())
                elif isinstance(b, ToolResultBlock):
                    n += len(b.content.split())
                else:
                    n += len((b.name + " " + json.dumps(b.input)).split())
            object.__setattr__(self, "_words", n)
        return self._words

    def __post_init__(self) -> None:
        # asked of every message on every turn (window cuts, transcripts): once here
        tool_result = any(isinstance(b, ToolResultBlock) for b in self.content)
        object.__setattr__(self, "_tool_result", tool_result)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, object]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


Plan = list[tuple[str, dict[str, object]]]
# An agent's script for the offline ScriptedModel: (user text, tool names) -> calls.
Planner = Callable[[str, set[str]], Plan]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A tool call of this turn and its result, as the model saw them."""

    name: str
    args: dict[str, object]
    content: str
    is_error: bool = False


# The ScriptedModel's phrasing of a result: a sentence, or None for its own summary.
Narrator = Callable[[ToolOutcome], str | None]
# Before the next planned call (name, args, the outcomes so far): None makes it;
# a text is said instead and the plan stops there.
Gate = Callable[[str, dict[str, object], list[ToolOutcome]], str | None]


@dataclass(frozen=True, slots=True)
class ModelRequest:
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    model: str = ""
    max_tokens: int = 1024
    temperature: float = 0.2
    purpose: Literal["chat", "summary"] = "chat"
    script: Planner | None = None  # read by ScriptedModel only; real models ignore it
    narrate: Narrator | None = None  # ScriptedModel only
    gate: Gate | None = None  # ScriptedModel only


@dataclass(frozen=True, slots=True)
class ModelResponse:
    content: tuple[Block, ...]
    stop_reason: str = "end_turn"
    usage: Usage = field(default_factory=Usage)

    @property
    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_uses(self) -> tuple[ToolUseBlock, ...]:
        return tuple(b for b in self.content if isinstance(b, ToolUseBlock))


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the model's text, as it arrives."""

    text: str
    type: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a stream."""

    stop_reason: str = "end_turn"
    usage: Usage = field(default_factory=Usage)
    type: Literal["stream_end"] = "stream_end"


StreamEvent = TextDelta | ToolUseBlock | StreamEnd


class SdkClient(Protocol):
    """What `SdkModel` needs of a vendor SDK's async client (the rest is the adapter's)."""

    async def close(self) -> None: ...


C = TypeVar("C", bound=SdkClient)


@runtime_checkable
class Model(Protocol):
    """Anything that answers a `ModelRequest`. Raise `ModelError` for every failure."""

    name: str

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Text deltas and complete tool-use blocks as they arrive, then `StreamEnd`."""
        ...

    async def complete(self, request: ModelRequest) -> ModelResponse: ...


class SdkOptions(TypedDict, total=False):
    """What every `SdkModel` takes (keywords): `model`, when given, wins over
    `request.model`; `api_key`, `base_url` and `timeout` are the SDK client's
    (each adapter says where a missing key or URL comes from); `policy` (with
    `sleep`, `on_retry` and `rng`) is how `complete()` retries."""

    model: str | None
    api_key: str | None
    base_url: str | None
    timeout: float
    policy: RetryPolicy | None
    sleep: Sleep
    on_retry: OnRetry | None
    rng: random.Random | None


class SdkModel(ABC, Generic[C]):
    """A model adapter over a vendor SDK: it owns the SDK's client (`aclose()`, or
    `async with model:`), streams in `stream()` (one attempt), and answers
    `complete()` from a stream, retrying RATE_LIMIT/NETWORK errors per `policy`.
    A subclass makes its client in `_connect` (the SDK's own retries off)."""

    def __init__(
        self,
        *,
        model: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        on_retry: OnRetry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.model = model
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep, self._on_retry, self._rng = sleep, on_retry, rng
        self._client = self._connect(api_key, base_url, timeout)

    @abstractmethod
    def _connect(self, api_key: str | None, base_url: str | None, timeout: float) -> C:
        """The SDK's client; `ConfigError` when it cannot be made (no key)."""

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """One whole response; RATE_LIMIT/NETWORK errors are retried per `policy`."""
        return await retry(
            lambda: collect(self.stream(request)),
            self.policy,
            sleep=self._sleep,
            on_retry=self._on_retry,
            rng=self._rng,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def collect(events: AsyncIterator[StreamEvent]) -> ModelResponse:
    """A whole `ModelResponse` from a stream (adjacent text deltas joined in one block)."""
    blocks: list[Block] = []
    text: list[str] = []
    end = StreamEnd()
    async for event in events:
        if isinstance(event, TextDelta):
            text.append(event.text)
            continue
        if text:
            blocks.append(TextBlock("".join(text)))
            text = []
        if isinstance(event, ToolUseBlock):
            blocks.append(event)
        else:
            end = event
    if text:
        blocks.append(TextBlock("".join(text)))
    return ModelResponse(tuple(blocks), stop_reason=end.stop_reason, usage=end.usage)


async def stream_response(response: ModelResponse) -> AsyncIterator[StreamEvent]:
    """A whole response as a stream (for models that only answer whole)."""
    for block in response.content:
        if isinstance(block, TextBlock):
            yield TextDelta(block.text)
        elif isinstance(block, ToolUseBlock):
            yield block
    yield StreamEnd(response.stop_reason, response.usage)


def user_text(text: str, at: float = 0.0) -> Message:
    return Message(role="user", content=(TextBlock(text),), at=at)


def assistant_text(text: str, at: float = 0.0) -> Message:
    return Message(role="assistant", content=(TextBlock(text),), at=at)


def block_to_dict(block: Block) -> BlockDict:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return {
        "type": "tool_result",
        "tool_use_id": block.tool_use_id,
        "content": block.content,
        "is_error": block.is_error,
    }


def block_from_dict(data: BlockDict) -> Block:
    """A stored block read back (JSON, so its type is checked: unknown is a ValueError)."""
    if data.get("type") not in ("text", "tool_use", "tool_result"):
        raise ValueError(f"unknown block type {data.get('type')!r}")
    if data["type"] == "text":
        return TextBlock(str(data["text"]))
    if data["type"] == "tool_use":
        return ToolUseBlock(str(data["id"]), str(data["name"]), dict(data["input"]))
    return ToolResultBlock(
        str(data["tool_use_id"]), str(data["content"]), bool(data.get("is_error", False))
    )


def message_to_dict(msg: Message) -> StoredMessage:
    return {"role": msg.role, "at": msg.at, "content": [block_to_dict(b) for b in msg.content]}


def message_from_dict(data: StoredMessage) -> Message:
    """A stored message read back (JSON: its role is checked, not trusted)."""
    role = data["role"]
    if role not in ("user", "assistant"):
        raise ValueError(f"bad role {role!r}")
    return Message(
        role=role,
        content=tuple(block_from_dict(b) for b in data["content"]),
        at=float(data.get("at", 0.0)),
    )

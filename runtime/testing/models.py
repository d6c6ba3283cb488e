"""`RecordingModel`: a model wrapper that keeps every request it answered.

Tests of prompts (what the system prompt says, which history the model saw,
when a summary was asked for) read the requests back; the answers come from
the wrapped model, the ScriptedModel by default, through both halves of the
`Model` protocol (`complete` and `stream`), as the orchestrator calls them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..models.base import Model, ModelRequest, ModelResponse, StreamEvent
from ..models.scripted import ScriptedModel


@dataclass
class RecordingModel:
    """Wraps a model and keeps every request it answered."""

    inner: Model = field(default_factory=ScriptedModel)
    name: str = "recording"
    requests: list[ModelRequest] = field(default_factory=list)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return await self.inner.complete(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        async for event in self.inner.stream(request):
            yield event

    def chats(self) -> list[ModelRequest]:
        return [r for r in self.requests if r.purpose == "chat"]

    def summaries(self) -> list[ModelRequest]:
        return [r for r in self.requests if r.purpose == "summary"]

    def last_system(self) -> str:
        return self.chats()[-1].system

"""What one session owns and what one turn produces (used by the orchestrator).

`SessionState` is the session actor's memory (snapshotted to the store every
turn); `TurnResult` is one user message's outcome; `ProposalPort` is how a
turn reaches the proposal registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from runtime.audit import AuditEvent
from runtime.breaker import CircuitBreaker
from runtime.events import Emit, TurnEvent
from runtime.inbound import Inbound
from runtime.models.base import Message
from runtime.principals import Actor
from runtime.proposals.model import Proposal
from runtime.shapes import ToolCallOut, TurnOut
from runtime.store.payloads import SessionSnapshot, StepRecord, TurnRecord
from runtime.store.protocol import SessionRecord
from runtime.tiers import Tier, TierCounter
from runtime.tools import ToolContext

from .history import History


class ProposalPort(Protocol):
    """How a turn reaches the proposal registry (its single writer)."""

    async def on_user_message(self, msg: Inbound, now: float) -> list[Proposal]:
        """Soft-confirm, refuse or expire the session's pending T2s that the message
        (received at `msg.received_ns`) was sent after; a repeat of its `message_id`
        reports the decisions it made the first time."""
        ...


@dataclass(slots=True)
class SessionState:
    """What a session actor owns in memory (snapshotted to the store each turn).

    One per live session, so it is slotted and its empty parts are shared
    (`pending_t2` is an immutable set, replaced when it changes)."""

    record: SessionRecord
    history: History
    breaker: CircuitBreaker
    pending_t2: frozenset[str] = frozenset()
    last_usage: dict[str, int] = field(default_factory=lambda: {t.value: 0 for t in Tier})
    context: dict[str, str] | None = None
    context_at: float = 0.0
    context_version: int = -1
    # Results of the newest turns by message id: a retried message returns its
    # first result instead of running twice (saved with the turn, atomically).
    recent: dict[str, TurnOut] = field(default_factory=dict)
    turns: int = 0  # turns run so far: the next one is number turns + 1 (the inspector's n)

    def snapshot(self) -> SessionSnapshot:
        return {
            "summary": self.history.summary,
            "window": len(self.history.messages),  # a reload resumes the same window
            "breaker": self.breaker.snapshot(),
            "pending_t2": sorted(self.pending_t2),
            "last_usage": self.last_usage,
            "recent": self.recent,
            "turns": self.turns,
        }


@dataclass
class TurnResult:
    reply: str
    proposals: list[Proposal]  # created or changed by this turn, in order
    tool_calls: list[ToolCallOut]
    usage: dict[str, int]
    messages: list[Message]
    audit: list[AuditEvent]
    # The proposals this turn made: they come into existence with the turn's save
    # (a turn that is not saved proposed nothing), their window starting then.
    created: list[Proposal] = field(default_factory=list)
    sender: Actor | None = None  # who sent the message (proposals' `can_approve` is theirs)
    record: TurnRecord | None = None  # the turn inspector's record (runtime.turnlog)

    def public(self) -> TurnOut:
        return {
            "reply": self.reply,
            "proposals": [p.public(self.sender) for p in self.proposals],
            "tool_calls": self.tool_calls,
            "usage": self.usage,
        }


@dataclass
class TurnScratch:
    """Scratch state of one user message (what the orchestrator carries through a turn)."""

    state: SessionState
    counter: TierCounter
    now: float
    emit: Emit | None = None  # a streaming client's sink, if any
    sender: Actor | None = None  # who sent the message
    ctx: ToolContext | None = None  # what this turn's tools run with
    proposals: dict[str, Proposal] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)  # proposals of this turn, in order
    calls: list[ToolCallOut] = field(default_factory=list)
    exhausted: list[Tier] = field(default_factory=list)
    breaker_blocked: bool = False
    audit: list[AuditEvent] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)  # the inspector's (turnlog)
    # pending T2s this message did not answer clearly, and those it corrected
    awaiting: list[Proposal] = field(default_factory=list)
    superseded: list[Proposal] = field(default_factory=list)

    def send(self, event: TurnEvent) -> None:
        if self.emit is not None:
            self.emit(event)

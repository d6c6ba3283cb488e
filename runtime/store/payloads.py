"""What the store keeps per session, typed from where it is made to the wire.

A turn is saved in one atomic write, `Store.save_turn(TurnWrite)`: the turn's
messages (`StoredMessage`), the session's state (`SessionSnapshot`), its audit
events (`runtime.audit.AuditEvent`), the proposals it made and its inspector
record (`TurnRecord`). The stores keep these as JSON; what they read back is
the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

from runtime.audit import AuditEvent
from runtime.proposals.model import Proposal
from runtime.shapes import TurnOut, TurnStep


class TextBlockDict(TypedDict):
    type: Literal["text"]
    text: str


class ToolUseBlockDict(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, object]


class ToolResultBlockDict(TypedDict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str
    is_error: bool


BlockDict = TextBlockDict | ToolUseBlockDict | ToolResultBlockDict


class StoredMessage(TypedDict):
    """One history message as stored (`runtime.models.base.message_to_dict`)."""

    role: Literal["user", "assistant"]
    at: NotRequired[float]
    content: list[BlockDict]


class SessionSnapshot(TypedDict, total=False):
    """The session's state beside its history (`SessionState.snapshot`); a reload
    reads each part with a default, as older snapshots may lack it."""

    summary: str
    window: int  # the live window's size: a reload resumes the same window
    breaker: dict[str, float | int | str]
    pending_t2: list[str]
    last_usage: dict[str, int]
    recent: dict[str, TurnOut]
    turns: int


class StepRecord(TurnStep, total=False):
    """One step of the turn inspector as kept (`runtime.turnlog`): API.md's TurnStep,
    its `arguments`, `result` and `error` kept as JSON text (cut), with
    `{field}_chars` (the full length) when one was cut."""

    arguments_chars: int
    result_chars: int
    error_chars: int


class TurnRecord(TypedDict):
    """A turn's inspector record as kept (`runtime.turnlog.finish`); served
    through `runtime.turnlog.public` as API.md's TurnDetail."""

    n: int
    message_id: str
    at: float
    ms: float
    agent: str
    breaker: str
    steps: list[StepRecord]
    steps_cut: int


@dataclass(frozen=True, slots=True)
class TurnWrite:
    """Everything one turn saves, in one atomic write (`Store.save_turn`)."""

    tenant_id: str
    session_id: str
    state: SessionSnapshot
    messages: Sequence[StoredMessage] = ()
    audit: Sequence[AuditEvent] = ()
    proposals: Sequence[Proposal] = ()  # created by this save: their windows start with it
    turn: TurnRecord | None = None  # the inspector's record, if the turn made one


__all__ = [
    "BlockDict",
    "SessionSnapshot",
    "StepRecord",
    "StoredMessage",
    "TurnRecord",
    "TurnWrite",
]

"""What a turn tells a streaming client while it runs (the SSE events of API.md).

`token` (model text as it is made), `tool_call` (a tool that runs starts, and
every call ends with its status in API.md's words: `ToolCallEvent.ended`),
`proposal` (created or changed), then `done` with the turn's JSON body, or
`error` with the API.md error object when the turn fails after the stream began.
Events are frozen dataclasses with a `kind`: they cross the Ray boundary as they
are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from runtime.shapes import ProposalOut, TurnOut

    from .errors import WireError


@dataclass(frozen=True, slots=True)
class StartEvent:
    """The turn began (it was not a repeat of a finished one): not sent to clients."""

    kind: Literal["start"] = "start"

    def data(self) -> dict[str, object]:
        return {}


@dataclass(frozen=True, slots=True)
class TokenEvent:
    text: str
    kind: Literal["token"] = "token"

    def data(self) -> dict[str, object]:
        return {"text": self.text}


# A tool call's end statuses in the JSON body (and audit) that API.md's `tool_call`
# event names otherwise: refused before running (blocked) or a bad call (error).
EVENT_STATUS = {
    "breaker_open": "blocked",
    "exhausted": "blocked",
    "invalid": "error",
    "unknown": "error",
}


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    tool: str
    tier: str
    # `started` (a tool that runs), then one of API.md's ok | error | timeout |
    # proposed | blocked; `reason` is the JSON body's finer status when it differs
    status: str
    reason: str = ""
    kind: Literal["tool_call"] = "tool_call"

    @classmethod
    def ended(cls, tool: str, tier: str, status: str) -> ToolCallEvent:
        """The end event of a call whose JSON-body status is `status`."""
        public = EVENT_STATUS.get(status, status)
        return cls(tool, tier, public, status if public != status else "")

    def data(self) -> dict[str, object]:
        out: dict[str, object] = {"tool": self.tool, "tier": self.tier, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True)
class ProposalEvent:
    proposal: ProposalOut  # the API.md proposal object
    kind: Literal["proposal"] = "proposal"

    def data(self) -> ProposalOut:
        return self.proposal


@dataclass(frozen=True, slots=True)
class DoneEvent:
    result: TurnOut  # the JSON body of the non-streaming call
    kind: Literal["done"] = "done"

    def data(self) -> TurnOut:
        return self.result


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    error: WireError  # {"type", "message", ...}: the API.md error object's inside
    kind: Literal["error"] = "error"

    def data(self) -> dict[str, object]:
        return {"error": self.error}


TurnEvent = StartEvent | TokenEvent | ToolCallEvent | ProposalEvent | DoneEvent | ErrorEvent
Emit = Callable[[TurnEvent], None]


def ignore(event: TurnEvent) -> None:
    """The sink of a turn nobody streams."""

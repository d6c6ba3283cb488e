"""What a turn tells a streaming client while it runs (the SSE events of API.md).

`token` (model text as it is made), `tool_call` (a tool starts, and again when it
ends with its status), `proposal` (created or changed), then `done` with the
turn's JSON body, or `error` with the API.md error object when the turn fails
after the stream began. Events are frozen dataclasses with a `kind`: they cross
the Ray boundary as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .errors import WireError
    from .shapes import ProposalOut, TurnOut


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


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    tool: str
    tier: str
    status: str  # started, then ok | error | timeout | proposed | blocked | ...
    kind: Literal["tool_call"] = "tool_call"

    def data(self) -> dict[str, object]:
        return {"tool": self.tool, "tier": self.tier, "status": self.status}


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

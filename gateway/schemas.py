"""Request and response models: what /openapi.json documents.

Responses are the runtime's own shapes (`runtime.shapes`, the `Backend`
protocol's return types), generated into the schema from those TypedDicts, so
the documented body and the body served cannot drift apart. Routes return them
as JSON directly (no re-validation on the hot path).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from runtime import (
    AgentOut,
    AuditEvent,
    ChatMessage,
    CloseOut,
    ProposalOut,
    ProposalStatus,
    SessionDetail,
    SessionOut,
    ToolCallOut,
    TurnDetail,
    TurnOut,
    TurnSummary,
)

__all__ = [
    "AgentList",
    "AuditList",
    "CloseOut",
    "ErrorBody",
    "MessageList",
    "ProposalList",
    "ProposalOut",
    "SessionCreate",
    "SessionDetail",
    "SessionList",
    "SessionOut",
    "StatusOut",
    "ToolCallOut",
    "TurnDetail",
    "TurnList",
    "TurnOut",
]

AGENT_DOC = (
    "The agent type: `onboarding`, `chatbot` or `admin`, or another agent the runtime "
    "was configured with. A well-formed but unknown agent is answered with "
    "400 `bad_request`; a malformed value (not a string, empty, too long) with 422."
)


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="snake_case error kind, e.g. `not_found`, `rate_limited`.")
    message: str
    status: ProposalStatus | None = Field(
        default=None, description="`invalid_transition` only: the proposal's current status."
    )
    retry_after: int | None = Field(
        default=None,
        description="429 and 503: whole seconds to wait, the value of the Retry-After header.",
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


class SessionCreate(BaseModel):
    agent: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description=AGENT_DOC,
        examples=["chatbot", "onboarding", "admin"],
    )
    subject: str = Field(
        min_length=1, max_length=200, description="The end user this session is for."
    )


# The bodies: the runtime's own shapes (runtime.shapes), not copies of them, and
# the envelopes the routes wrap lists in.


class SessionList(TypedDict):
    sessions: Annotated[list[SessionOut], Field(description="Newest first.")]
    next_cursor: Annotated[
        str | None, Field(description="Pass as `cursor` for the next page; null on the last page.")
    ]


class AgentList(TypedDict):
    agents: list[AgentOut]


class MessageList(TypedDict):
    messages: list[ChatMessage]


class ProposalList(TypedDict):
    proposals: Annotated[list[ProposalOut], Field(description="Newest first.")]


class AuditList(TypedDict):
    events: Annotated[list[AuditEvent], Field(description="Oldest first; append-only.")]


class TurnList(TypedDict):
    turns: Annotated[
        list[TurnSummary], Field(description="Oldest first; the session's newest turns are kept.")
    ]


class StatusOut(TypedDict):
    status: str


def error_responses(
    *statuses: int, extra: dict[int | str, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses`: `extra`, plus error statuses (all share `ErrorBody`)."""
    text = {
        400: "Bad request (e.g. unknown agent, malformed JSON).",
        401: "Missing or unknown API key.",
        404: "Not found (also for another tenant's resources).",
        409: "Conflict: invalid proposal transition or closed session.",
        413: "Request body over the size limit.",
        422: "The request does not match the schema.",
        429: "Tenant rate limit exceeded (see Retry-After).",
        503: "Temporarily unavailable (see Retry-After).",
    }
    out: dict[int | str, dict[str, Any]] = dict(extra or {})
    for s in statuses:
        out[s] = {"model": ErrorBody, "description": text.get(s, "Error")}
    return out


COMMON_ERRORS = (400, 401, 413, 422, 429, 503)

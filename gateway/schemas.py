"""Request and response models: what /openapi.json documents.

Routes return the backend's dicts as JSON directly (no re-validation on the
hot path); these models describe those shapes, and tests hold the two together.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime import ProposalStatus

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


class SessionOut(BaseModel):
    session_id: str
    agent: str
    subject: str
    status: Literal["active", "closed"]
    greeting: str
    created_at: float


class SessionDetail(SessionOut):
    usage: dict[str, int] = Field(description="Tier counters of the last turn.")
    breaker: Literal["closed", "open", "half_open"]
    breaker_half_open_at: float | None = Field(
        default=None,
        description=(
            "While the breaker is `open`: when it goes half-open and lets one trial call "
            "through (epoch seconds); null otherwise."
        ),
    )


class SessionList(BaseModel):
    sessions: list[SessionOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class AgentOut(BaseModel):
    name: str = Field(description="The value of `agent` in `POST /v1/sessions`.")


class AgentList(BaseModel):
    agents: list[AgentOut]


class ChatMessage(BaseModel):
    role: str
    content: str
    at: float


class MessageList(BaseModel):
    messages: list[ChatMessage]


class CloseOut(BaseModel):
    status: Literal["closed"]


class ProposalOut(BaseModel):
    proposal_id: str
    session_id: str
    tool: str
    tier: Literal["T1", "T2", "T3"]
    status: ProposalStatus
    preview: str
    depends_on: list[str]
    created_at: float
    expires_at: float | None
    result: Any = None


class ProposalList(BaseModel):
    proposals: list[ProposalOut] = Field(description="Newest first.")


class ToolCallOut(BaseModel):
    tool: str
    tier: str
    status: str


class TurnOut(BaseModel):
    reply: str
    proposals: list[ProposalOut] = Field(description="Proposals created or changed by this turn.")
    tool_calls: list[ToolCallOut]
    usage: dict[str, int] = Field(description='{"T1": n, "T2": n, "T3": n}')


class AuditEvent(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = Field(description="`message`, `tool_call`, `proposal` or `breaker`.")
    at: float
    session_id: str | None = None
    proposal_id: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None


class AuditList(BaseModel):
    events: list[AuditEvent] = Field(description="Oldest first; append-only.")


class StatusOut(BaseModel):
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

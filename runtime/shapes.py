"""The shapes the runtime hands the gateway: the API.md bodies, as TypedDicts.

They are the return types of the `Backend` protocol, what the runtime builds
(`Proposal.public()`, `TurnResult.public()`...), and what the gateway's
OpenAPI schemas are generated from (FastAPI reads TypedDicts through pydantic,
descriptions included): one definition of each shape, not a copy per layer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from typing_extensions import (
    TypedDict,  # pydantic reads it on Python 3.11 (typing.TypedDict: 3.12+)
)

from runtime.proposals.model import ProposalStatus

Tier = Literal["T1", "T2", "T3"]


class SessionOut(TypedDict):
    session_id: str
    agent: str
    subject: str
    status: Literal["active", "closed"]
    greeting: str
    created_at: float


class SessionDetail(SessionOut):
    usage: Annotated[dict[str, int], Field(description="Tier counters of the last turn.")]
    breaker: Literal["closed", "open", "half_open"]
    breaker_half_open_at: Annotated[
        float | None,
        Field(
            description=(
                "While the breaker is `open`: when it goes half-open and lets one trial "
                "call through (epoch seconds); null otherwise."
            )
        ),
    ]


class AgentToolOut(TypedDict):
    name: Annotated[str, Field(description="The name the model calls it by.")]
    tier: Literal["T1", "T2", "T3"]
    source: Literal["python", "http", "mcp"]
    description: str
    idempotent: Annotated[
        bool, Field(description="Safe to send again with the same idempotency key.")
    ]


class AgentOut(TypedDict):
    name: Annotated[str, Field(description="The value of `agent` in `POST /v1/sessions`.")]
    preset: Annotated[
        str, Field(description="The preset its history, window, timeouts and budgets start from.")
    ]
    tools: list[AgentToolOut]


class ChatMessage(TypedDict):
    role: str
    content: str
    at: float


class CloseOut(TypedDict):
    status: Literal["closed"]


class ProposalOut(TypedDict):
    proposal_id: str
    session_id: str
    tool: str
    tier: Tier
    status: ProposalStatus
    preview: str
    depends_on: list[str]
    created_at: float
    expires_at: float | None
    result: Annotated[
        Any,
        Field(
            description=(
                'The tool\'s result once EXECUTED; when FAILED `{"error": reason}`, with '
                '`"error_kind": "outcome_unknown"` when it may or may not have taken effect.'
            )
        ),
    ]


class ToolCallOut(TypedDict):
    tool: str
    tier: str
    status: str


class TurnOut(TypedDict):
    reply: str
    proposals: Annotated[
        list[ProposalOut], Field(description="Proposals created or changed by this turn.")
    ]
    tool_calls: list[ToolCallOut]
    usage: Annotated[dict[str, int], Field(description='{"T1": n, "T2": n, "T3": n}')]


# An audit event: `type`, `at`, `session_id` and the fields of its kind (`from`,
# `to` and `proposal_id` for proposals; `tool`, `tier`, `status` for tool calls...).
EVENT_TYPES = "`message`, `tool_call`, `proposal` or `breaker`."
AuditEvent = TypedDict(
    "AuditEvent",
    {
        "type": Annotated[
            str, Field(description="`message`, `tool_call`, `proposal` or `breaker`.")
        ],
        "at": float,
        "session_id": str,
        "proposal_id": Annotated[str, Field(default=None)],
        "from": Annotated[str | None, Field(default=None)],
        "to": Annotated[str, Field(default=None)],
    },
    total=False,
)
setattr(AuditEvent, "__pydantic_config__", ConfigDict(extra="allow"))  # noqa: B010

"""The shapes the runtime hands the gateway: the API.md bodies, as TypedDicts.

They are the return types of the `Backend` protocol, what the runtime builds
(`Proposal.public()`, `TurnResult.public()`...), and what the gateway's
OpenAPI schemas are generated from (FastAPI reads TypedDicts through pydantic,
descriptions included): one definition of each shape, not a copy per layer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import (
    TypedDict,  # pydantic reads it on Python 3.11 (typing.TypedDict: 3.12+)
)

# An audit event is made, kept and served as this one type (runtime/audit.py).
from runtime.audit import AuditEvent as AuditEvent
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


class PrincipalOut(TypedDict):
    principal: str
    role: str


class ApprovalOut(TypedDict):
    by: str
    role: str
    at: float


class NeedsOut(TypedDict):
    quorum: int
    have: int
    approvers: list[str]
    self_approval: bool


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
    requested_by: Annotated[
        PrincipalOut | None,
        Field(description="The principal whose message made it (null: made before principals)."),
    ]
    approvals: Annotated[list[ApprovalOut], Field(description="Its approvals so far, in order.")]
    needs: Annotated[
        NeedsOut,
        Field(description="Its policy: the quorum, the approvals it has, who may approve."),
    ]
    can_approve: Annotated[bool, Field(description="Whether the caller may confirm it now.")]
    hint: Annotated[
        str,
        Field(description="The sentence a client shows for its state (empty: nothing to say)."),
    ]
    approval_text: Annotated[
        str,
        Field(
            description=(
                "The sentence a client shows about who: who requested it, who approved it, "
                'the approvals it has of how many ("1 of 2 approvals.") and, while PENDING, '
                "who may still approve."
            )
        ),
    ]
    final: Annotated[bool, Field(description="Its status is terminal: it never changes again.")]
    awaiting: NotRequired[
        Annotated[
            Literal["clear_answer"],
            Field(
                description=(
                    "A message did not answer this PENDING T2 clearly (or it had not been "
                    "delivered): it waits for a clear yes or no (the turn's reply asks "
                    "again). In every view of it, until a yes is recorded or it is decided."
                )
            ),
        ]
    ]


class KeyOut(TypedDict):
    key_id: str
    name: Annotated[str, Field(description="The principal the key belongs to.")]
    role: Literal["owner", "staff"]
    created_at: float
    last_used_at: Annotated[
        float | None, Field(description="When a gateway last looked the key up (null: never).")
    ]


class TokenOut(TypedDict):
    token: Annotated[str, Field(description="The bearer token (shown once; never logged).")]
    expires_at: float
    agent: str
    subject: str


class CanOut(TypedDict):
    """What a caller may reach (`GET /v1/me`'s `can`), so a client lays itself out by
    the server's rule, not by the role's name."""

    list_sessions: Annotated[
        bool,
        Field(description="Every session of the tenant: the list, and opening any (keys)."),
    ]
    list_inbox: Annotated[
        bool,
        Field(description="The proposals across sessions, the inbox among them (keys)."),
    ]
    manage_keys: Annotated[
        bool, Field(description="Make, list, rotate and revoke keys (owner keys).")
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


# The turn inspector (runtime/turnlog.py): one step of a turn. `kind` says which
# fields it has: `model` (model, status, input_tokens, output_tokens, tool_calls or
# error), `tool` (tool, tier, call_id, status, arguments, result or error,
# proposal_id when it proposed), `proposal` (proposal_id, tool, tier, status,
# decision, result), `breaker` (from, to), `budget` (used, left per tier).
TurnStep = TypedDict(
    "TurnStep",
    {
        "kind": Annotated[
            Literal["model", "tool", "proposal", "breaker", "budget"],
            Field(description="What the step was: its other fields depend on it."),
        ],
        "at": Annotated[float, Field(description="When it started (epoch seconds).")],
        "ms": Annotated[float, Field(description="How long it took (milliseconds).")],
        "model": str,
        "status": str,
        "input_tokens": Annotated[int, Field(description="As the model reported (0: none).")],
        "output_tokens": int,
        "tool_calls": int,
        "tool": str,
        "tier": Tier,
        "call_id": str,
        "arguments": Annotated[Any, Field(description="Redacted and capped.")],
        "result": Annotated[Any, Field(description="Redacted and capped.")],
        "error": Annotated[Any, Field(description="Redacted and capped.")],
        "proposal_id": str,
        "decision": Annotated[
            str,
            Field(
                description=(
                    "`proposed`, `soft_confirm`, `reject`, `expire` or `unclear` (the "
                    "message decided nothing)."
                )
            ),
        ],
        "from": str,
        "to": str,
        "used": dict[str, int],
        "left": dict[str, int],
    },
    total=False,
)


class TurnSummary(TypedDict):
    n: Annotated[int, Field(description="The turn's number in its session, from 1.")]
    message_id: str
    at: Annotated[float, Field(description="When the turn started (epoch seconds).")]
    ms: Annotated[float, Field(description="How long it ran (milliseconds).")]
    agent: str
    breaker: Annotated[str, Field(description="The breaker's state when the turn ended.")]
    steps_cut: Annotated[int, Field(description="Steps past the per-turn cap, not kept.")]
    step_count: int


class TurnDetail(TypedDict):
    n: int
    message_id: str
    at: float
    ms: float
    agent: str
    breaker: str
    steps: list[TurnStep]
    steps_cut: int

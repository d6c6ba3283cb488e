"""Audit events: one TypedDict from where an event is made to the wire.

The orchestrator makes a turn's events (`message`, `tool_call`, `breaker`),
`runtime.proposals.model` a proposal's (`proposal`, `approval`); the stores keep
them as JSON and read back the same shape (`Store.list_audit`); `GET /v1/audit`
serves them as they are (API.md "Audit and operations"), its schema generated
from this type (`runtime.shapes.AuditEvent` is this one).

Every event has `type`, `at`, `tenant_id`, `session_id` and `by`; the other
fields belong to its type:

- `message`: `role`, `chars`;
- `tool_call`: `tool`, `tier`, `status`, `reason` (why it failed, if it did);
- `proposal` (one per transition): `proposal_id`, `tool`, `tier`, `from` (null
  when it was created), `to`, `reason` (why it failed or was superseded);
- `approval` (one that did not reach the quorum): `proposal_id`, `tool`, `tier`,
  `have`, `quorum`;
- `breaker`: `from`, `to`.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from runtime.principals import Actor

EventType = Literal["message", "tool_call", "proposal", "approval", "breaker"]

# Functional syntax: `from` is a keyword.
AuditEvent = TypedDict(
    "AuditEvent",
    {
        "type": Annotated[
            EventType,
            Field(description="`message`, `tool_call`, `proposal`, `approval` or `breaker`."),
        ],
        "at": Annotated[float, Field(description="When it happened (epoch seconds).")],
        "tenant_id": str,
        "session_id": str,
        "by": Annotated[
            Actor,
            Field(
                description=(
                    'Who did it: `{"principal": "system", "role": "system"}` for the runtime '
                    "itself (expiry, recovery, an execution, the assistant's messages)."
                )
            ),
        ],
        "role": NotRequired[Literal["user", "assistant"]],
        "chars": NotRequired[Annotated[int, Field(description="The message's length.")]],
        "tool": NotRequired[str],
        "tier": NotRequired[str],
        "status": NotRequired[Annotated[str, Field(description="A tool call's outcome.")]],
        "reason": NotRequired[str],
        "proposal_id": NotRequired[str],
        "from": NotRequired[
            Annotated[
                str | None,
                Field(description="The status or state before (null: the proposal was created)."),
            ]
        ],
        "to": NotRequired[str],
        "have": NotRequired[Annotated[int, Field(description="Approvals so far.")]],
        "quorum": NotRequired[int],
    },
)
# Served as kept: a field a later version adds is documented as allowed.
setattr(AuditEvent, "__pydantic_config__", ConfigDict(extra="allow"))  # noqa: B010

__all__ = ["AuditEvent", "EventType"]

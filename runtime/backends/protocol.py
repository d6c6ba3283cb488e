"""`Backend`: the one API the gateway calls, with an in-process and a Ray implementation.

Every method takes the caller's tenant; anything of another tenant is
`NotFound`. Results are plain JSON-able dicts in the API.md shapes.
"""

from __future__ import annotations

from typing import Literal, Protocol

from runtime.inbound import Inbound
from runtime.proposals.model import ProposalStatus
from runtime.shapes import (
    AgentOut,
    AuditEvent,
    ChatMessage,
    CloseOut,
    ProposalOut,
    SessionDetail,
    SessionOut,
    TurnDetail,
    TurnOut,
    TurnSummary,
)
from runtime.streaming import TurnStream


class Backend(Protocol):
    async def authenticate(self, api_key: str) -> str | None:
        """The tenant id of a bearer key, or None."""
        ...

    async def create_session(
        self, tenant_id: str, agent: str, subject: str
    ) -> tuple[SessionOut, bool]: ...
    async def get_session(self, tenant_id: str, session_id: str) -> SessionDetail: ...
    async def list_agents(self, tenant_id: str) -> list[AgentOut]:
        """The agents a session may be opened with, in catalog order: each with its
        preset and its tools (name, tier, source, description, idempotent)."""
        ...

    async def list_sessions(
        self,
        tenant_id: str,
        agent: str | None,
        subject: str | None,
        status: Literal["active", "closed"] | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[SessionOut], str | None]:
        """A page of the tenant's sessions, newest first, and the next page's cursor."""
        ...

    async def list_messages(self, tenant_id: str, session_id: str) -> list[ChatMessage]: ...
    async def list_turns(self, tenant_id: str, session_id: str) -> list[TurnSummary]:
        """The session's kept turns (the newest `KEEP_TURNS`), oldest first, without steps."""
        ...

    async def get_turn(self, tenant_id: str, session_id: str, n: int) -> TurnDetail:
        """Turn `n` of the session with its steps; NotFound if it is not kept."""
        ...

    async def close_session(self, tenant_id: str, session_id: str) -> CloseOut: ...
    async def send_message(self, msg: Inbound) -> TurnOut:
        """Run one turn. With a `message_id`, a repeat returns the first result.

        The pending proposals of the result count as delivered once this returns,
        unless `msg.relay`: the caller passes the result on to a client and reports
        its delivery itself (`mark_delivered`). Proposals named in `msg.seen` count
        as delivered for this message."""
        ...

    async def stream_message(self, msg: Inbound) -> TurnStream:
        """Run one turn, streaming its events (`runtime.streaming.TurnStream`'s
        contract: StartEvent first, or DoneEvent for a repeat; an error raised
        by the first item means the turn never started). The turn runs to its
        end whether or not the caller keeps reading. `seen` and `relay` as for
        `send_message` (without `relay`: delivered when `done` is handed out)."""
        ...

    async def mark_delivered(
        self, tenant_id: str, session_id: str, proposal_ids: list[str], at_ns: int = 0
    ) -> None:
        """These proposals reached the client at `at_ns` (wall-clock ns; 0: named
        in a message's `seen`): a later message may soft-confirm them."""
        ...

    async def list_proposals(
        self, tenant_id: str, session_id: str | None, status: ProposalStatus | None
    ) -> list[ProposalOut]: ...
    async def get_proposal(self, tenant_id: str, proposal_id: str) -> ProposalOut: ...
    async def confirm(self, tenant_id: str, proposal_id: str) -> ProposalOut: ...
    async def reject(self, tenant_id: str, proposal_id: str) -> ProposalOut: ...
    async def audit(self, tenant_id: str, session_id: str | None) -> list[AuditEvent]: ...
    async def ready(self) -> bool: ...
    async def metrics_texts(self) -> list[bytes]:
        """Prometheus texts of every process doing work (merged by the gateway)."""
        ...


def pending_ids(result: TurnOut) -> list[str]:
    """The proposals of a turn's result that a later message may answer."""
    return [
        p["proposal_id"]
        for p in result.get("proposals", [])
        if p["status"] == ProposalStatus.PENDING and p["tier"] == "T2"
    ]

"""`Backend`: the one API the gateway calls, with an in-process and a Ray implementation.

Every method takes the caller's tenant; anything of another tenant is
`NotFound`. Results are plain JSON-able dicts in the API.md shapes. Who the
caller is (`Actor`) travels with what it decides: the sender of a message (its
soft confirm counts only if the policy allows it), the approver of a confirm.
What a session token may reach is the gateway's check (`session_party`,
`proposal_party`).
"""

from __future__ import annotations

from typing import Literal, Protocol

from runtime.inbound import Inbound
from runtime.principals import TENANT_OWNER, Actor, KeyRole, Principal
from runtime.proposals.model import ProposalStatus
from runtime.shapes import (
    AgentOut,
    AuditEvent,
    ChatMessage,
    CloseOut,
    KeyOut,
    ProposalOut,
    SessionDetail,
    SessionOut,
    TokenOut,
    TurnDetail,
    TurnOut,
    TurnSummary,
)
from runtime.streaming import TurnStream


class Backend(Protocol):
    async def authenticate(self, api_key: str) -> Principal | None:
        """The principal of a bearer key or session token; None: unknown, revoked, expired."""
        ...

    async def create_key(self, tenant_id: str, name: str, role: KeyRole) -> tuple[KeyOut, str]: ...
    async def list_keys(self, tenant_id: str) -> list[KeyOut]: ...
    async def revoke_key(self, tenant_id: str, key_id: str) -> str:
        """Revoke a key; returns its hash (`NotFound` when no such live key)."""
        ...

    async def rotate_key(self, tenant_id: str, key_id: str) -> tuple[KeyOut, str, str]:
        """The new key's listing, the new key, and the old key's hash."""
        ...

    async def mint_token(
        self, tenant_id: str, agent: str, subject: str, ttl_s: float, minted_by: str
    ) -> TokenOut: ...
    async def revoke_token(self, tenant_id: str, token: str) -> bool: ...
    async def session_party(self, tenant_id: str, session_id: str) -> tuple[str, str] | None:
        """(agent, subject) of the tenant's session, or None."""
        ...

    async def proposal_party(self, tenant_id: str, proposal_id: str) -> tuple[str, str] | None:
        """(agent, subject) of the tenant's proposal, or None."""
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
        self,
        tenant_id: str,
        session_id: str | None,
        status: ProposalStatus | None,
        viewer: Actor | None = None,
        can_approve: bool = False,
    ) -> list[ProposalOut]: ...
    async def get_proposal(
        self, tenant_id: str, proposal_id: str, viewer: Actor | None = None
    ) -> ProposalOut: ...
    async def confirm(
        self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER
    ) -> ProposalOut: ...
    async def reject(
        self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER
    ) -> ProposalOut: ...
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

"""`BackendReads`: the Backend calls answered straight from the store.

Both backends (`LocalBackend`, `actors.RayBackend`) serve these the same way:
no actor is needed to read a tenant's keys, sessions, history, proposals or
audit.
"""

from __future__ import annotations

from typing import Literal, cast

from runtime import turnlog
from runtime.errors import NotFound
from runtime.proposals.model import ProposalStatus
from runtime.sessions.session import public_messages
from runtime.shapes import AuditEvent, ChatMessage, ProposalOut, SessionOut, TurnDetail, TurnSummary
from runtime.store.protocol import Store
from runtime.store.tenants import hash_key


class BackendReads:
    store: Store

    async def authenticate(self, api_key: str) -> str | None:
        rec = await self.store.tenant_by_key_hash(hash_key(api_key))
        return rec.tenant_id if rec else None

    async def require_session(self, tenant_id: str, session_id: str) -> None:
        if await self.store.get_session(tenant_id, session_id) is None:
            raise NotFound(f"session {session_id} not found")

    async def list_sessions(
        self,
        tenant_id: str,
        agent: str | None,
        subject: str | None,
        status: Literal["active", "closed"] | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[SessionOut], str | None]:
        found, next_cursor = await self.store.list_sessions(
            tenant_id, agent, subject, status, limit, cursor
        )
        return [rec.public() for rec in found], next_cursor

    async def list_messages(self, tenant_id: str, session_id: str) -> list[ChatMessage]:
        await self.require_session(tenant_id, session_id)
        return public_messages(await self.store.list_messages(tenant_id, session_id))

    async def list_turns(self, tenant_id: str, session_id: str) -> list[TurnSummary]:
        await self.require_session(tenant_id, session_id)
        kept = await self.store.list_turns(tenant_id, session_id)
        return [cast(TurnSummary, turnlog.summary(t)) for t in kept]

    async def get_turn(self, tenant_id: str, session_id: str, n: int) -> TurnDetail:
        await self.require_session(tenant_id, session_id)
        for t in await self.store.list_turns(tenant_id, session_id):
            if t.get("n") == n:
                return cast(TurnDetail, turnlog.public(t))
        raise NotFound(f"turn {n} of session {session_id} not found (or no longer kept)")

    async def list_proposals(
        self, tenant_id: str, session_id: str | None, status: ProposalStatus | None
    ) -> list[ProposalOut]:
        return [p.public() for p in await self.store.list_proposals(tenant_id, session_id, status)]

    async def get_proposal(self, tenant_id: str, proposal_id: str) -> ProposalOut:
        p = await self.store.get_proposal(tenant_id, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        return p.public()

    async def audit(self, tenant_id: str, session_id: str | None) -> list[AuditEvent]:
        if session_id is not None:
            await self.require_session(tenant_id, session_id)
        # A turn's own events are written when it ends, a proposal's when it moves:
        # order by time (stable) so the trail reads oldest first. The store keeps
        # events as it got them: each is an AuditEvent (type, at, session_id...).
        events = cast(list[AuditEvent], await self.store.list_audit(tenant_id, session_id))
        return sorted(events, key=lambda e: float(e.get("at", 0.0)))

"""`BackendReads`: the Backend calls answered straight from the store.

Both backends (`LocalBackend`, `actors.RayBackend`) serve these the same way:
no actor is needed to resolve a bearer, manage a tenant's keys and session
tokens, or read its sessions, history, proposals or audit.
"""

from __future__ import annotations

from typing import Literal

from runtime import turnlog
from runtime.errors import NotFound
from runtime.principals import Actor, KeyRole, Principal
from runtime.proposals.model import ProposalStatus
from runtime.sessions.session import public_messages
from runtime.shapes import (
    AuditEvent,
    ChatMessage,
    KeyOut,
    ProposalOut,
    SessionOut,
    TokenOut,
    TurnDetail,
    TurnSummary,
)
from runtime.store import keys
from runtime.store.protocol import KeyRecord, Store


def _key_out(rec: KeyRecord, last_used: dict[str, float]) -> KeyOut:
    return {
        "key_id": rec.key_id,
        "name": rec.name,
        "role": rec.role,
        "created_at": rec.created_at,
        "last_used_at": last_used.get(rec.key_id),
    }


class BackendReads:
    store: Store

    async def authenticate(self, api_key: str) -> Principal | None:
        return await keys.resolve(self.store, api_key)

    # principals: keys and session tokens
    async def create_key(self, tenant_id: str, name: str, role: KeyRole) -> tuple[KeyOut, str]:
        rec, key = await keys.create_key(self.store, tenant_id, name, role)
        return _key_out(rec, {}), key

    async def list_keys(self, tenant_id: str) -> list[KeyOut]:
        used = await self.store.key_last_used(tenant_id)
        return [_key_out(k, used) for k in await keys.active_keys(self.store, tenant_id)]

    async def revoke_key(self, tenant_id: str, key_id: str) -> str:
        """Revoke; the key's hash (the gateway drops it from its cache)."""
        return (await keys.revoke_key(self.store, tenant_id, key_id)).key_hash

    async def rotate_key(self, tenant_id: str, key_id: str) -> tuple[KeyOut, str, str]:
        """A new key for the same principal: its listing, the key, the old key's hash."""
        old, new, key = await keys.rotate_key(self.store, tenant_id, key_id)
        return _key_out(new, {}), key, old.key_hash

    async def mint_token(
        self, tenant_id: str, agent: str, subject: str, ttl_s: float, minted_by: str
    ) -> TokenOut:
        rec, token = await keys.mint_token(self.store, tenant_id, agent, subject, ttl_s, minted_by)
        return {"token": token, "expires_at": rec.expires_at, "agent": agent, "subject": subject}

    async def revoke_token(self, tenant_id: str, token: str) -> bool:
        return await keys.revoke_token(self.store, tenant_id, token)

    async def session_party(self, tenant_id: str, session_id: str) -> tuple[str, str] | None:
        """The (agent, subject) a session is for, or None when it is not the tenant's."""
        rec = await self.store.get_session(tenant_id, session_id)
        return None if rec is None else (rec.agent, rec.subject)

    async def proposal_party(self, tenant_id: str, proposal_id: str) -> tuple[str, str] | None:
        """The (agent, subject) of a proposal's session, or None."""
        p = await self.store.get_proposal(tenant_id, proposal_id)
        return None if p is None else (p.agent, p.subject)

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
        return [turnlog.summary(t) for t in kept]

    async def get_turn(self, tenant_id: str, session_id: str, n: int) -> TurnDetail:
        await self.require_session(tenant_id, session_id)
        for t in await self.store.list_turns(tenant_id, session_id):
            if t.get("n") == n:
                return turnlog.public(t)
        raise NotFound(f"turn {n} of session {session_id} not found (or no longer kept)")

    async def list_proposals(
        self,
        tenant_id: str,
        session_id: str | None,
        status: ProposalStatus | None,
        viewer: Actor | None = None,
        can_approve: bool = False,
    ) -> list[ProposalOut]:
        """Newest first; with `can_approve`, only those `viewer` may confirm now."""
        found = await self.store.list_proposals(tenant_id, session_id, status)
        return [p.public(viewer) for p in found if not can_approve or p.can_approve(viewer)]

    async def get_proposal(
        self, tenant_id: str, proposal_id: str, viewer: Actor | None = None
    ) -> ProposalOut:
        p = await self.store.get_proposal(tenant_id, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        return p.public(viewer)

    async def audit(self, tenant_id: str, session_id: str | None) -> list[AuditEvent]:
        if session_id is not None:
            await self.require_session(tenant_id, session_id)
        # A turn's own events are written when it ends, a proposal's when it moves:
        # order by time (stable) so the trail reads oldest first. The store keeps
        # events as it got them.
        events = await self.store.list_audit(tenant_id, session_id)
        return sorted(events, key=lambda e: e["at"])

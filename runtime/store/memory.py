"""`MemoryStore`: the `Store` protocol in process memory (tests, LocalBackend)."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Sequence
from typing import Literal

import orjson

from runtime.audit import AuditEvent
from runtime.errors import NotOwner
from runtime.proposals.model import Proposal, ProposalStatus
from runtime.store import paging
from runtime.store.protocol import (
    KeyRecord,
    LedgerEntry,
    LedgerState,
    SessionRecord,
    TenantRecord,
    TokenRecord,
)
from runtime.turnlog import KEEP_TURNS

from .data import Change
from .payloads import SessionSnapshot, StoredMessage, TurnRecord, TurnWrite

_OPEN = (ProposalStatus.PENDING, ProposalStatus.CONFIRMED)


class MemoryStore:
    def __init__(self) -> None:
        self.tenants: dict[str, TenantRecord] = {}
        self.sessions: dict[tuple[str, str], SessionRecord] = {}
        self.active: dict[tuple[str, str, str], str] = {}
        self.history: dict[tuple[str, str], list[StoredMessage]] = {}
        self.state: dict[tuple[str, str], SessionSnapshot] = {}
        self.turns: dict[tuple[str, str], list[bytes]] = {}
        self.audit: dict[str, list[AuditEvent]] = {}
        self.proposals: dict[tuple[str, str], Proposal] = {}
        self.ledger: dict[tuple[str, str], LedgerEntry] = {}
        self.data: dict[
            tuple[str, str], tuple[int, object]
        ] = {}  # (tenant, name) -> (version, doc)
        self.applied: dict[tuple[str, str, str], object] = {}  # (tenant, name, key) -> result
        self.tenant_ids: dict[str, TenantRecord] = {}
        self.owners: dict[tuple[str, str], str] = {}
        self.live: dict[str, tuple[str, float]] = {}  # host -> (incarnation, expiry)
        self.keys: dict[str, KeyRecord] = {}  # key hash -> record
        self.key_used: dict[tuple[str, str], float] = {}
        self.tokens: dict[str, TokenRecord] = {}  # token hash -> record
        self._lock = asyncio.Lock()

    async def put_tenant(self, tenant: TenantRecord) -> None:
        self.tenants[tenant.key_hash] = tenant
        self.tenant_ids[tenant.tenant_id] = tenant

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        return self.tenant_ids.get(tenant_id)

    async def tenant_by_key_hash(self, key_hash: str) -> TenantRecord | None:
        return self.tenants.get(key_hash)

    async def list_tenants(self) -> list[TenantRecord]:
        return sorted(self.tenant_ids.values(), key=lambda t: (t.created_at, t.tenant_id))

    async def put_key(self, rec: KeyRecord) -> None:
        self.keys[rec.key_hash] = rec

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        return self.keys.get(key_hash)

    async def list_keys(self, tenant_id: str) -> list[KeyRecord]:
        mine = [k for k in self.keys.values() if k.tenant_id == tenant_id]
        return sorted(mine, key=lambda k: (k.created_at, k.key_id))

    async def touch_key(self, tenant_id: str, key_id: str, at: float) -> None:
        self.key_used[(tenant_id, key_id)] = at

    async def key_last_used(self, tenant_id: str) -> dict[str, float]:
        return {k: at for (t, k), at in self.key_used.items() if t == tenant_id}

    async def put_token(self, rec: TokenRecord) -> None:
        self.tokens[rec.token_hash] = rec

    async def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        rec = self.tokens.get(token_hash)
        if rec is not None and rec.expires_at <= time.time():
            del self.tokens[token_hash]
            return None
        return rec

    async def delete_token(self, token_hash: str) -> bool:
        return self.tokens.pop(token_hash, None) is not None

    async def create_session(self, rec: SessionRecord) -> tuple[SessionRecord, bool]:
        slot = (rec.tenant_id, rec.agent, rec.subject)
        existing = self.active.get(slot)
        if existing is not None:
            return self.sessions[(rec.tenant_id, existing)], False
        self.active[slot] = rec.session_id
        self.sessions[(rec.tenant_id, rec.session_id)] = rec
        return rec, True

    async def get_session(self, tenant_id: str, session_id: str) -> SessionRecord | None:
        return self.sessions.get((tenant_id, session_id))

    async def close_session(
        self, tenant_id: str, session_id: str, at: float
    ) -> SessionRecord | None:
        rec = self.sessions.get((tenant_id, session_id))
        if rec is None:
            return None
        if rec.status == "active":
            rec = rec.model_copy(update={"status": "closed", "closed_at": at})
            self.sessions[(tenant_id, session_id)] = rec
            slot = (tenant_id, rec.agent, rec.subject)
            if self.active.get(slot) == session_id:
                del self.active[slot]
        return rec

    async def list_sessions(
        self,
        tenant_id: str,
        agent: str | None = None,
        subject: str | None = None,
        status: Literal["active", "closed"] | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[SessionRecord], str | None]:
        paging.check_limit(limit)
        position = paging.decode_cursor(cursor)
        found = sorted(
            (
                rec
                for (t, _), rec in self.sessions.items()
                if t == tenant_id
                and paging.after(rec, position)
                and paging.matches(rec, agent, subject, status)
            ),
            key=lambda rec: (rec.created_at, rec.session_id),
            reverse=True,
        )
        return paging.page(found[: limit + 1], limit)

    async def load_session(
        self, tenant_id: str, session_id: str, last: int
    ) -> tuple[SessionSnapshot | None, list[StoredMessage]]:
        key = (tenant_id, session_id)
        hist = self.history.get(key, [])
        return copy.deepcopy(self.state.get(key)), copy.deepcopy(hist[-last:] if last else [])

    async def save_turn(self, write: TurnWrite, *, owner: str | None = None) -> None:
        key = (write.tenant_id, write.session_id)
        if owner is not None and self.owners.get(key) != owner:
            raise NotOwner(
                f"session {write.session_id} is not owned by {owner}", self.owners.get(key, "")
            )
        self.history.setdefault(key, []).extend(copy.deepcopy(list(write.messages)))
        self.state[key] = copy.deepcopy(write.state)
        self.audit.setdefault(write.tenant_id, []).extend(copy.deepcopy(list(write.audit)))
        for p in write.proposals:
            self.proposals[(p.tenant_id, p.proposal_id)] = p
        if (
            turn := write.turn
        ) is not None:  # kept as JSON, as the Redis store keeps it (and cheaper to copy)
            kept = self.turns.setdefault(key, [])
            kept.append(orjson.dumps(turn))
            del kept[: max(0, len(kept) - KEEP_TURNS)]

    def _live(self, owner: str) -> bool:
        host, _, incarnation = owner.partition("|")
        entry = self.live.get(host)
        return entry is not None and entry[0] == incarnation and entry[1] > time.monotonic()

    async def claim_session(
        self, tenant_id: str, session_id: str, owner: str, *, take: bool = True
    ) -> str | None:
        key = (tenant_id, session_id)
        current = self.owners.get(key)
        if current == owner:
            return None
        if current is not None and self._live(current):
            return current
        if not take:
            return ""
        self.owners[key] = owner
        return None

    async def release_session(self, tenant_id: str, session_id: str, owner: str) -> None:
        if self.owners.get((tenant_id, session_id)) == owner:
            del self.owners[(tenant_id, session_id)]

    async def heartbeat(self, host: str, incarnation: str, ttl_s: float) -> None:
        self.live[host] = (incarnation, time.monotonic() + ttl_s)

    async def list_messages(self, tenant_id: str, session_id: str) -> list[StoredMessage]:
        return copy.deepcopy(self.history.get((tenant_id, session_id), []))

    async def list_turns(self, tenant_id: str, session_id: str) -> list[TurnRecord]:
        return [orjson.loads(t) for t in self.turns.get((tenant_id, session_id), [])]

    async def append_audit(self, tenant_id: str, events: Sequence[AuditEvent]) -> None:
        self.audit.setdefault(tenant_id, []).extend(copy.deepcopy(list(events)))

    async def list_audit(self, tenant_id: str, session_id: str | None = None) -> list[AuditEvent]:
        events = self.audit.get(tenant_id, [])
        return [copy.deepcopy(e) for e in events if session_id in (None, e.get("session_id"))]

    async def save_proposals(
        self,
        proposals: list[Proposal],
        audit: Sequence[AuditEvent],
        ledger: dict[str, LedgerEntry] | None = None,
    ) -> None:
        for pid, entry in (ledger or {}).items():
            tenant = next(p.tenant_id for p in proposals if p.proposal_id == pid)
            self.ledger[(tenant, pid)] = entry
        for p in proposals:
            self.proposals[(p.tenant_id, p.proposal_id)] = p
        for event in audit:
            self.audit.setdefault(str(event["tenant_id"]), []).append(copy.deepcopy(event))

    async def get_proposal(self, tenant_id: str, proposal_id: str) -> Proposal | None:
        return self.proposals.get((tenant_id, proposal_id))

    async def list_proposals(
        self,
        tenant_id: str,
        session_id: str | None = None,
        status: ProposalStatus | None = None,
    ) -> list[Proposal]:
        found = [
            p
            for (t, _), p in self.proposals.items()
            if t == tenant_id and session_id in (None, p.session_id) and status in (None, p.status)
        ]
        return sorted(found, key=lambda p: (p.created_at, p.proposal_id), reverse=True)

    async def due_proposals(self, now: float) -> list[Proposal]:
        return [
            p
            for p in self.proposals.values()
            if p.status is ProposalStatus.PENDING
            and p.expires_at is not None
            and p.expires_at <= now
        ]

    async def open_proposals(self) -> list[Proposal]:
        return [p for p in self.proposals.values() if p.status in _OPEN]

    async def confirmed_proposals(self, before: float) -> list[Proposal]:
        return [
            p
            for p in self.proposals.values()
            if p.status is ProposalStatus.CONFIRMED and p.updated_at <= before
        ]

    async def ledger_claim(self, tenant_id: str, proposal_id: str, at: float) -> LedgerEntry | None:
        key = (tenant_id, proposal_id)
        if key in self.ledger:
            return self.ledger[key]
        self.ledger[key] = LedgerEntry(state=LedgerState.DISPATCHING, at=at)
        return None

    async def ledger_put(self, tenant_id: str, proposal_id: str, entry: LedgerEntry) -> None:
        self.ledger[(tenant_id, proposal_id)] = entry

    # tenant data
    async def data_read(self, tenant_id: str, name: str) -> tuple[int, object]:
        version, doc = self.data.get((tenant_id, name), (0, None))
        return version, copy.deepcopy(doc)

    async def data_update(self, tenant_id: str, name: str, key: str, change: Change) -> object:
        async with self._lock:
            if (tenant_id, name, key) in self.applied:
                return copy.deepcopy(self.applied[(tenant_id, name, key)])
            version, doc = self.data.get((tenant_id, name), (0, None))
            new, result = change(copy.deepcopy(doc))  # raises before anything is stored
            self.data[(tenant_id, name)] = (version + 1, copy.deepcopy(new))
            self.applied[(tenant_id, name, key)] = copy.deepcopy(result)
            return copy.deepcopy(result)

    async def data_applied(self, tenant_id: str, name: str, key: str) -> bool:
        return (tenant_id, name, key) in self.applied

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None

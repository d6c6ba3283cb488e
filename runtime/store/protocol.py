"""The `Store` protocol: everything that must survive a crash.

One implementation per backend: `MemoryStore` (in-process, for unit tests and
`LocalBackend`) and `actors.redis_store.RedisStore` (Redis/Valkey). Every method
takes the tenant and never returns another tenant's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from runtime.audit import AuditEvent
from runtime.proposals.model import Proposal, ProposalStatus
from runtime.shapes import SessionOut

from .data import DataStore
from .payloads import SessionSnapshot, StoredMessage, TurnRecord, TurnWrite


class SessionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: str
    tenant_id: str
    agent: str
    subject: str
    status: Literal["active", "closed"] = "active"
    greeting: str = ""
    created_at: float
    closed_at: float | None = None

    def public(self) -> SessionOut:
        return {
            "session_id": self.session_id,
            "agent": self.agent,
            "subject": self.subject,
            "status": self.status,
            "greeting": self.greeting,
            "created_at": self.created_at,
        }


class TenantRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    name: str
    key_hash: str
    created_at: float = 0.0


class KeyRecord(BaseModel):
    """One API key of a tenant, stored by the SHA-256 of the key (never the key)."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant_id: str
    name: str
    role: Literal["owner", "staff"]
    key_hash: str
    created_at: float = 0.0
    revoked_at: float | None = None


class TokenRecord(BaseModel):
    """An end-user session token, stored by the SHA-256 of the token until it expires."""

    model_config = ConfigDict(frozen=True)

    token_hash: str
    tenant_id: str
    agent: str
    subject: str
    expires_at: float
    created_at: float = 0.0
    minted_by: str = ""


class LedgerState(StrEnum):
    DISPATCHING = "DISPATCHING"
    DONE = "DONE"
    FAILED = "FAILED"


class LedgerEntry(BaseModel):
    """What the exactly-once ledger knows of one proposal's execution.

    DISPATCHING is written before the tool is called; DONE (with the result) or
    FAILED (with the error) is written together with the proposal's final status.
    A repeat finds DONE and returns `result` without calling the tool again."""

    model_config = ConfigDict(frozen=True)

    state: LedgerState
    at: float = 0.0
    attempts: int = 1  # dispatches so far (an idempotent tool may be sent again)
    result: Any = None
    error: str | None = None
    error_kind: str = ""


class Store(DataStore, Protocol):
    """Everything that must survive a crash; tenant data (`DataStore`) included."""

    # tenants
    async def put_tenant(self, tenant: TenantRecord) -> None: ...
    async def tenant_by_key_hash(self, key_hash: str) -> TenantRecord | None: ...
    async def get_tenant(self, tenant_id: str) -> TenantRecord | None: ...
    async def list_tenants(self) -> list[TenantRecord]: ...

    # keys and session tokens (principals)
    async def put_key(self, rec: KeyRecord) -> None:
        """Store (or replace: a revocation) a key, by its hash and in its tenant's list."""
        ...

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None: ...
    async def list_keys(self, tenant_id: str) -> list[KeyRecord]:
        """The tenant's keys, revoked ones included, oldest first."""
        ...

    async def touch_key(self, tenant_id: str, key_id: str, at: float) -> None:
        """Remember when the key was last used (`key_last_used`)."""
        ...

    async def key_last_used(self, tenant_id: str) -> dict[str, float]: ...
    async def put_token(self, rec: TokenRecord) -> None:
        """Store a session token; the store forgets it once it expires."""
        ...

    async def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...
    async def delete_token(self, token_hash: str) -> bool: ...

    # sessions and history
    async def create_session(self, rec: SessionRecord) -> tuple[SessionRecord, bool]:
        """Store `rec` unless an active session of (tenant, agent, subject) exists.

        Returns (the active record, True if `rec` was stored). Atomic.
        """
        ...

    async def get_session(self, tenant_id: str, session_id: str) -> SessionRecord | None: ...
    async def close_session(
        self, tenant_id: str, session_id: str, at: float
    ) -> SessionRecord | None: ...
    async def list_sessions(
        self,
        tenant_id: str,
        agent: str | None = None,
        subject: str | None = None,
        status: Literal["active", "closed"] | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[SessionRecord], str | None]:
        """The tenant's sessions, newest first (`created_at`, then id, descending), at most
        `limit` (1-100) after `cursor`, and the cursor of the next page or None.

        Filters apply to the current records (a closed session lists as closed). A
        malformed cursor or limit is `BadRequest`. Cursors: `runtime.paging`.
        """
        ...

    async def load_session(
        self, tenant_id: str, session_id: str, last: int
    ) -> tuple[SessionSnapshot | None, list[StoredMessage]]:
        """The session's saved state and its newest `last` history messages."""
        ...

    async def save_turn(self, write: TurnWrite, *, owner: str | None = None) -> None:
        """Append a turn's messages, replace the state, append audit, create the
        turn's `proposals` and append its inspector record `turn` (keeping the
        session's newest `runtime.turnlog.KEEP_TURNS`): all at once, or nothing.

        With `owner`, only while `owner` holds the session (`claim_session`); else
        nothing is written and `NotOwner` is raised (fencing).
        """
        ...

    # one owner per session: a lease per session, and a liveness key per host
    async def claim_session(
        self, tenant_id: str, session_id: str, owner: str, *, take: bool = True
    ) -> str | None:
        """Make `owner` ("host|incarnation") the session's owner unless another live
        owner holds it: None when claimed (or already ours), else the live holder.
        With `take=False` a free session is not claimed: "" says it is free."""
        ...

    async def release_session(self, tenant_id: str, session_id: str, owner: str) -> None:
        """Give the session up, if `owner` still holds it."""
        ...

    async def heartbeat(self, host: str, incarnation: str, ttl_s: float) -> None:
        """`host` is alive as `incarnation` for `ttl_s` (its leases hold while it is)."""
        ...

    async def list_messages(self, tenant_id: str, session_id: str) -> list[StoredMessage]: ...
    async def list_turns(self, tenant_id: str, session_id: str) -> list[TurnRecord]:
        """The session's kept turn records (`TurnWrite.turn`), oldest first."""
        ...

    # audit
    async def append_audit(self, tenant_id: str, events: Sequence[AuditEvent]) -> None: ...
    async def list_audit(
        self, tenant_id: str, session_id: str | None = None
    ) -> list[AuditEvent]: ...

    # proposals
    async def save_proposals(
        self,
        proposals: list[Proposal],
        audit: Sequence[AuditEvent],
        ledger: dict[str, LedgerEntry] | None = None,
    ) -> None:
        """Store proposals, their audit events and (by proposal id) ledger entries:
        all at once, or nothing."""
        ...

    async def get_proposal(self, tenant_id: str, proposal_id: str) -> Proposal | None: ...
    async def list_proposals(
        self,
        tenant_id: str,
        session_id: str | None = None,
        status: ProposalStatus | None = None,
    ) -> list[Proposal]:
        """Newest first."""
        ...

    async def due_proposals(self, now: float) -> list[Proposal]:
        """PENDING proposals whose window ended at or before `now` (the sweeper's read)."""
        ...

    async def open_proposals(self) -> list[Proposal]:
        """Every PENDING or CONFIRMED proposal of every tenant."""
        ...

    async def confirmed_proposals(self, before: float) -> list[Proposal]:
        """CONFIRMED proposals last changed at or before `before` (the sweeper resumes them)."""
        ...

    # exactly-once execution ledger
    async def ledger_claim(self, tenant_id: str, proposal_id: str, at: float) -> LedgerEntry | None:
        """Record DISPATCHING (attempt 1) unless an entry exists: None if claimed
        now, else the existing entry."""
        ...

    async def ledger_put(self, tenant_id: str, proposal_id: str, entry: LedgerEntry) -> None: ...

    # lifecycle
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...

"""The `Store` protocol: everything that must survive a crash.

One implementation per backend: `MemoryStore` (in-process, for unit tests and
`LocalRuntime`) and `actors.store.RedisStore` (Redis/Valkey). Every method
takes the tenant and never returns another tenant's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from .proposals import Proposal, ProposalStatus


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

    def public(self) -> dict[str, Any]:
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


class LedgerState(StrEnum):
    DISPATCHING = "DISPATCHING"
    DONE = "DONE"
    FAILED = "FAILED"


class Store(Protocol):
    # tenants
    async def put_tenant(self, tenant: TenantRecord) -> None: ...
    async def tenant_by_key_hash(self, key_hash: str) -> TenantRecord | None: ...

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
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The session's saved state and its newest `last` history messages."""
        ...

    async def save_turn(
        self,
        tenant_id: str,
        session_id: str,
        messages: list[dict[str, Any]],
        state: dict[str, Any],
        audit: list[dict[str, Any]],
        *,
        proposals: Sequence[Proposal] = (),
        owner: str | None = None,
    ) -> None:
        """Append a turn's messages, replace the state, append audit and create the
        turn's `proposals`: all at once, or nothing.

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

    async def list_messages(self, tenant_id: str, session_id: str) -> list[dict[str, Any]]: ...

    # audit
    async def append_audit(self, tenant_id: str, events: list[dict[str, Any]]) -> None: ...
    async def list_audit(
        self, tenant_id: str, session_id: str | None = None
    ) -> list[dict[str, Any]]: ...

    # proposals
    async def save_proposals(
        self, proposals: list[Proposal], audit: list[dict[str, Any]]
    ) -> None: ...
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
    async def ledger_claim(self, tenant_id: str, proposal_id: str, at: float) -> LedgerState | None:
        """Record DISPATCHING; None if claimed now, else the existing state."""
        ...

    async def ledger_set(self, tenant_id: str, proposal_id: str, state: LedgerState) -> None: ...

    # the tenant's business document (demo domain)
    async def business_read(self, tenant_id: str) -> dict[str, Any]: ...
    async def business_write(self, tenant_id: str, key: str, op: str, args: dict[str, Any]) -> Any:
        """Apply `op` once per idempotency `key`; a repeat returns the first result."""
        ...

    async def business_applied(self, tenant_id: str, key: str) -> bool: ...
    async def business_snapshot(self, tenant_id: str) -> tuple[int, dict[str, Any]]:
        """The business version and document, read together (one round trip)."""
        ...

    # lifecycle
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class ReadOnly:
    """Attributes are set once, in `__init__`: a tool holding a port cannot point
    it at another tenant (`port._tenant = "other"` raises)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")


class SnapshotBusinessPort(ReadOnly):
    """A turn's `BusinessPort`: reads serve the snapshot the turn started from
    (no extra round trip per read tool); writes go to the store."""

    __slots__ = ("_doc", "_store", "_tenant")
    _doc: dict[str, Any]
    _store: Store
    _tenant: str

    def __init__(self, store: Store, tenant_id: str, doc: dict[str, Any]) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_tenant", tenant_id)
        object.__setattr__(self, "_doc", doc)

    async def read(self) -> dict[str, Any]:
        return self._doc  # read tools must not mutate it (the built-in ones don't)

    async def write(self, key: str, op: str, args: dict[str, Any]) -> Any:
        return await self._store.business_write(self._tenant, key, op, args)

    async def applied(self, key: str) -> bool:
        return await self._store.business_applied(self._tenant, key)


class StoreBusinessPort(ReadOnly):
    """A `BusinessPort` over a `Store`, bound to one tenant."""

    __slots__ = ("_store", "_tenant")
    _store: Store
    _tenant: str

    def __init__(self, store: Store, tenant_id: str) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_tenant", tenant_id)

    async def read(self) -> dict[str, Any]:
        return await self._store.business_read(self._tenant)

    async def write(self, key: str, op: str, args: dict[str, Any]) -> Any:
        return await self._store.business_write(self._tenant, key, op, args)

    async def applied(self, key: str) -> bool:
        return await self._store.business_applied(self._tenant, key)

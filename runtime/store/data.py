"""Tenant data: durable documents that Python tools keep in Orchestra's store.

A tool gets `ctx.data`, a `TenantData` bound to its tenant: it reads named JSON
documents and changes them with `update(name, key, change)`, which applies
`change` at most once per idempotency `key` (the proposal id of an approved
write): a repeat returns the first result and changes nothing. So a write made
this way runs exactly once across retries and crashes, like any tool the
ledger dispatches; and a tool can tell afterwards whether a call that was cut
short took effect (`applied`).

`DataStore` is the store side (RedisStore, MemoryStore implement it).
`TurnData` is the port a turn's tools share: a document read once in a turn is
served from that read for the rest of the turn (one round trip, one snapshot).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# document (None when absent) -> (new document, result)
Change = Callable[[Any], tuple[Any, Any]]


class DataStore(Protocol):
    async def data_read(self, tenant_id: str, name: str) -> tuple[int, Any]:
        """(version, document or None): the version moves with every change."""
        ...

    async def data_update(self, tenant_id: str, name: str, key: str, change: Change) -> Any:
        """Apply `change` once per `key` (atomically); a repeat returns the first result."""
        ...

    async def data_applied(self, tenant_id: str, name: str, key: str) -> bool: ...


class TenantData(Protocol):
    async def read(self, name: str) -> tuple[int, Any]: ...
    async def update(self, name: str, key: str, change: Change) -> Any: ...
    async def applied(self, name: str, key: str) -> bool: ...


class ReadOnly:
    """Attributes are set once, in `__init__`: a tool holding a port cannot point
    it at another tenant (`port._tenant = "other"` raises)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")


class StoreData(ReadOnly):
    """`TenantData` over a `DataStore`, bound to one tenant."""

    __slots__ = ("_store", "_tenant")
    _store: DataStore
    _tenant: str

    def __init__(self, store: DataStore, tenant_id: str) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_tenant", tenant_id)

    async def read(self, name: str) -> tuple[int, Any]:
        return await self._store.data_read(self._tenant, name)

    async def update(self, name: str, key: str, change: Change) -> Any:
        return await self._store.data_update(self._tenant, name, key, change)

    async def applied(self, name: str, key: str) -> bool:
        return await self._store.data_applied(self._tenant, name, key)


class TurnData(StoreData):
    """`StoreData` whose reads are kept for the turn (a snapshot the turn's tools
    share); a change made through it forgets the document's snapshot."""

    __slots__ = ("_seen",)
    _seen: dict[str, tuple[int, Any]]

    def __init__(self, store: DataStore, tenant_id: str) -> None:
        super().__init__(store, tenant_id)
        object.__setattr__(self, "_seen", {})

    async def read(self, name: str) -> tuple[int, Any]:
        seen = self._seen.get(name)
        if seen is None:
            seen = self._seen[name] = await super().read(name)
        return seen

    async def update(self, name: str, key: str, change: Change) -> Any:
        self._seen.pop(name, None)
        return await super().update(name, key, change)

"""`LocalRuntime`: the whole runtime in one asyncio process (no Ray).

Same semantics as the Ray layer: one message at a time per session, the
proposal book as the single writer, one store. Used by unit tests and as
the reference the Ray backend is held to.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from . import metrics
from .agents import AgentCatalog
from .book import ProposalBook
from .errors import NotFound
from .proposals import ProposalStatus
from .session import SessionPool, public_messages
from .store import Store
from .tenants import hash_key


class LocalRuntime:
    def __init__(
        self,
        store: Store,
        catalog: AgentCatalog,
        clock: Callable[[], float] = time.time,
        sweep_interval_s: float = 1.0,
    ) -> None:
        self.store = store
        self.book = ProposalBook(store, catalog, clock)
        self.pool = SessionPool(store, catalog, self.book, clock)
        self._sweep_interval = sweep_interval_s
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.book.recover()
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            await self.book.expire_due()

    async def authenticate(self, api_key: str) -> str | None:
        rec = await self.store.tenant_by_key_hash(hash_key(api_key))
        return rec.tenant_id if rec else None

    async def create_session(
        self, tenant_id: str, agent: str, subject: str
    ) -> tuple[dict[str, Any], bool]:
        return await self.pool.create(tenant_id, agent, subject)

    async def get_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        return await self.pool.info(tenant_id, session_id)

    async def list_messages(self, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
        if await self.store.get_session(tenant_id, session_id) is None:
            raise NotFound(f"session {session_id} not found")
        return public_messages(await self.store.list_messages(tenant_id, session_id))

    async def close_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        return await self.pool.close(tenant_id, session_id)

    async def send_message(
        self, tenant_id: str, session_id: str, text: str, message_id: str | None = None
    ) -> dict[str, Any]:
        if message_id is not None:
            return await self.pool.send_once(tenant_id, session_id, text, message_id)
        return (await self.pool.send(tenant_id, session_id, text)).public()

    async def list_proposals(
        self, tenant_id: str, session_id: str | None, status: ProposalStatus | None
    ) -> list[dict[str, Any]]:
        return [p.public() for p in await self.book.list_for(tenant_id, session_id, status)]

    async def get_proposal(self, tenant_id: str, proposal_id: str) -> dict[str, Any]:
        return (await self.book.get(tenant_id, proposal_id)).public()

    async def confirm(self, tenant_id: str, proposal_id: str) -> dict[str, Any]:
        return (await self.book.confirm(tenant_id, proposal_id)).public()

    async def reject(self, tenant_id: str, proposal_id: str) -> dict[str, Any]:
        return (await self.book.reject(tenant_id, proposal_id)).public()

    async def audit(self, tenant_id: str, session_id: str | None) -> list[dict[str, Any]]:
        if session_id is not None and await self.store.get_session(tenant_id, session_id) is None:
            raise NotFound(f"session {session_id} not found")
        # A turn's own events are written when it ends, a proposal's when it moves:
        # order by time (stable) so the trail reads oldest first.
        events = await self.store.list_audit(tenant_id, session_id)
        return sorted(events, key=lambda e: float(e.get("at", 0.0)))

    async def ready(self) -> bool:
        return await self.store.ping()

    async def metrics_texts(self) -> list[bytes]:
        return [metrics.exposition()]

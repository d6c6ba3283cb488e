"""`LocalBackend`: the whole runtime in one asyncio process (no Ray).

Same semantics as the Ray layer: one message at a time per session, the
proposal book as the single writer, one store. Used by unit tests and as
the reference the Ray backend is held to.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from functools import partial

from runtime import metrics
from runtime.agents import AgentCatalog
from runtime.backends.protocol import pending_ids
from runtime.backends.reads import BackendReads
from runtime.inbound import Inbound
from runtime.logs import REQUEST_ID
from runtime.principals import TENANT_OWNER, Actor
from runtime.proposals.book import ProposalBook
from runtime.sessions.session import SessionPool
from runtime.shapes import AgentOut, CloseOut, ProposalOut, SessionDetail, SessionOut, TurnOut
from runtime.store.protocol import Store
from runtime.streaming import TurnStream, start_turn


class LocalBackend(BackendReads):
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
        self._turns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.book.recover()
        self._sweeper = asyncio.create_task(self.book.run_sweeper(self._sweep_interval))

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def create_session(
        self, tenant_id: str, agent: str, subject: str
    ) -> tuple[SessionOut, bool]:
        return await self.pool.create(tenant_id, agent, subject)

    async def list_agents(self, tenant_id: str) -> list[AgentOut]:
        return self.pool.catalog.describe()

    async def get_session(self, tenant_id: str, session_id: str) -> SessionDetail:
        return await self.pool.info(tenant_id, session_id)

    async def close_session(self, tenant_id: str, session_id: str) -> CloseOut:
        return await self.pool.close(tenant_id, session_id)

    async def send_message(self, msg: Inbound) -> TurnOut:
        msg = msg.received(REQUEST_ID.get())  # before it waits for anything
        result = await self.pool.send(msg)
        if not msg.relay:
            await self._delivered(msg, result)
        return result

    async def stream_message(self, msg: Inbound) -> TurnStream:
        msg = msg.received(REQUEST_ID.get())
        return start_turn(
            lambda feed: self.pool.send(msg, emit=feed),
            self._turns,
            None if msg.relay else partial(self._delivered, msg),
        )

    async def _delivered(self, msg: Inbound, result: TurnOut) -> None:
        """An in-process caller has the result once the call returns: delivered."""
        ids = pending_ids(result)
        if ids:
            await self.book.mark_delivered(msg.tenant_id, msg.session_id, ids, time.time_ns())

    async def mark_delivered(
        self, tenant_id: str, session_id: str, proposal_ids: list[str], at_ns: int = 0
    ) -> None:
        await self.book.mark_delivered(tenant_id, session_id, proposal_ids, at_ns)

    async def confirm(
        self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER
    ) -> ProposalOut:
        return (await self.book.confirm(tenant_id, proposal_id, by)).public(by)

    async def reject(
        self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER
    ) -> ProposalOut:
        return (await self.book.reject(tenant_id, proposal_id, by)).public(by)

    async def ready(self) -> bool:
        return await self.store.ping()

    async def metrics_texts(self) -> list[bytes]:
        return [metrics.exposition()]

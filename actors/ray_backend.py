"""`RayBackend`: the gateway's `Backend` on Ray actors and the shared store.

Writes go to actors (messages to session actors, proposal decisions to the
registry shard of the tenant); reads that need no actor (history, proposal
lists, audit, tenant keys) go straight to the store.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial

import ray
from ray.exceptions import RayError

from runtime import metrics
from runtime.agents import AgentCatalog
from runtime.backends.protocol import pending_ids
from runtime.backends.reads import BackendReads
from runtime.config.settings import Settings, build_catalog
from runtime.errors import Unavailable
from runtime.inbound import Inbound
from runtime.logs import REQUEST_ID
from runtime.principals import TENANT_OWNER, Actor
from runtime.sessions.session import create_session
from runtime.shapes import AgentOut, CloseOut, ProposalOut, SessionDetail, SessionOut, TurnOut
from runtime.store.protocol import Store
from runtime.streaming import TurnStream, start_turn

from .common import (
    HOST_PREFIX,
    REGISTRY_PREFIX,
    SESSION_PREFIX,
    open_store,
    registry_name,
)
from .registry import RegistryPort, ask
from .router import SessionRouter

METRICS_MAX_SESSION_ACTORS = 32  # dedicated actors scraped per /metrics (hosts always are)


class RayBackend(BackendReads):
    def __init__(
        self, settings: Settings, store: Store | None = None, catalog: AgentCatalog | None = None
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.catalog = catalog or build_catalog(settings)
        self.router = SessionRouter(settings)
        self.registry = RegistryPort(
            [
                ray.get_actor(registry_name(i), namespace=settings.namespace)
                for i in range(settings.registry_shards)
            ]
        )
        self._turns: set[asyncio.Task[None]] = set()
        self.metrics_max_session_actors = METRICS_MAX_SESSION_ACTORS

    async def create_session(
        self, tenant_id: str, agent: str, subject: str
    ) -> tuple[SessionOut, bool]:
        return await create_session(self.store, self.catalog, tenant_id, agent, subject)

    async def list_agents(self, tenant_id: str) -> list[AgentOut]:
        return self.catalog.describe()

    async def get_session(self, tenant_id: str, session_id: str) -> SessionDetail:
        await self.require_session(tenant_id, session_id)
        return await self.router.info(tenant_id, session_id)

    async def close_session(self, tenant_id: str, session_id: str) -> CloseOut:
        await self.require_session(tenant_id, session_id)
        return await self.router.close(tenant_id, session_id)

    async def _check(self, tenant_id: str, session_id: str) -> None:
        # A dedicated actor is created for the id it is asked for: make sure the
        # session exists first (hosts look it up themselves before holding anything).
        if self.settings.placement == "dedicated":
            await self.require_session(tenant_id, session_id)

    async def send_message(self, msg: Inbound) -> TurnOut:
        msg = msg.received(REQUEST_ID.get())
        await self._check(msg.tenant_id, msg.session_id)
        result = await self.router.send(msg)
        if not msg.relay:
            await self._delivered(msg, result)
        return result

    async def stream_message(self, msg: Inbound) -> TurnStream:
        msg = msg.received(REQUEST_ID.get())
        await self._check(msg.tenant_id, msg.session_id)
        return start_turn(
            lambda feed: self.router.send(msg, sink=feed),
            self._turns,
            None if msg.relay else partial(self._delivered, msg),
        )

    async def _delivered(self, msg: Inbound, result: TurnOut) -> None:
        """An in-process caller has the result once the call returns: delivered."""
        ids = pending_ids(result)
        if ids:
            await self.registry.mark_delivered(msg.tenant_id, msg.session_id, ids, time.time_ns())

    async def mark_delivered(
        self, tenant_id: str, session_id: str, proposal_ids: list[str], at_ns: int = 0
    ) -> None:
        await self.registry.mark_delivered(tenant_id, session_id, proposal_ids, at_ns)

    async def confirm(
        self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER
    ) -> ProposalOut:
        return await self.registry.confirm(tenant_id, proposal_id, by)

    async def reject(
        self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER
    ) -> ProposalOut:
        return await self.registry.reject(tenant_id, proposal_id, by)

    async def ready(self) -> bool:
        try:
            pings = [ask(self.registry.handle_of(i).ping.remote()) for i in self._shards()]
            results = await asyncio.wait_for(asyncio.gather(*pings), timeout=2.0)
            return bool(await self.store.ping()) and all(results)
        except Exception:
            return False

    def _shards(self) -> range:
        return range(self.settings.registry_shards)

    async def metrics_texts(self) -> list[bytes]:
        """This process's metrics plus every host's and registry's, and those of at
        most `metrics_max_session_actors` dedicated session actors (a scrape stays
        bounded however many sessions there are). An actor that is gone by the time
        it is scraped, or does not answer within 2 s, is left out of this scrape
        rather than holding it up; Ray unable to list the actors is `Unavailable`."""
        names = await self._named_actors()
        sessions = [n for n in names if n.startswith(SESSION_PREFIX)]
        names = [n for n in names if not n.startswith(SESSION_PREFIX)]
        names += sessions[: self.metrics_max_session_actors]
        results = await asyncio.gather(*(self._scrape(n) for n in names))
        return [metrics.exposition(), *(r for r in results if r is not None)]

    async def _named_actors(self) -> list[str]:
        """The names of this deployment's hosts, registry shards and session actors."""
        try:
            listed = await asyncio.to_thread(ray.util.list_named_actors, all_namespaces=True)
        except (RayError, OSError) as exc:  # the GCS restarting or unreachable
            raise Unavailable(
                f"cannot list the runtime actors ({type(exc).__name__}); retry"
            ) from exc
        return [
            a["name"]
            for a in listed
            if a["namespace"] == self.settings.namespace
            and a["name"].startswith((HOST_PREFIX, REGISTRY_PREFIX, SESSION_PREFIX))
        ]

    async def _scrape(self, name: str) -> bytes | None:
        """One actor's metrics; None when it is gone (killed, evicted or being
        replaced since the listing) or does not answer within 2 s."""

        async def call() -> bytes:
            # The lookup asks the GCS: off the event loop, and inside the timeout.
            handle = await asyncio.to_thread(ray.get_actor, name, namespace=self.settings.namespace)
            text: bytes = await handle.metrics.remote()
            return text

        try:
            return await asyncio.wait_for(call(), timeout=2.0)
        except (ValueError, TimeoutError, RayError, OSError):  # ValueError: no such actor now
            return None

    async def close(self) -> None:
        await self.router.shutdown()
        await self.store.close()

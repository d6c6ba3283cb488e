"""`RayBackend`: the gateway's `Backend` on Ray actors and the shared store.

Writes go to actors (messages to session actors, proposal decisions to the
registry shard of the tenant); reads that need no actor (history, proposal
lists, audit, tenant keys) go straight to the store.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray

from runtime import metrics
from runtime.agents import AgentCatalog
from runtime.logs import REQUEST_ID
from runtime.reads import StoreReads
from runtime.session import create_session
from runtime.settings import Settings, build_catalog
from runtime.store import Store

from .common import (
    HOST_PREFIX,
    REGISTRY_PREFIX,
    SESSION_PREFIX,
    open_store,
    registry_name,
    shard_of,
    unwrap,
)
from .router import SessionRouter


class RayBackend(StoreReads):
    def __init__(
        self, settings: Settings, store: Store | None = None, catalog: AgentCatalog | None = None
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.catalog = catalog or build_catalog(settings)
        self.router = SessionRouter(settings)
        self._registries = [
            ray.get_actor(registry_name(i), namespace=settings.namespace)
            for i in range(settings.registry_shards)
        ]

    def _registry(self, tenant_id: str) -> Any:
        return self._registries[shard_of(tenant_id, len(self._registries))]

    async def create_session(
        self, tenant_id: str, agent: str, subject: str
    ) -> tuple[dict[str, Any], bool]:
        return await create_session(self.store, self.catalog, tenant_id, agent, subject)

    async def list_agents(self, tenant_id: str) -> list[dict[str, Any]]:
        return [{"name": name} for name in self.catalog.names()]

    async def get_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        await self.require_session(tenant_id, session_id)
        return await self.router.info(tenant_id, session_id)

    async def close_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        await self.require_session(tenant_id, session_id)
        return await self.router.close(tenant_id, session_id)

    async def send_message(
        self, tenant_id: str, session_id: str, text: str, message_id: str | None = None
    ) -> dict[str, Any]:
        return await self.router.send(tenant_id, session_id, text, message_id)

    async def confirm(self, tenant_id: str, proposal_id: str) -> dict[str, Any]:
        envelope = await self._registry(tenant_id).call.remote(
            "confirm", tenant_id, proposal_id, rid=REQUEST_ID.get()
        )
        result: dict[str, Any] = unwrap(envelope)
        return result

    async def reject(self, tenant_id: str, proposal_id: str) -> dict[str, Any]:
        envelope = await self._registry(tenant_id).call.remote(
            "reject", tenant_id, proposal_id, rid=REQUEST_ID.get()
        )
        result: dict[str, Any] = unwrap(envelope)
        return result

    async def ready(self) -> bool:
        try:
            pings = [r.ping.remote() for r in self._registries]
            results = await asyncio.wait_for(asyncio.gather(*pings), timeout=2.0)
            return bool(await self.store.ping()) and all(results)
        except Exception:
            return False

    async def metrics_texts(self) -> list[bytes]:
        """This process's metrics plus every Orchestra actor's (hosts, registries and,
        in dedicated placement, session actors); an actor that does not answer within
        2 s is left out of this scrape rather than holding it up."""
        names = [
            a["name"]
            for a in await asyncio.to_thread(ray.util.list_named_actors, all_namespaces=True)
            if a["namespace"] == self.settings.namespace
            and a["name"].startswith((HOST_PREFIX, REGISTRY_PREFIX, SESSION_PREFIX))
        ]

        async def scrape(name: str) -> bytes | None:
            try:
                handle = ray.get_actor(name, namespace=self.settings.namespace)
                text: bytes = await asyncio.wait_for(handle.metrics.remote(), timeout=2.0)
                return text
            except Exception:
                return None

        results = await asyncio.gather(*(scrape(n) for n in names))
        return [metrics.exposition(), *(r for r in results if r is not None)]

    async def close(self) -> None:
        await self.store.close()

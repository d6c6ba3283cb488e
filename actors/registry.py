"""`ProposalRegistry`: the Ray actor that is the single writer of proposals.

One per tenant shard (named `orchestra-registry-<shard>`). It wraps the
runtime's `ProposalBook`; state lives in the store, so a restarted registry
(`max_restarts=-1`) rebuilds from it: its sweeper first finishes CONFIRMED
proposals through the exactly-once ledger, then expires due ones and resumes
stuck ones, for the tenants of its own shard only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import ray
from ray.exceptions import RayError

from runtime import logs, metrics, telemetry
from runtime.config.settings import Settings, build_catalog
from runtime.errors import Unavailable
from runtime.inbound import Inbound
from runtime.principals import TENANT_OWNER, Actor
from runtime.proposals.book import ProposalBook
from runtime.proposals.model import Proposal
from runtime.shapes import ProposalOut

from .common import Reply, done, failed, open_store, shard_of, unwrap
from .tracing import finished_spans, flush_tracing, setup_tracing

T = TypeVar("T")


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=1000)
class ProposalRegistry:
    def __init__(self, settings: dict[str, object], shard: int = 0) -> None:
        self.settings = Settings.model_validate(settings)
        logs.configure()
        setup_tracing(self.settings, "registry")
        self.store = open_store(self.settings)
        shards = self.settings.registry_shards
        self.book = ProposalBook(
            self.store,
            build_catalog(self.settings),
            owns=lambda tenant_id: shard_of(tenant_id, shards) == shard,
        )
        # Async actors run __init__ on their event loop: recover and sweep at once,
        # so a restarted registry (max_restarts) finishes interrupted work unasked.
        self._sweeper = asyncio.get_running_loop().create_task(
            self.book.run_sweeper(self.settings.sweep_interval_s)
        )

    async def ping(self) -> bool:
        return await self.store.ping()

    async def settings_payload(self) -> dict[str, Any]:
        """The settings this shard was made with (`orchestra hosts add` copies them)."""
        return self.settings.model_dump()

    async def on_user_message(
        self, msg: Inbound, now: float, trace: str = ""
    ) -> Reply[list[Proposal]]:
        return await _reply(msg.request_id, self.book.on_user_message(msg, now), trace)

    async def confirm(
        self,
        tenant_id: str,
        proposal_id: str,
        rid: str = "",
        trace: str = "",
        by: Actor = TENANT_OWNER,
    ) -> Reply[ProposalOut]:
        return await _reply(rid, _public(self.book.confirm(tenant_id, proposal_id, by), by), trace)

    async def mark_delivered(
        self,
        tenant_id: str,
        session_id: str,
        proposal_ids: list[str],
        at_ns: int,
        rid: str = "",
        trace: str = "",
    ) -> Reply[None]:
        return await _reply(
            rid, self.book.mark_delivered(tenant_id, session_id, proposal_ids, at_ns), trace
        )

    async def reject(
        self,
        tenant_id: str,
        proposal_id: str,
        rid: str = "",
        trace: str = "",
        by: Actor = TENANT_OWNER,
    ) -> Reply[ProposalOut]:
        return await _reply(rid, _public(self.book.reject(tenant_id, proposal_id, by), by), trace)

    async def metrics(self) -> bytes:
        return metrics.exposition()

    async def spans(self) -> list[dict[str, Any]]:
        """The spans this process kept (`telemetry_exporter = "memory"`: tests)."""
        flush_tracing()
        return finished_spans()


async def _reply(rid: str, work: Awaitable[T], trace: str = "") -> Reply[T]:
    """`work`'s result as a `Reply` (its exception as the error's wire form), run
    under the caller's request id and, with tracing on, inside the caller's trace."""
    logs.REQUEST_ID.set(rid)
    token = telemetry.attach(trace) if trace else None
    try:
        return done(await work)
    except Exception as exc:
        return failed(exc)
    finally:
        telemetry.detach(token)


async def _public(decided: Awaitable[Proposal], viewer: Actor) -> ProposalOut:
    return (await decided).public(viewer)


async def ask(pending: Any) -> Any:
    """Await a Ray call; any Ray failure (the actor died, is restarting, or cannot
    be reached) is `Unavailable`, a 503 with Retry-After at the gateway."""
    try:
        return await pending
    except RayError as exc:
        raise Unavailable(f"a runtime actor is unavailable ({type(exc).__name__}); retry") from exc


class RegistryPort:
    """The `ProposalPort` a session host uses: calls the tenant's registry shard."""

    def __init__(self, handles: list[Any]) -> None:
        self._handles = handles

    def handle(self, tenant_id: str) -> Any:
        return self._handles[shard_of(tenant_id, len(self._handles))]

    def handle_of(self, shard: int) -> Any:
        return self._handles[shard]

    async def on_user_message(self, msg: Inbound, now: float) -> list[Proposal]:
        reply: Reply[list[Proposal]] = await ask(
            self.handle(msg.tenant_id).on_user_message.remote(msg, now, telemetry.carrier())
        )
        return unwrap(reply)

    async def mark_delivered(
        self, tenant_id: str, session_id: str, proposal_ids: list[str], at_ns: int = 0
    ) -> None:
        reply: Reply[None] = await ask(
            self.handle(tenant_id).mark_delivered.remote(
                tenant_id,
                session_id,
                proposal_ids,
                at_ns,
                logs.REQUEST_ID.get(),
                telemetry.carrier(),
            )
        )
        unwrap(reply)

    async def confirm(self, tenant_id: str, proposal_id: str, by: Actor) -> ProposalOut:
        reply: Reply[ProposalOut] = await ask(
            self.handle(tenant_id).confirm.remote(
                tenant_id, proposal_id, logs.REQUEST_ID.get(), telemetry.carrier(), by
            )
        )
        return unwrap(reply)

    async def reject(self, tenant_id: str, proposal_id: str, by: Actor) -> ProposalOut:
        reply: Reply[ProposalOut] = await ask(
            self.handle(tenant_id).reject.remote(
                tenant_id, proposal_id, logs.REQUEST_ID.get(), telemetry.carrier(), by
            )
        )
        return unwrap(reply)


__all__ = ["ProposalRegistry", "RegistryPort", "ask"]

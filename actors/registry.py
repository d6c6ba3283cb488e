"""`ProposalRegistry`: the Ray actor that is the single writer of proposals.

One per tenant shard (named `orchestra-registry-<shard>`). It wraps the
runtime's `ProposalBook`; state lives in the store, so a restarted registry
(`max_restarts=-1`) rebuilds from it: `recover()` finishes CONFIRMED
proposals through the exactly-once ledger and the sweeper resumes expiring.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from runtime import logs, metrics
from runtime.book import ProposalBook
from runtime.errors import Unavailable
from runtime.proposals import Proposal
from runtime.settings import Settings, build_catalog

from .common import Envelope, open_store, shard_of, unwrap, wrap_error


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=1000)
class ProposalRegistry:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = Settings.model_validate(settings)
        logs.configure()
        self.store = open_store(self.settings)
        self.book = ProposalBook(self.store, build_catalog(self.settings))
        # Async actors run __init__ on their event loop: recover and sweep at once,
        # so a restarted registry (max_restarts) finishes interrupted work unasked.
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        with contextlib.suppress(Exception):
            await self.book.recover()
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            with contextlib.suppress(Exception):  # a store blip must not kill the sweeper
                await self.book.expire_due()

    async def ping(self) -> bool:
        return await self.store.ping()

    async def call(self, method: str, *args: Any, rid: str = "") -> Envelope:
        """One entry point: `method` of the book, errors as envelopes."""
        logs.REQUEST_ID.set(rid)
        try:
            if method == "propose":
                return True, await self.book.propose(args[0])
            if method == "on_user_message":
                return True, await self.book.on_user_message(*args)
            if method == "confirm":
                return True, (await self.book.confirm(*args)).public()
            if method == "reject":
                return True, (await self.book.reject(*args)).public()
            if method == "expire_due":
                return True, [p.public() for p in await self.book.expire_due(*args)]
            raise ValueError(f"unknown registry method {method}")
        except Exception as exc:
            return wrap_error(exc)

    async def metrics(self) -> bytes:
        return metrics.exposition()


class RegistryPort:
    """The `ProposalPort` a session host uses: calls the tenant's registry shard."""

    def __init__(self, handles: list[Any]) -> None:
        self._handles = handles

    async def _call(self, tenant_id: str, method: str, *args: Any) -> Any:
        handle = self._handles[shard_of(tenant_id, len(self._handles))]
        try:
            envelope = await handle.call.remote(method, *args, rid=logs.REQUEST_ID.get())
        except (RayActorError, ActorUnavailableError) as exc:
            raise Unavailable(f"proposal registry unavailable ({type(exc).__name__})") from exc
        return unwrap(envelope)

    async def propose(self, proposal: Proposal) -> Proposal:
        result: Proposal = await self._call(proposal.tenant_id, "propose", proposal)
        return result

    async def on_user_message(
        self, tenant_id: str, session_id: str, text: str, now: float
    ) -> list[Proposal]:
        result: list[Proposal] = await self._call(
            tenant_id, "on_user_message", tenant_id, session_id, text, now
        )
        return result


__all__ = ["ProposalRegistry", "RegistryPort"]

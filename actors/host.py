"""`SessionHost`: a Ray actor holding many sessions (placement `hosted`).

Sessions live in a `SessionPool`; each session's mailbox runs its messages
one at a time. The gateway sends *batches* of operations (every message that
arrived for this host while its previous call was busy) in one Ray call;
batches from one caller carry a sequence number and are dispatched strictly
in that order, so per-session arrival order holds even with several batches
in flight. The same class, holding one session, is the `dedicated` placement's actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from typing import Any

import ray

from runtime import logs, metrics
from runtime.session import SessionPool
from runtime.settings import Settings, build_catalog

from .common import Envelope, open_store, registry_name, wrap_error
from .registry import RegistryPort

SEQ_GAP_S = 2.0  # how long a batch waits for a missing earlier batch of its caller

# An operation: (kind, request_id, tenant, sid[, text, message_id]);
# kind: "send" | "info" | "close"
Op = tuple[Any, ...]


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=10_000)
class SessionHost:
    def __init__(self, settings: dict[str, Any], label: str = "0") -> None:
        self.settings = Settings.model_validate(settings)
        logs.configure()
        self.label = label
        self.store = open_store(self.settings)
        registries = [
            ray.get_actor(registry_name(i), namespace=self.settings.namespace)
            for i in range(self.settings.registry_shards)
        ]
        self.pool = SessionPool(self.store, build_catalog(self.settings), RegistryPort(registries))
        self._next_seq: dict[str, int] = {}
        self._turn = asyncio.Condition()
        self._evictor = asyncio.get_running_loop().create_task(self._evict_loop())
        gc.freeze()  # imports and setup live as long as the process: out of full GC passes

    async def _evict_loop(self) -> None:
        while True:
            await asyncio.sleep(min(60.0, self.settings.idle_evict_s / 2))
            self.pool.evict_idle(self.settings.idle_evict_s)
            metrics.LIVE_SESSIONS.labels(self.label).set(len(self.pool.cores))

    async def run(
        self, caller: str, seq: int, ops: list[Op], floor: int | None = None
    ) -> list[Envelope]:
        """Run a batch after every earlier batch of `caller` has been dispatched.

        `floor` is the caller's lowest batch still unanswered: a new or restarted
        host adopts the caller there, so batches that overtook an earlier one on
        the way still wait for it (bounded by `SEQ_GAP_S`).
        """
        async with self._turn:
            self._next_seq.setdefault(caller, seq if floor is None else min(floor, seq))
            # If an earlier batch never comes (it went to a host incarnation that
            # died), waiting longer cannot bring it: go on rather than stall.
            if self._next_seq[caller] < seq:  # (the usual case: no wait, no timer)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._turn.wait_for(lambda: self._next_seq[caller] >= seq), SEQ_GAP_S
                    )
            # Tasks start in creation order, and each enters its session's FIFO
            # mailbox before yielding, so dispatch order == arrival order.
            tasks = [asyncio.ensure_future(self._one(op)) for op in ops]
            # never lower it: a late, lower batch (one below the floor, or let through
            # by the timeout) must not send the counter back, or later batches stall
            self._next_seq[caller] = max(self._next_seq[caller], seq + 1)
            self._turn.notify_all()
        return await asyncio.gather(*tasks)

    async def _one(self, op: Op) -> Envelope:
        try:
            kind, rid, tenant, sid = op[:4]
            logs.REQUEST_ID.set(rid)  # this task's own context: the id follows the message
            if kind == "send":
                text, message_id = op[4], op[5]
                if message_id:
                    return True, await self.pool.send_once(tenant, sid, text, message_id)
                return True, (await self.pool.send(tenant, sid, text)).public()
            if kind == "info":
                return True, await self.pool.info(tenant, sid)
            if kind == "close":
                return True, await self.pool.close(tenant, sid)
            raise ValueError(f"unknown op {kind!r}")
        except Exception as exc:
            return wrap_error(exc)

    async def stats(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "sessions": len(self.pool.cores),
            "queued": self.pool.queue_depth(),
        }

    async def evict(self, idle_s: float = 0.0) -> int:
        return self.pool.evict_idle(idle_s)

    async def metrics(self) -> bytes:
        # gauges of the whole pool: computed when scraped, not on every batch
        metrics.LIVE_SESSIONS.labels(self.label).set(len(self.pool.cores))
        metrics.MAILBOX_DEPTH.labels(self.label).set(self.pool.queue_depth())
        return metrics.exposition()

    async def shutdown(self) -> None:
        self._evictor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._evictor
        await self.store.close()

"""`SessionHost`: a Ray actor holding many sessions (placement `hosted`).

Sessions live in a `SessionPool`; each session's mailbox runs its messages
one at a time. The gateway sends *batches* of operations (`run`: every message
that arrived for this host while its previous batch was on the way) in one Ray
call, which answers when the first of them ends (with every outcome made by
then) or after a few milliseconds; what they produce after that comes back
through the caller's `Outbox`, taken out by long polls (`poll`), so each
result leaves the moment its turn ends, whatever else shared its batch.
Batches from one caller carry a sequence number and are dispatched strictly in
that order, so per-session arrival order holds with several batches in flight.

Each session is owned through a lease in the store (`SessionPool`): this host
heartbeats its liveness, and stops serving (drops every session) if it cannot
for half the lease time, so a session never runs on two hosts at once. The same
class, holding one session, is the `dedicated` placement's actor; it exits
when it has held nothing for `idle_evict_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
import uuid
from typing import Any

import ray

from runtime import logs, metrics, telemetry
from runtime.config.settings import Settings, build_catalog
from runtime.errors import Unavailable
from runtime.events import TurnEvent
from runtime.sessions.session import SessionPool

from .common import HOST_PREFIX, failed, host_name, open_store, registry_name
from .ops import Ack, Delivery, Op, Outcome, SendOp
from .outbox import Hold, Outbox
from .registry import RegistryPort
from .ring import Ring
from .tracing import finished_spans, flush_tracing, setup_tracing

SEQ_GAP_S = 2.0  # how long a batch waits for a missing earlier batch of its caller
POLL_TIMEOUT_S = 20.0
HEARTBEAT_S = 0.5
LEASE_TTL_S = 3.0  # a host silent this long has lost its sessions to whoever asks
OUTBOX_IDLE_S = 120.0  # a caller that has not polled this long is gone


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=10_000)
class SessionHost:
    def __init__(self, settings: dict[str, object], label: str = "0", name: str = "") -> None:
        self.settings = Settings.model_validate(settings)
        logs.configure()
        setup_tracing(self.settings, "session_host")
        self.label = label
        self.name = name or f"{HOST_PREFIX}{label}"
        self.incarnation = uuid.uuid4().hex[:12]
        self.store = open_store(self.settings)
        registries = [
            ray.get_actor(registry_name(i), namespace=self.settings.namespace)
            for i in range(self.settings.registry_shards)
        ]
        self.dedicated = label == "dedicated"
        self.ring = (
            None
            if self.dedicated
            else Ring(
                self.settings.namespace,
                self.name,
                [host_name(i) for i in range(self.settings.hosts)],
            )
        )
        self.pool = SessionPool(
            self.store,
            build_catalog(self.settings),
            RegistryPort(registries),
            owner=f"{self.name}|{self.incarnation}",
            name=self.name,
            ring=self.ring.owner_of if self.ring is not None else None,
        )
        self._next_seq: dict[str, int] = {}
        self._turn = asyncio.Condition()
        self._outboxes: dict[str, Outbox] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._alive_until = 0.0  # monotonic: our leases hold until then
        self._first_beat = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._background = [
            loop.create_task(self._heartbeat_loop()),
            loop.create_task(self._housekeeping_loop()),
        ]
        gc.freeze()  # imports and setup live as long as the process: out of full GC passes

    # -- liveness and housekeeping -------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.store.heartbeat(self.name, self.incarnation, LEASE_TTL_S)
                self._alive_until = started + LEASE_TTL_S / 2
                self._first_beat.set()
            except Exception as exc:
                logs.event("heartbeat_failed", logging.WARNING, error=type(exc).__name__)
                if time.monotonic() >= self._alive_until and self.pool.cores:
                    self.pool.drop_all()  # our leases may be someone else's by now
            await asyncio.sleep(HEARTBEAT_S)

    async def _housekeeping_loop(self) -> None:
        idle_since = time.monotonic()
        while True:
            await asyncio.sleep(min(10.0, self.settings.idle_evict_s / 2))
            self.pool.evict_idle(self.settings.idle_evict_s)
            if self.ring is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.ring.refresh)
                self.pool.rebalance()
            now = time.monotonic()
            for caller, box in list(self._outboxes.items()):
                if now - box.last_poll > OUTBOX_IDLE_S:
                    del self._outboxes[caller]
            metrics.LIVE_SESSIONS.labels(self.label).set(len(self.pool.cores))
            if self.pool.cores or any(b.pending() for b in self._outboxes.values()):
                idle_since = now
            elif self.dedicated and now - idle_since >= self.settings.idle_evict_s:
                logs.event("dedicated_actor_exit", actor=self.name)
                ray.actor.exit_actor()

    def _outbox(self, caller: str) -> Outbox:
        box = self._outboxes.get(caller)
        if box is None:
            box = self._outboxes[caller] = Outbox()
        return box

    # -- the gateway's calls ------------------------------------------------------------
    async def run(self, caller: str, seq: int, ops: list[Op], floor: int | None = None) -> Ack:
        """Dispatch a batch after every earlier batch of `caller` has been dispatched;
        answers once the first of its ops has ended (with the outcomes that ended
        by then), or after `run_hold_ms` at most (`Hold`): the rest come through
        `poll`.

        `floor` is the caller's lowest batch still unanswered: a new or restarted
        host adopts the caller there, so batches that overtook an earlier one on
        the way still wait for it (bounded by `SEQ_GAP_S`).
        """
        box = self._outbox(caller)
        hold = Hold(box, sum(1 for op in ops if not (isinstance(op, SendOp) and op.stream)))
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
            for op in ops:
                task = asyncio.ensure_future(self._one(op, box, hold))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            # never lower it: a late, lower batch (one below the floor, or let through
            # by the timeout) must not send the counter back, or later batches stall
            self._next_seq[caller] = max(self._next_seq[caller], seq + 1)
            self._turn.notify_all()
        return Ack(len(ops), await hold.wait(self.settings.run_hold_ms / 1000))

    async def poll(self, caller: str, wait_s: float = POLL_TIMEOUT_S) -> Delivery:
        """What `caller`'s ops produced since its last poll (waits until there is some)."""
        return await self._outbox(caller).next(wait_s)

    async def _one(self, op: Op, box: Outbox, hold: Hold) -> None:
        streamed = isinstance(op, SendOp) and op.stream
        done = box.outcome if streamed else hold.outcome  # a stream's outcome follows its events
        logs.REQUEST_ID.set(op.request_id)  # this task's own context: the id follows it
        token = telemetry.attach(op.trace) if op.trace else None
        try:
            if time.monotonic() >= self._alive_until:
                # just started (the first heartbeat is on its way), or the store is gone
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._first_beat.wait(), LEASE_TTL_S / 2)
            if time.monotonic() >= self._alive_until:
                raise Unavailable("this session host cannot reach the store")
            done(Outcome(op.op_id, True, await self._result(op, box)))
        except Exception as exc:
            ok, wire = failed(exc)
            done(Outcome(op.op_id, ok, wire))
        finally:
            telemetry.detach(token)

    async def _result(self, op: Op, box: Outbox) -> Any:
        if isinstance(op, SendOp):
            emit = None
            if op.stream:

                def emit(event: TurnEvent, op_id: int = op.op_id) -> None:
                    box.event(op_id, event)

            return await self.pool.send(op.msg, redirected=op.redirected, emit=emit)
        if op.kind == "info":
            return await self.pool.info(op.tenant_id, op.session_id, op.redirected)
        return await self.pool.close(op.tenant_id, op.session_id, op.redirected)

    async def stats(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "name": self.name,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "sessions": len(self.pool.cores),
            "queued": self.pool.queue_depth(),
            "incarnation": self.incarnation,
        }

    async def evict(self, idle_s: float = 0.0) -> int:
        return self.pool.evict_idle(idle_s)

    async def metrics(self) -> bytes:
        # gauges of the whole pool: computed when scraped, not on every batch
        metrics.LIVE_SESSIONS.labels(self.label).set(len(self.pool.cores))
        metrics.MAILBOX_DEPTH.labels(self.label).set(self.pool.queue_depth())
        return metrics.exposition()

    async def spans(self) -> list[dict[str, Any]]:
        """The spans this process kept (`telemetry_exporter = "memory"`: tests)."""
        flush_tracing()
        return finished_spans()

    async def shutdown(self) -> None:
        flush_tracing()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.close()

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

Each session is owned through a lease in the store (`SessionPool`), valid while
this host's liveness key is (`HostLease`: renewed from a thread on a connection
of its own, so a busy event loop cannot starve it). The host drops every
session only when the store shows its liveness lapsed, so a session never runs
on two hosts at once and a host never fences itself for being late. The same
class, holding one session, is the `dedicated` placement's actor; it exits
when it has held nothing for `idle_evict_s`.

The host ring is re-read every `RING_WATCH_S` (a host added by `orchestra
hosts add` starts taking its share within seconds; idle sessions it should
hold are given up by the others). `retire()` takes a host out before it is
removed: it leaves its own ring, claims nothing more, and gives up each
session once its turns are done, so every session moves without loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
import uuid

import ray

from runtime import logs, metrics, telemetry
from runtime.admission import Admission
from runtime.config.settings import Settings, build_catalog
from runtime.errors import Unavailable
from runtime.events import TurnEvent
from runtime.sessions.session import SessionPool

from .common import HOST_PREFIX, failed, host_name, open_store, registry_name
from .lease import HostLease
from .ops import Ack, Delivery, Op, OpOutcome, OpResult, SendOp
from .outbox import Hold, Outbox
from .registry import RegistryPort
from .ring import Ring
from .tracing import finished_spans, flush_tracing, setup_tracing

SEQ_GAP_S = 2.0  # how long a batch waits for a missing earlier batch of its caller
POLL_TIMEOUT_S = 20.0
HEARTBEAT_S = 0.5
LEASE_TTL_S = 3.0  # a host silent this long has lost its sessions to whoever asks
OUTBOX_IDLE_S = 120.0  # a caller that has not polled this long is gone
RING_WATCH_S = 2.0  # how often a host re-reads the live hosts
MOVE_STEP_S = 0.05  # after a ring change: how often a busy misplaced session is looked at
RETIRE_STEP_S = 0.05


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
                sorted({*(host_name(i) for i in range(self.settings.hosts)), self.name}),
            )
        )
        self.pool = SessionPool(
            self.store,
            build_catalog(self.settings),
            RegistryPort(registries),
            owner=f"{self.name}|{self.incarnation}",
            name=self.name,
            ring=self.ring.owner_of if self.ring is not None else None,
            max_loading=self.settings.host_max_loading,
        )
        self.admission = Admission(
            self.settings.host_max_running, self.settings.host_max_queued, label
        )
        self._next_seq: dict[str, int] = {}
        self._turn = asyncio.Condition()
        self._outboxes: dict[str, Outbox] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        self.lease = HostLease(
            self.settings.redis_url,
            self.store.live_key(self.name),
            self.incarnation,
            ttl_s=LEASE_TTL_S,
            every_s=HEARTBEAT_S,
            on_lost=self._lease_lost,
            loop=loop,
        )
        self.lease.start()
        self._background = [loop.create_task(self._housekeeping_loop())]
        if self.ring is not None:
            self._background.append(loop.create_task(self._ring_loop()))
        gc.freeze()  # imports and setup live as long as the process: out of full GC passes

    # -- liveness and housekeeping -------------------------------------------------
    def _lease_lost(self) -> None:
        """The store shows our liveness lapsed: other hosts may hold our sessions now."""
        if self.pool.cores:
            logs.event("sessions_dropped", logging.WARNING, host=self.name, n=len(self.pool.cores))
            self.pool.drop_all()

    async def _housekeeping_loop(self) -> None:
        idle_since = time.monotonic()
        while True:
            await asyncio.sleep(min(10.0, self.settings.idle_evict_s / 2))
            self.pool.evict_idle(self.settings.idle_evict_s)
            self.pool.rebalance()  # what a redirect put here while views disagreed
            now = time.monotonic()
            for caller, box in list(self._outboxes.items()):
                if now - box.last_poll > OUTBOX_IDLE_S:
                    del self._outboxes[caller]
            metrics.child(metrics.LIVE_SESSIONS, self.label).set(len(self.pool.cores))
            if self.pool.cores or any(b.pending() for b in self._outboxes.values()):
                idle_since = now
            elif self.dedicated and now - idle_since >= self.settings.idle_evict_s:
                logs.event("dedicated_actor_exit", actor=self.name)
                ray.actor.exit_actor()

    async def _ring_loop(self) -> None:
        """Follow the live hosts: a new one joins at once, and the sessions the ring
        now places elsewhere are given up as soon as each is idle (between two of
        its turns: its next message goes there), checked every `MOVE_STEP_S`."""
        assert self.ring is not None
        misplaced: set[str] = set()
        next_read = 0.0
        while True:
            now = time.monotonic()
            if now >= next_read:
                next_read = now + RING_WATCH_S
                with contextlib.suppress(Exception):  # a failed read keeps the old ring
                    before = list(self.ring.hosts)
                    if await asyncio.to_thread(self.ring.refresh) != before:
                        misplaced = self.pool.rebalance()
            if misplaced:
                misplaced = self.pool.rebalance(misplaced)
            await asyncio.sleep(MOVE_STEP_S if misplaced else max(0.0, next_read - now))

    def _outbox(self, caller: str) -> Outbox:
        box = self._outboxes.get(caller)
        if box is None:
            box = self._outboxes[caller] = Outbox()
        return box

    # -- the gateway's calls ------------------------------------------------------------
    async def run(self, caller: str, seq: int, ops: list[Op], floor: int | None = None) -> Ack:
        """Dispatch a batch after every earlier batch of `caller` has been dispatched;
        answers once the first of its ops has ended (with the outcomes that ended
        by then), or after `run_hold_ms` at most (`Hold`; not at all while this
        caller's holds catch nothing, `Outbox.hold_s`): the rest come through `poll`.

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
        held = await hold.wait(box.hold_s(self.settings.run_hold_ms / 1000))
        box.held(len(held))
        return Ack(len(ops), held)

    async def poll(self, caller: str, wait_s: float = POLL_TIMEOUT_S) -> Delivery:
        """What `caller`'s ops produced since its last poll (waits until there is some)."""
        return await self._outbox(caller).next(wait_s)

    async def _one(self, op: Op, box: Outbox, hold: Hold) -> None:
        streamed = isinstance(op, SendOp) and op.stream
        done = box.outcome if streamed else hold.outcome  # a stream's outcome follows its events
        logs.REQUEST_ID.set(op.request_id)  # this task's own context: the id follows it
        token = telemetry.attach(op.trace) if op.trace else None
        try:
            # the usual case answers at once; else (just started, or no renewal lately)
            # the store itself is asked, and only its silence refuses the op
            if not await self.lease.confirm(LEASE_TTL_S / 2):
                raise Unavailable("this session host cannot reach the store")
            async with self.admission.admit():  # past its queue: 503, before anything ran
                result = await self._result(op, box)
            done(OpOutcome(op.op_id, True, result))
        except Exception as exc:
            ok, wire = failed(exc)
            done(OpOutcome(op.op_id, ok, wire))
        finally:
            telemetry.detach(token)

    async def _result(self, op: Op, box: Outbox) -> OpResult:
        if isinstance(op, SendOp):
            emit = None
            if op.stream:

                def emit(event: TurnEvent, op_id: int = op.op_id) -> None:
                    box.event(op_id, event)

            return await self.pool.send(op.msg, redirected=op.redirected, emit=emit)
        if op.kind == "info":
            return await self.pool.info(op.tenant_id, op.session_id, op.redirected)
        return await self.pool.close(op.tenant_id, op.session_id, op.redirected)

    async def stats(self) -> dict[str, object]:
        return {
            "label": self.label,
            "name": self.name,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "sessions": len(self.pool.cores),
            "queued": self.pool.queue_depth(),
            "admission": {"running": self.admission.active, "waiting": self.admission.waiting},
            "incarnation": self.incarnation,
        }

    async def retire(self, timeout_s: float = 60.0) -> int:
        """Leave the ring before being removed: claim nothing more (every op for a
        session not held here is redirected), and give up each held session once
        its queued turns are done. Returns how many sessions were still held when
        `timeout_s` ran out (0: all moved)."""
        if self.ring is not None:
            self.ring.leave(self.name)
        self.pool.leaving = True
        logs.event("host_retiring", host=self.name, sessions=len(self.pool.cores))
        deadline = time.monotonic() + timeout_s
        while self.pool.cores and time.monotonic() < deadline:
            self.pool.evict_idle(0.0)  # every session that is not running a turn
            await asyncio.sleep(RETIRE_STEP_S)
        return len(self.pool.cores)

    async def settings_payload(self) -> dict[str, object]:
        """The settings this host was made with (`orchestra hosts add` copies them)."""
        return self.settings.model_dump()

    async def evict(self, idle_s: float = 0.0) -> int:
        return self.pool.evict_idle(idle_s)

    async def metrics(self) -> bytes:
        # gauges of the whole pool: computed when scraped, not on every batch
        metrics.child(metrics.LIVE_SESSIONS, self.label).set(len(self.pool.cores))
        metrics.child(metrics.MAILBOX_DEPTH, self.label).set(self.pool.queue_depth())
        self.admission.observe()
        return metrics.exposition()

    async def spans(self) -> list[dict[str, object]]:
        """The spans this process kept (`telemetry_exporter = "memory"`: tests)."""
        flush_tracing()
        return finished_spans()

    async def shutdown(self) -> None:
        flush_tracing()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self.lease.stop)
        await self.store.close()

"""`SessionRouter`: the gateway's client for session actors.

Routes a session id to its actor: in `hosted` placement to the host that holds
its lease (learned from redirects) or else the one rendezvous hashing places it
on; in `dedicated` placement to a named actor per session (get-or-create,
race-free). Each actor has a `HostClient`:

- operations bound for it are micro-batched: everything submitted while the
  previous batch was on its way travels in the next `run` call (a batch is a
  way to carry messages, never a unit of completion: `run` returns once the ops
  are dispatched);
- `run` answers with the outcomes of the ops that ended while it was held
  (the first few milliseconds); while any op outlasts that, or a turn streams,
  one long poll at a time (`poll`) brings back deliveries: the outcome of each
  op as soon as it exists, and the events of streaming turns, coalesced.

A host that does not hold a session answers `not_owner` with the holder (or
the host it belongs on); the router re-sends there, at most `MAX_HOPS` times.

In `hosted` placement the router watches the live hosts on its own (every
`HOST_WATCH_S`, traffic or not, and at once when a host cannot be found): a
host added by `orchestra hosts add` joins its ring within seconds, and a
removed one leaves it, its sessions going to the hosts rendezvous hashing
picks next.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import ray
from ray.exceptions import RayError

from runtime import telemetry
from runtime.config.settings import Settings
from runtime.errors import (
    NotOwner,
    Overloaded,
    Unavailable,
    WireError,
    error_from_wire,
    error_to_wire,
)
from runtime.events import TurnEvent
from runtime.inbound import Inbound
from runtime.logs import REQUEST_ID
from runtime.shapes import CloseOut, SessionDetail, TurnOut

from .common import SESSION_PREFIX, host_name
from .host import SessionHost
from .ops import Ack, Delivery, Op, OpOutcome, OpResult, SendOp, SessionOp
from .ring import Ring

HOST_WATCH_S = 2.0
SEND_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # ~4 s: a restarting host comes back in ~1-2 s
MAX_HOPS = 3
MAX_HINTS = 100_000

MakeOp = Callable[[int, bool], Op]  # (op id, redirected) -> the op
Sink = Callable[[TurnEvent], None]


class Tracked:
    """A sink that remembers whether any event went through it: a turn whose events
    reached the client is never sent again (the client would see it twice)."""

    __slots__ = ("sink", "streamed")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.streamed = False

    def __call__(self, event: TurnEvent) -> None:
        self.streamed = True
        self.sink(event)


@dataclass
class _Waiter:
    outcome: asyncio.Future[OpOutcome]
    sink: Sink | None


class HostClient:
    """Batches operations for one actor and long-polls what they produce.

    An operation leaves at once when no batch to the actor is on its way;
    otherwise it waits for that batch's acknowledgement (a millisecond or so:
    the host only dispatches) or `max_wait_s`, whichever is first.
    """

    def __init__(self, handle: Any, name: str, max_wait_s: float = 0.05) -> None:
        self.handle = handle
        self.name = name
        self.caller = uuid.uuid4().hex
        self.max_wait_s = max_wait_s
        self.calls = 0  # batches sent (tests and stats read it)
        self.polls = 0
        self.dead = False
        self._seq = 0
        self._open: set[int] = set()  # batch seqs sent and not yet acknowledged
        self._queue: list[Op] = []
        self._next_op = 0
        self._waiters: dict[int, _Waiter] = {}
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(
        self, make: MakeOp, redirected: bool, sink: Sink | None
    ) -> asyncio.Future[OpOutcome]:
        loop = asyncio.get_running_loop()
        op_id, self._next_op = self._next_op, self._next_op + 1
        fut: asyncio.Future[OpOutcome] = loop.create_future()
        self._waiters[op_id] = _Waiter(fut, sink)
        if not self._queue and self._open:  # the first to wait: start its clock
            self._timer = loop.call_later(self.max_wait_s, self._send)
        self._queue.append(make(op_id, redirected))
        if not self._scheduled and not self._open:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        if not self._open:
            self._send()

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._queue:
            return
        batch, self._queue = self._queue, []
        seq, self._seq = self._seq, self._seq + 1
        self.calls += 1
        self._open.add(seq)
        ref = self.handle.run.remote(self.caller, seq, batch, min(self._open))
        self._spawn(self._acknowledged(seq, ref, batch))
        if any(isinstance(op, SendOp) and op.stream for op in batch):
            self._start_polling()  # its events flow while the turn runs

    def _start_polling(self) -> None:
        if self._poller is None and not self.dead:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _acknowledged(self, seq: int, ref: Any, batch: list[Op]) -> None:
        try:
            ack: Ack = await ref
            self._apply(Delivery(-1, (), ack.outcomes))
            if any(op.op_id in self._waiters for op in batch):
                self._start_polling()  # what outlasted the hold comes by poll
        except RayError as exc:
            # The actor died or is restarting: each op either finished (its turn was
            # saved) or never ran; none is retried blindly here.
            self._fail([op.op_id for op in batch], exc)
        finally:
            self._open.discard(seq)
            self._send()  # what waited for this batch goes now

    async def _poll(self) -> None:
        # No await between the loop's last check and the reset below, so an op
        # submitted meanwhile finds no poller and starts one. A cancel (close) or a
        # destroyed loop ends here for good: nothing is started again from a finally.
        try:
            while self._waiters:
                self.polls += 1
                delivery: Delivery = await self.handle.poll.remote(self.caller)
                self._apply(delivery)
        except Exception as exc:  # RayError, or a reply that broke: no waiter hangs on it
            self._fail(list(self._waiters), exc)
        finally:
            self._poller = None

    def _apply(self, delivery: Delivery) -> None:
        for op_id, event in delivery.events:
            waiter = self._waiters.get(op_id)
            if waiter is not None and waiter.sink is not None:
                waiter.sink(event)
        for outcome in delivery.outcomes:
            waiter = self._waiters.pop(outcome.op_id, None)
            if waiter is not None and not waiter.outcome.done():
                waiter.outcome.set_result(outcome)

    async def close(self) -> None:
        """Stop polling (the gateway is going away); ops still pending are abandoned."""
        self.dead = True  # nothing starts polling again
        tasks = [t for t in (self._poller, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _fail(self, op_ids: list[int], exc: BaseException) -> None:
        self.dead = True  # the router resolves the actor afresh next time
        wire = error_to_wire(Unavailable(f"session host unavailable ({type(exc).__name__}); retry"))
        for op_id in op_ids:
            waiter = self._waiters.pop(op_id, None)
            if waiter is not None and not waiter.outcome.done():
                waiter.outcome.set_result(OpOutcome(op_id, False, wire))


class SessionRouter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, HostClient] = {}
        self._resolving: dict[str, asyncio.Future[HostClient]] = {}
        self.ring = Ring(
            settings.namespace, host_name(0), [host_name(i) for i in range(settings.hosts)]
        )
        self._hints: OrderedDict[str, str] = OrderedDict()  # session -> the host holding it
        self.watch_s = HOST_WATCH_S  # inf: re-read only when a host is missing (tests)
        self._watcher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    @property
    def hosts(self) -> list[str]:
        return self.ring.hosts

    def refresh_hosts(self) -> list[str]:
        """Re-read the live hosts (new ones join the hash ring, removed ones leave it)."""
        hosts = self.ring.refresh()
        live = set(hosts)
        for sid in [s for s, h in self._hints.items() if h not in live]:
            del self._hints[sid]  # hints to a host that is gone
        return hosts

    def _watch(self) -> None:
        """Start watching the host set (once, from the first call in a running loop)."""
        if self._watcher is None and self.settings.placement == "hosted":
            self._wake = asyncio.Event()
            self._watcher = asyncio.get_running_loop().create_task(self._watching())

    async def _watching(self) -> None:
        assert self._wake is not None
        while True:
            every = None if self.watch_s == float("inf") else self.watch_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)
            self._wake.clear()
            with contextlib.suppress(Exception):  # a failed read keeps the old ring
                await asyncio.to_thread(self.refresh_hosts)

    async def _host_gone(self, session_id: str, name: str) -> str | None:
        """`name` could not be found: re-read the hosts now; where the session goes
        instead, or None when the ring still places it on `name` (restarting)."""
        if self.settings.placement != "hosted":
            return None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.refresh_hosts)
        fresh = self.ring.owner_of(session_id)
        return fresh if fresh != name else None

    def actor_name(self, session_id: str) -> str:
        if self.settings.placement == "dedicated":
            return SESSION_PREFIX + session_id
        return self._hints.get(session_id) or self.ring.owner_of(session_id)

    def _hint(self, session_id: str, name: str) -> None:
        if self.settings.placement != "hosted":
            return
        if name == self.ring.owner_of(session_id):
            self._hints.pop(session_id, None)
            return
        self._hints[session_id] = name
        self._hints.move_to_end(session_id)
        while len(self._hints) > MAX_HINTS:
            self._hints.popitem(last=False)

    async def _client(self, name: str) -> HostClient:
        """The actor's client. Callers resume in call order (one shared future),
        so the order of their submissions is their arrival order."""
        client = self._clients.get(name)
        if client is not None and not client.dead:
            return client
        pending = self._resolving.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve(name))
            self._resolving[name] = pending
            pending.add_done_callback(lambda _: self._resolving.pop(name, None))
        return await asyncio.shield(pending)

    async def _resolve(self, name: str) -> HostClient:
        try:
            if name.startswith(SESSION_PREFIX):
                handle = await asyncio.to_thread(self._dedicated, name)
            else:
                handle = await asyncio.to_thread(
                    ray.get_actor, name, namespace=self.settings.namespace
                )
        except (ValueError, RayError) as exc:  # not started, being replaced, or removed
            if self._wake is not None:
                self._wake.set()  # re-read the ring now
            raise Unavailable(f"session host {name} is not available") from exc
        client = HostClient(handle, name)
        self._clients[name] = client
        return client

    def _dedicated(self, name: str) -> Any:
        return SessionHost.options(  # type: ignore[attr-defined]
            name=name,
            namespace=self.settings.namespace,
            lifetime="detached",
            get_if_exists=True,
        ).remote(self.settings.model_dump(), "dedicated", name)

    async def call(self, session_id: str, make: MakeOp, forward: Tracked | None = None) -> OpResult:
        """Run one op where the session lives, following redirects; a streaming op
        whose events already went through `forward` is not sent again (the client
        would see its turn twice): it fails `Unavailable` instead."""
        self._watch()
        name = self.actor_name(session_id)
        for hop in range(MAX_HOPS):
            try:
                client = await self._client(name)
            except Unavailable:
                self._hints.pop(session_id, None)
                fresh = await self._host_gone(session_id, name)
                if fresh is None:
                    raise
                name = fresh
                continue
            outcome = await client.submit(make, hop > 0, forward)
            if outcome.ok:
                self._hint(session_id, name)
                return cast("OpResult", outcome.value)
            error = error_from_wire(cast("WireError", outcome.value))
            if not isinstance(error, NotOwner):
                if isinstance(error, Unavailable):
                    self._hints.pop(session_id, None)
                raise error
            name = error.owner or self.ring.owner_of(session_id)
            if forward is not None and forward.streamed:  # the host lost it at save: nothing kept
                self._hint(session_id, name)
                raise Unavailable(
                    f"session {session_id} moved to another host while its reply streamed; "
                    "nothing of this turn was saved: send the message again",
                ) from error
        raise Unavailable(f"session {session_id} is moving between hosts; retry")

    async def send(self, msg: Inbound, *, sink: Sink | None = None) -> TurnOut:
        """Send one message. With a `message_id` the host dedupes, so a message whose
        host died mid-turn is retried (with backoff) instead of failing: it runs
        once whether or not the dead host had saved it. A streaming turn whose
        events already reached the client is not retried."""
        msg = msg.received(REQUEST_ID.get())
        trace = telemetry.carrier()
        forward = Tracked(sink) if sink is not None else None

        def make(op_id: int, redirected: bool) -> Op:
            return SendOp(op_id, msg, stream=sink is not None, redirected=redirected, trace=trace)

        delays = SEND_RETRY_DELAYS if msg.message_id else ()
        for delay in delays:
            try:
                return cast("TurnOut", await self.call(msg.session_id, make, forward))
            except Overloaded:
                raise  # the host refused it before it ran: the client retries, not we
            except Unavailable:
                if forward is not None and forward.streamed:
                    raise
                await asyncio.sleep(delay)
        return cast("TurnOut", await self.call(msg.session_id, make, forward))

    async def info(self, tenant_id: str, session_id: str) -> SessionDetail:
        rid, trace = REQUEST_ID.get(), telemetry.carrier()

        def make(op_id: int, redirected: bool) -> Op:
            return SessionOp(op_id, rid, tenant_id, session_id, "info", redirected, trace)

        try:
            result = cast("SessionDetail", await self.call(session_id, make))
        except Overloaded:
            raise
        except Unavailable:  # reads are idempotent: one retry once the host is back
            await asyncio.sleep(0.5)
            result = cast("SessionDetail", await self.call(session_id, make))
        return result

    async def close(self, tenant_id: str, session_id: str) -> CloseOut:
        rid, trace = REQUEST_ID.get(), telemetry.carrier()

        def make(op_id: int, redirected: bool) -> Op:
            return SessionOp(op_id, rid, tenant_id, session_id, "close", redirected, trace)

        closed = cast("CloseOut", await self.call(session_id, make))
        if self.settings.placement == "dedicated":
            client = self._clients.pop(self.actor_name(session_id), None)
            if client is not None:
                ray.kill(client.handle, no_restart=True)
        return closed

    def handles(self) -> list[Any]:
        return [c.handle for c in self._clients.values()]

    async def shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await asyncio.gather(*(c.close() for c in self._clients.values()))

"""A session and the pool that holds many of them in one process.

`SessionCore` is one conversation: a FIFO mailbox (an asyncio.Lock, which
wakes waiters in arrival order) so its messages run one at a time, the
in-memory state the orchestrator works on, and the one pipelined store write
per turn. A history summary that falls due is made after the reply, in the
background, and lands (applied, saved) through the mailbox before the next turn
needs it; a turn waits for it only when the window is `overfull` without it.
`SessionPool` holds many cores, loads them from the store on
demand and evicts idle ones; the Ray `SessionHost` and `LocalBackend` both
use it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

from runtime import logs, metrics
from runtime.agents import AgentCatalog
from runtime.breaker import BreakerState
from runtime.errors import RETRY_SOON_S, NotFound, NotOwner, SessionClosed, Unavailable
from runtime.events import Emit, ProposalEvent, StartEvent
from runtime.inbound import Inbound
from runtime.models.base import message_from_dict, message_to_dict
from runtime.orchestrator import BaseOrchestrator
from runtime.sanitize import sanitize_for_prompt
from runtime.shapes import ChatMessage, CloseOut, SessionDetail, SessionOut, TurnOut
from runtime.store.data import StoreData
from runtime.store.payloads import StoredMessage, TurnWrite
from runtime.store.protocol import SessionRecord, Store
from runtime.store.tenants import tenant_name

from .history import LOAD_FACTOR, Compaction, cut_index
from .state import ProposalPort, SessionState, TurnResult

RECENT_RESULTS = 8  # retries come right after a failure: a short memory is enough


_BACKGROUND: set[asyncio.Task[None]] = set()  # summaries landing (kept from GC)


def _background(work: Coroutine[object, object, None]) -> None:
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


async def _summarise(orch: BaseOrchestrator, plan: Compaction) -> tuple[Compaction, str]:
    return plan, await orch.summarise(plan)


async def settle() -> None:
    """Wait until every summary being made in this process has landed (tests, shutdown)."""
    while _BACKGROUND:
        await asyncio.wait(set(_BACKGROUND))


class SessionCore:
    __slots__ = ("_lock", "_shown", "_summary", "broken", "last_used", "orch", "state", "waiting")

    def __init__(self, orch: BaseOrchestrator, state: SessionState) -> None:
        self.orch = orch
        self.state = state
        self._lock = asyncio.Lock()
        self.waiting = 0
        self.last_used = time.monotonic()
        self.broken = False
        # (stamped, released): the last proposing turn's proposals carry `stamped` as
        # their `shown_ns`; its reply left this core at `released`, after the save
        self._shown = (0, 0)
        self._summary: asyncio.Task[tuple[Compaction, str]] | None = None  # being made

    @asynccontextmanager
    async def mailbox(self) -> AsyncIterator[None]:
        """This session's turn: one at a time, in arrival order."""
        self.waiting += 1
        try:
            async with self._lock:
                self.waiting -= 1
                yield
        finally:
            self.last_used = time.monotonic()

    async def handle(
        self,
        msg: Inbound,
        store: Store,
        proposals: ProposalPort,
        *,
        owner: str | None = None,
        emit: Emit | None = None,
    ) -> TurnOut:
        """Run one message; a message id seen before returns its first result.

        `msg.received_ns` is when the gateway received it; it is also bounded by when
        it reached this core (on this machine's clock), whichever is earlier: the
        message can soft-confirm only what was shown before it was sent."""
        msg = msg.arrived_by(time.time_ns())
        async with self.mailbox():
            done = self.state.recent.get(msg.message_id) if msg.message_id else None
            if done is not None:
                return done
            await self._land_summary(wait=self.state.history.overfull())
            result = await self._turn(msg, store, proposals, owner, emit)
            self._start_summary(store, owner)
            return result.public()

    # -- the history summary, off the reply's path ----------------------------------------
    def _start_summary(self, store: Store, owner: str | None) -> None:
        """Start the summary the window is due (after a turn, inside the mailbox)."""
        if self._summary is not None or self.broken or not self.state.history.needs_compaction():
            return
        plan = self.state.history.plan(self.orch.config.model)
        if plan is None:
            return
        self._summary = job = asyncio.ensure_future(_summarise(self.orch, plan))
        _background(self._land_later(job, store, owner))

    async def _land_summary(self, *, wait: bool) -> bool:
        """Apply the summary if it is made (or, with `wait`, once it is); inside the
        mailbox. False when there is none to apply (not due, not made, failed)."""
        job = self._summary
        if job is None or not (job.done() or wait):
            return False
        await asyncio.wait((job,))  # a cancelled waiter leaves the summary running
        self._summary = None
        if job.cancelled() or job.exception() is not None:
            return False  # counted by class where it failed; the next turn asks again
        plan, text = job.result()
        self.state.history.apply(plan, text)
        return True

    async def _land_later(
        self, job: asyncio.Task[tuple[Compaction, str]], store: Store, owner: str | None
    ) -> None:
        """Once made, the summary goes in between turns and is saved with the window
        it shortened, so a reload (or another host) starts from it too."""
        await asyncio.wait((job,))
        async with self.mailbox():
            if self._summary is not job or self.broken:
                return  # a turn applied it already (its save carries it), or reloading
            if not await self._land_summary(wait=True):
                return
            rec = self.state.record
            try:
                write = TurnWrite(rec.tenant_id, rec.session_id, self.state.snapshot())
                await store.save_turn(write, owner=owner)
            except NotOwner:
                self.broken = True  # another host owns it now: this memory is stale
            except Exception as exc:  # the next turn's save carries the summary
                logs.event("summary_save_failed", logging.WARNING, error=type(exc).__name__)

    async def _turn(
        self,
        msg: Inbound,
        store: Store,
        proposals: ProposalPort,
        owner: str | None,
        emit: Emit | None,
    ) -> TurnResult:
        rec = self.state.record
        if self.broken:
            raise Unavailable("session state is being reloaded; retry", retry_after=RETRY_SOON_S)
        if rec.status != "active":
            raise SessionClosed(f"session {rec.session_id} is closed")
        if emit is not None:
            emit(StartEvent())  # from here on, a failure is an `error` event
        stamped, released = self._shown
        if stamped < msg.received_ns <= released:
            # sent while the last proposing turn was being saved: its reply, the one
            # that showed those proposals, had not left yet, so this message cannot
            # answer them (older proposals, shown before `stamped`, it can)
            msg = replace(msg, received_ns=stamped)
        try:
            result = await self.orch.run_turn(self.state, msg, store, proposals, emit=emit)
        except BaseException:
            self.broken = True  # a turn that did not finish may have moved memory
            raise
        # The turn's proposals are born with its save: their windows start now.
        stamped = time.time_ns()
        result = self.orch.commit(result, self.orch.clock(), stamped)
        if msg.message_id:
            recent = self.state.recent
            recent[msg.message_id] = result.public()
            while len(recent) > RECENT_RESULTS:
                del recent[next(iter(recent))]
        try:
            write = TurnWrite(
                rec.tenant_id,
                rec.session_id,
                self.state.snapshot(),
                messages=[message_to_dict(m) for m in result.messages],
                audit=result.audit,
                proposals=result.created,
                turn=result.record,
            )
            await store.save_turn(write, owner=owner)
        except NotOwner:
            self.broken = True  # another host owns it now: this memory is stale
            raise
        except Exception as exc:
            self.broken = True  # memory is ahead of the store: reload before next turn
            raise Unavailable(f"could not save the turn: {type(exc).__name__}") from exc
        if result.created:
            self._shown = (stamped, time.time_ns())
        for p in result.created:
            metrics.child(metrics.PROPOSAL_TRANSITIONS, p.tier.value, p.status.value).inc()
            if emit is not None:  # created now, by the save: the client may see it
                emit(ProposalEvent(p.public(msg.sender)))
        return result

    def busy(self) -> bool:
        return self._lock.locked() or self.waiting > 0

    def info(self) -> SessionDetail:
        breaker = self.state.breaker
        state = breaker.current()
        # open: when it lets a trial call through (the breaker runs on the
        # orchestrator's clock, epoch seconds)
        half_open_at = breaker.opened_at + breaker.reset_s if state is BreakerState.OPEN else None
        return {
            **self.state.record.public(),
            "usage": dict(self.state.last_usage),
            "breaker": state.value,
            "breaker_half_open_at": half_open_at,
        }


def public_messages(raw: Sequence[StoredMessage]) -> list[ChatMessage]:
    """Stored model messages -> API messages (text only, tool exchanges left out)."""
    out: list[ChatMessage] = []
    for item in raw:
        msg = message_from_dict(item)
        if msg.is_tool_result or not msg.text:
            continue
        out.append({"role": msg.role, "content": msg.text, "at": msg.at})
    return out


async def create_session(
    store: Store,
    catalog: AgentCatalog,
    tenant_id: str,
    agent: str,
    subject: str,
    clock: Callable[[], float] = time.time,
) -> tuple[SessionOut, bool]:
    """Create the active session of (tenant, agent, subject), or return the existing one."""
    orch = catalog.get(agent, tenant_id)  # BadRequest for an unknown agent
    rec = SessionRecord(
        session_id="s_" + uuid.uuid4().hex,
        tenant_id=tenant_id,
        agent=agent,
        subject=subject,
        created_at=clock(),
    )
    ctx = orch.tool_context(rec, StoreData(store, tenant_id), await tenant_name(store, tenant_id))
    context = {k: sanitize_for_prompt(v) for k, v in (await orch.prompt_context(ctx)).items()}
    stored, created = await store.create_session(
        rec.model_copy(update={"greeting": orch.get_greeting(context)})
    )
    return stored.public(), created


Placement = Callable[[str], str]  # session id -> the host that should hold it (a hint)


class SessionPool:
    """The sessions one process holds, each owned through a lease in the store.

    A session is loaded (and its lease claimed) on first use. When another live
    process holds the lease, or the lease is free but the `ring` places the
    session elsewhere and the message was not redirected here, `NotOwner` names
    where to go instead; the caller re-sends there. A process that loses a
    session (a save finds another owner) drops it. A process that is leaving
    (`leaving`) claims nothing more, redirected or not.
    """

    def __init__(
        self,
        store: Store,
        catalog: AgentCatalog,
        proposals: ProposalPort,
        clock: Callable[[], float] = time.time,
        *,
        owner: str | None = None,
        name: str = "local",
        ring: Placement | None = None,
        max_loading: int = 0,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.proposals = proposals
        self.clock = clock
        self.name = name
        self.owner = owner or f"{name}|{uuid.uuid4().hex[:12]}"
        self.ring = ring
        self.cores: dict[str, SessionCore] = {}
        self.leaving = False
        self._loading: dict[tuple[str, str], asyncio.Future[SessionCore]] = {}
        self._releases: set[asyncio.Task[None]] = set()
        # sessions loading from the store at once (0: unbounded); the rest wait
        self._load_slots = asyncio.Semaphore(max_loading) if max_loading else None

    async def create(self, tenant_id: str, agent: str, subject: str) -> tuple[SessionOut, bool]:
        return await create_session(self.store, self.catalog, tenant_id, agent, subject, self.clock)

    async def core(self, tenant_id: str, session_id: str, redirected: bool = False) -> SessionCore:
        core = self.cores.get(session_id)
        if core is not None and not core.broken:
            if core.state.record.tenant_id != tenant_id:
                raise NotFound(f"session {session_id} not found")
            return core
        key = (tenant_id, session_id)  # another tenant's probe never shares our load
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._loading[key] = pending
            try:
                if self._load_slots is None:
                    core = await self._load(tenant_id, session_id, redirected)
                else:
                    async with self._load_slots:
                        core = await self._load(tenant_id, session_id, redirected)
                self.cores[session_id] = core
                pending.set_result(core)
            except BaseException as exc:
                pending.set_exception(exc)
                pending.exception()  # mark retrieved for this caller's raise
                raise
            finally:
                del self._loading[key]
            return core
        return await asyncio.shield(pending)

    async def _load(self, tenant_id: str, session_id: str, redirected: bool) -> SessionCore:
        # The record and the history in one go: the history up to the longest any
        # agent keeps, as the agent (and so its own bound) is in the record.
        rec, (snapshot, raw) = await asyncio.gather(
            self.store.get_session(tenant_id, session_id),
            self.store.load_session(
                tenant_id, session_id, self.catalog.max_history_messages() * LOAD_FACTOR
            ),
        )
        if rec is None:
            raise NotFound(f"session {session_id} not found")
        await self._claim(tenant_id, session_id, redirected)
        orch = self.catalog.get(rec.agent, tenant_id)
        raw = raw[-orch.config.max_history_messages * LOAD_FACTOR :]
        window = (snapshot or {}).get("window")
        if isinstance(window, int):  # the live window's size: older ones are in the summary
            raw = raw[len(raw) - window :] if window < len(raw) else raw
        messages = [message_from_dict(m) for m in raw]
        # The loaded tail may start inside a tool exchange: start at a turn.
        messages = messages[cut_index(messages, len(messages)) :] if messages else []
        return SessionCore(orch, orch.new_state(rec, snapshot, messages))

    async def _claim(self, tenant_id: str, session_id: str, redirected: bool) -> None:
        placed = self.ring(session_id) if self.ring is not None else self.name
        if self.leaving:
            raise NotOwner(f"{self.name} is leaving: session {session_id} goes to {placed}", placed)
        if placed != self.name and not redirected:
            holder = await self.store.claim_session(tenant_id, session_id, self.owner, take=False)
            if holder is None:
                return  # already ours
            raise NotOwner(
                f"session {session_id} belongs on {placed}", holder_name(holder) or placed
            )
        holder = await self.store.claim_session(tenant_id, session_id, self.owner)
        if holder is not None:
            raise NotOwner(f"session {session_id} is held by {holder}", holder_name(holder))

    async def _current(self, tenant_id: str, session_id: str, redirected: bool) -> SessionCore:
        """The session, running the orchestrator version its tenant is on *now*
        (a canary change or rollback applies from the next message)."""
        core = await self.core(tenant_id, session_id, redirected)
        core.orch = self.catalog.get(core.state.record.agent, tenant_id)
        return core

    async def send(
        self, msg: Inbound, *, redirected: bool = False, emit: Emit | None = None
    ) -> TurnOut:
        core = await self._current(msg.tenant_id, msg.session_id, redirected)
        try:
            return await core.handle(msg, self.store, self.proposals, owner=self.owner, emit=emit)
        except NotOwner:
            self.cores.pop(msg.session_id, None)  # lost it: whoever holds it serves it now
            raise

    async def info(
        self, tenant_id: str, session_id: str, redirected: bool = False
    ) -> SessionDetail:
        return (await self.core(tenant_id, session_id, redirected)).info()

    async def close(self, tenant_id: str, session_id: str, redirected: bool = False) -> CloseOut:
        """Close through the owner and its mailbox: after the turns already queued,
        before any later one; the core is dropped so nothing cached outlives it."""
        core = await self.core(tenant_id, session_id, redirected)
        async with core.mailbox():
            rec = await self.store.close_session(tenant_id, session_id, self.clock())
            if rec is None:
                raise NotFound(f"session {session_id} not found")
            core.state.record = rec
        self._drop(session_id)
        return {"status": "closed"}

    def _drop(self, session_id: str) -> None:
        core = self.cores.pop(session_id, None)
        if core is None:
            return
        rec = core.state.record
        task = asyncio.get_running_loop().create_task(
            self.store.release_session(rec.tenant_id, rec.session_id, self.owner)
        )
        self._releases.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Task[None]) -> None:
        self._releases.discard(task)
        if not task.cancelled():
            task.exception()  # a failed release only delays a move: the lease expires

    def evict_idle(self, idle_s: float) -> int:
        """Drop sessions idle for `idle_s` (their state is in the store) and give
        up their leases."""
        cutoff = time.monotonic() - idle_s
        gone = [sid for sid, c in self.cores.items() if c.last_used < cutoff and not c.busy()]
        for sid in gone:
            self._drop(sid)
        return len(gone)

    def rebalance(self, among: Collection[str] | None = None) -> set[str]:
        """Give up idle sessions the ring now places on another host (of `among`
        only, when given). Returns the sessions still held that the ring places
        elsewhere (busy now: for a later call)."""
        if self.ring is None:
            return set()
        ring = self.ring
        ids = self.cores.keys() if among is None else [s for s in among if s in self.cores]
        misplaced = {s for s in ids if ring(s) != self.name}
        idle = {s for s in misplaced if not self.cores[s].busy()}
        for sid in idle:
            self._drop(sid)
        return misplaced - idle

    def drop_all(self) -> None:
        """Forget every session without touching the store (leases lapse by themselves)."""
        self.cores.clear()

    def queue_depth(self) -> int:
        return sum(c.waiting for c in self.cores.values())


def holder_name(owner: str) -> str:
    """The host name of an owner token ("host|incarnation")."""
    return owner.partition("|")[0]

"""A session and the pool that holds many of them in one process.

`SessionCore` is one conversation: a FIFO mailbox (an asyncio.Lock, which
wakes waiters in arrival order) so its messages run one at a time, the
in-memory state the orchestrator works on, and the one pipelined store write
per turn. `SessionPool` holds many cores, loads them from the store on
demand and evicts idle ones; the Ray `SessionHost` and `LocalRuntime` both
use it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from .agents import AgentCatalog
from .agents.business import context_summary
from .breaker import BreakerState
from .errors import NotFound, SessionClosed, Unavailable
from .history import cut_index
from .models.base import message_from_dict, message_to_dict
from .orchestrator import BaseOrchestrator
from .sanitize import sanitize_for_prompt
from .state import ProposalPort, SessionState, TurnResult
from .store import SessionRecord, Store

RECENT_RESULTS = 8  # retries come right after a failure: a short memory is enough


class SessionCore:
    __slots__ = ("_lock", "broken", "last_used", "orch", "state", "waiting")

    def __init__(self, orch: BaseOrchestrator, state: SessionState) -> None:
        self.orch = orch
        self.state = state
        self._lock = asyncio.Lock()
        self.waiting = 0
        self.last_used = time.monotonic()
        self.broken = False

    async def handle(self, text: str, store: Store, proposals: ProposalPort) -> TurnResult:
        self.waiting += 1
        try:
            async with self._lock:
                self.waiting -= 1
                return await self._turn(text, store, proposals)
        finally:
            self.last_used = time.monotonic()

    async def handle_once(
        self, text: str, message_id: str, store: Store, proposals: ProposalPort
    ) -> dict[str, Any]:
        """`handle`, but a message id seen before returns its first result."""
        self.waiting += 1
        try:
            async with self._lock:
                self.waiting -= 1
                done = self.state.recent.get(message_id)
                if done is not None:
                    return done
                return (await self._turn(text, store, proposals, message_id)).public()
        finally:
            self.last_used = time.monotonic()

    async def _turn(
        self,
        text: str,
        store: Store,
        proposals: ProposalPort,
        message_id: str | None = None,
    ) -> TurnResult:
        rec = self.state.record
        if self.broken:
            raise Unavailable("session state is being reloaded; retry", retry_after=0.1)
        if rec.status != "active":
            raise SessionClosed(f"session {rec.session_id} is closed")
        result = await self.orch.run_turn(self.state, text, store, proposals)
        if message_id is not None:
            recent = self.state.recent
            recent[message_id] = result.public()
            while len(recent) > RECENT_RESULTS:
                del recent[next(iter(recent))]
        try:
            await store.save_turn(
                rec.tenant_id,
                rec.session_id,
                [message_to_dict(m) for m in result.messages],
                self.state.snapshot(),
                result.audit,
            )
        except Exception as exc:
            self.broken = True  # memory is ahead of the store: reload before next turn
            raise Unavailable(f"could not save the turn: {type(exc).__name__}") from exc
        return result

    def busy(self) -> bool:
        return self._lock.locked() or self.waiting > 0

    def info(self) -> dict[str, Any]:
        breaker = self.state.breaker
        state = breaker.current()
        return self.state.record.public() | {
            "usage": dict(self.state.last_usage),
            "breaker": state.value,
            # open: when it lets a trial call through (the breaker runs on the
            # orchestrator's clock, epoch seconds)
            "breaker_half_open_at": (
                breaker.opened_at + breaker.reset_s if state is BreakerState.OPEN else None
            ),
        }


def public_messages(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored model messages -> API messages (text only, tool exchanges left out)."""
    out = []
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
) -> tuple[dict[str, Any], bool]:
    """Create the active session of (tenant, agent, subject), or return the existing one."""
    orch = catalog.get(agent, tenant_id)  # BadRequest for an unknown agent
    doc = await store.business_read(tenant_id)
    context = {k: sanitize_for_prompt(v) for k, v in context_summary(doc).items()}
    rec = SessionRecord(
        session_id="s_" + uuid.uuid4().hex,
        tenant_id=tenant_id,
        agent=agent,
        subject=subject,
        greeting=orch.get_greeting(context),
        created_at=clock(),
    )
    stored, created = await store.create_session(rec)
    return stored.public(), created


class SessionPool:
    def __init__(
        self,
        store: Store,
        catalog: AgentCatalog,
        proposals: ProposalPort,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.proposals = proposals
        self.clock = clock
        self.cores: dict[str, SessionCore] = {}
        self._loading: dict[str, asyncio.Future[SessionCore]] = {}

    async def create(self, tenant_id: str, agent: str, subject: str) -> tuple[dict[str, Any], bool]:
        return await create_session(self.store, self.catalog, tenant_id, agent, subject, self.clock)

    async def core(self, tenant_id: str, session_id: str) -> SessionCore:
        core = self.cores.get(session_id)
        if core is not None and core.state.record.tenant_id == tenant_id and not core.broken:
            return core
        pending = self._loading.get(session_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._loading[session_id] = pending
            try:
                core = await self._load(tenant_id, session_id)
                self.cores[session_id] = core
                pending.set_result(core)
            except BaseException as exc:
                pending.set_exception(exc)
                pending.exception()  # mark retrieved for this caller's raise
                raise
            finally:
                del self._loading[session_id]
            return core
        core = await asyncio.shield(pending)
        if core.state.record.tenant_id != tenant_id:
            raise NotFound(f"session {session_id} not found")
        return core

    async def _load(self, tenant_id: str, session_id: str) -> SessionCore:
        # The record and the history in one go: the history up to the longest any
        # agent keeps, as the agent (and so its own bound) is in the record.
        rec, (snapshot, raw) = await asyncio.gather(
            self.store.get_session(tenant_id, session_id),
            self.store.load_session(tenant_id, session_id, self.catalog.max_history_messages() * 2),
        )
        if rec is None:
            raise NotFound(f"session {session_id} not found")
        orch = self.catalog.get(rec.agent, tenant_id)
        raw = raw[-orch.config.max_history_messages * 2 :]
        window = (snapshot or {}).get("window")
        if isinstance(window, int):  # the live window's size: older ones are in the summary
            raw = raw[len(raw) - window :] if window < len(raw) else raw
        messages = [message_from_dict(m) for m in raw]
        # The loaded tail may start inside a tool exchange: start at a turn.
        messages = messages[cut_index(messages, len(messages)) :] if messages else []
        return SessionCore(orch, orch.new_state(rec, snapshot, messages))

    async def _current(self, tenant_id: str, session_id: str) -> SessionCore:
        """The session, running the orchestrator version its tenant is on *now*
        (a canary change or rollback applies from the next message)."""
        core = await self.core(tenant_id, session_id)
        core.orch = self.catalog.get(core.state.record.agent, tenant_id)
        return core

    async def send(self, tenant_id: str, session_id: str, text: str) -> TurnResult:
        core = await self._current(tenant_id, session_id)
        return await core.handle(text, self.store, self.proposals)

    async def send_once(
        self, tenant_id: str, session_id: str, text: str, message_id: str
    ) -> dict[str, Any]:
        core = await self._current(tenant_id, session_id)
        return await core.handle_once(text, message_id, self.store, self.proposals)

    async def info(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        return (await self.core(tenant_id, session_id)).info()

    async def close(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        rec = await self.store.close_session(tenant_id, session_id, self.clock())
        if rec is None:
            raise NotFound(f"session {session_id} not found")
        core = self.cores.get(session_id)
        if core is not None:
            core.state.record = rec
        return {"status": "closed"}

    def evict_idle(self, idle_s: float) -> int:
        """Drop sessions idle for `idle_s` (their state is in the store)."""
        cutoff = time.monotonic() - idle_s
        gone = [sid for sid, c in self.cores.items() if c.last_used < cutoff and not c.busy()]
        for sid in gone:
            del self.cores[sid]
        return len(gone)

    def queue_depth(self) -> int:
        return sum(c.waiting for c in self.cores.values())

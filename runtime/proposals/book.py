"""`ProposalBook`: the single writer of proposal state, and exactly-once execution.

Runs inside the `ProposalRegistry` actor (or in-process in `LocalBackend`).
Before a confirmed proposal's tool runs, the ledger records DISPATCHING
under the proposal id, and the tool gets that id as its idempotency key: a
repeat (a retry, a concurrent confirm, recovery after a crash) finds the key
already applied and gets the first result instead of a second effect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from runtime import logs, metrics, telemetry
from runtime.agents import AgentCatalog
from runtime.approval import allows
from runtime.errors import AlreadyApproved, Forbidden, InvalidTransition, NotFound
from runtime.inbound import Inbound
from runtime.principals import TENANT_OWNER, Actor
from runtime.proposals.ledger import DispatchResult, dispatch
from runtime.proposals.model import (
    Proposal,
    ProposalStatus,
    approval_event,
    dependency_verdict,
    proposal_event,
    window_open,
)
from runtime.store.data import StoreData
from runtime.store.protocol import LedgerEntry, Store
from runtime.store.tenants import tenant_name
from runtime.tiers import Tier
from runtime.tools import ToolContext

from .consent import Verdict, classify
from .keyed_lock import KeyedLock


def _dependency_order(p: Proposal) -> tuple[float, int]:
    """Oldest first; the writes of one message share created_at and each depends
    on all earlier ones, so len(depends_on) puts a dependency before its dependents."""
    return (p.created_at, len(p.depends_on))


STUCK_AFTER_S = 5.0  # a CONFIRMED proposal this old is resumed by the sweeper


class ProposalBook:
    def __init__(
        self,
        store: Store,
        catalog: AgentCatalog,
        clock: Callable[[], float] = time.time,
        owns: Callable[[str], bool] = lambda tenant_id: True,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self._owns = owns  # the tenants this book is the writer of (its shard)
        self._locks = KeyedLock()

    def _lock(self, proposal_id: str) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(proposal_id)

    async def _get(self, tenant_id: str, proposal_id: str) -> Proposal:
        p = await self.store.get_proposal(tenant_id, proposal_id)
        if p is None:
            raise NotFound(f"proposal {proposal_id} not found")
        return p

    async def _move(
        self,
        p: Proposal,
        to: ProposalStatus,
        result: object = None,
        error: str | None = None,
        by: str = "",
        kind: str = "",
        ledger: LedgerEntry | None = None,
        actor: Actor | None = None,
    ) -> Proposal:
        new = p.transition(
            to, at=self.clock(), result=result, error=error, decided_by=by, error_kind=kind
        )
        event = proposal_event(new, p.status, new.updated_at, actor)
        entries = {new.proposal_id: ledger} if ledger is not None else None
        await self.store.save_proposals([new], [event], entries)
        metrics.child(metrics.PROPOSAL_TRANSITIONS, new.tier.value, to.value).inc()
        logs.event(
            "proposal",
            tenant_id=new.tenant_id,
            session_id=new.session_id,
            proposal_id=new.proposal_id,
            tool=new.tool,
            from_status=p.status.value,
            to_status=to.value,
        )
        return new

    # -- API ----------------------------------------------------------------
    async def get(self, tenant_id: str, proposal_id: str) -> Proposal:
        return await self._get(tenant_id, proposal_id)

    async def on_user_message(self, msg: Inbound, now: float) -> list[Proposal]:
        """The user's next message: soft-confirm, reject or expire pending T2s, or hold
        them as unclear (DESIGN.md "Soft confirm", `consent.classify`).

        Only proposals shown before the message was received are its to decide
        (a message queued behind the turn that proposed something never saw it),
        and only one delivered before it may be confirmed or rejected by it: for
        one that never reached the client the message is unclear. An unclear
        proposal stays PENDING (its window still running from when it was shown)
        and is saved and reported with `awaiting="clear_answer"` (until a yes is
        recorded or its status changes). A correction rejects it as
        superseded. A repeat of `message_id` (a retried turn) reports what it
        decided the first time and decides nothing new on those. The message counts
        (a yes, a no, a correction) only when its `sender` may approve the
        proposal; otherwise the proposal stays PENDING for someone who may. A yes
        below the quorum is recorded and the proposal stays PENDING.
        """
        tenant_id, message_id, sender = msg.tenant_id, msg.message_id, msg.sender
        listed = await self.store.list_proposals(tenant_id, msg.session_id)
        verdict = classify(msg.text)
        changed = []
        for p in sorted((p for p in listed if p.tier is Tier.T2), key=_dependency_order):
            if p.status is not ProposalStatus.PENDING:
                if message_id and p.decided_by == message_id:
                    changed.append(p)
                continue
            if not p.seen_by(msg.received_ns):
                continue
            async with self._lock(p.proposal_id):
                p = await self._get(tenant_id, p.proposal_id)
                if p.status is not ProposalStatus.PENDING:
                    changed.append(p)
                    continue
                if not window_open(p, now):
                    p = await _decided(
                        "expire",
                        p,
                        self._end_unexecuted(p, ProposalStatus.EXPIRED, "expired", message_id),
                    )
                elif (
                    not (p.delivered_before(msg.received_ns) or p.proposal_id in msg.seen)
                    or verdict is Verdict.UNCLEAR
                ):
                    metrics.child(metrics.WINDOW_HITS, p.tier.value, "unclear").inc()
                    if not p.awaiting:  # stored, so that every view says so
                        p = p.model_copy(update={"awaiting": "clear_answer"})
                        await self.store.save_proposals([p], [])
                elif verdict is not Verdict.CONSENT and not allows(p.policy, sender, p.subject):
                    continue  # not theirs to refuse or correct: it waits for someone who may
                elif verdict is Verdict.CONSENT and p.refusal(sender) is not None:
                    continue  # not theirs to approve (or approved already): it waits
                elif verdict is Verdict.REFUSAL:
                    p = await _decided(
                        "reject",
                        p,
                        self._end_unexecuted(
                            p, ProposalStatus.REJECTED, "rejected", message_id, sender
                        ),
                    )
                elif verdict is Verdict.CORRECTION:
                    p = await _decided(
                        "supersede",
                        p,
                        self._end_unexecuted(
                            p, ProposalStatus.REJECTED, "superseded", message_id, sender
                        ),
                    )
                else:
                    p = await _decided("soft_confirm", p, self._approve(p, sender, message_id))
            changed.append(p)
        return changed

    async def mark_delivered(
        self, tenant_id: str, session_id: str, proposal_ids: list[str], at_ns: int = 0
    ) -> None:
        """The client has these proposals: a response carrying them completed with the
        client connected at `at_ns`, or (`at_ns` 0) a message named them in `seen`,
        which counts from when they were shown. Ids that are unknown, of another
        session or no longer PENDING are ignored; an earlier delivery stands."""
        for pid in dict.fromkeys(proposal_ids):
            async with self._lock(pid):
                p = await self.store.get_proposal(tenant_id, pid)
                if (
                    p is None
                    or p.session_id != session_id
                    or p.status is not ProposalStatus.PENDING
                ):
                    continue
                stamp = at_ns or p.shown_ns
                if p.delivered_ns and p.delivered_ns <= stamp:
                    continue
                await self.store.save_proposals([p.model_copy(update={"delivered_ns": stamp})], [])

    async def confirm(self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER) -> Proposal:
        """An explicit confirm (the button): T2 or T3, PENDING only. `by`'s yes is
        recorded if the policy allows it (else `Forbidden`, or `AlreadyApproved`
        for a second yes of one principal); the yes that reaches the quorum runs
        it, once: decisions on one proposal are serialised here (its lock, in its
        shard's single registry), so racing confirms cannot both reach it."""
        async with self._lock(proposal_id):
            p = await self._get(tenant_id, proposal_id)
            if p.status is not ProposalStatus.PENDING:
                raise InvalidTransition(p.status.value, ProposalStatus.CONFIRMED.value)
            why = p.refusal(by)
            if why is not None:
                code, message = why
                raise AlreadyApproved(message) if code == "already_approved" else Forbidden(message)
            if not window_open(p, self.clock()):
                await _decided(
                    "expire", p, self._end_unexecuted(p, ProposalStatus.EXPIRED, "expired")
                )
                raise InvalidTransition(
                    ProposalStatus.EXPIRED.value, ProposalStatus.CONFIRMED.value
                )
            return await _decided("confirm", p, self._approve(p, by))

    async def reject(self, tenant_id: str, proposal_id: str, by: Actor = TENANT_OWNER) -> Proposal:
        """A no from anyone whose role may approve it (its requester included)."""
        async with self._lock(proposal_id):
            p = await self._get(tenant_id, proposal_id)
            if p.status is not ProposalStatus.PENDING:
                raise InvalidTransition(p.status.value, ProposalStatus.REJECTED.value)
            if not allows(p.policy, by, p.subject):
                raise Forbidden(f"needs approval by {p.policy.who()}")
            dead = self._end_unexecuted(p, ProposalStatus.REJECTED, "rejected", actor=by)
            return await _decided("reject", p, dead)

    async def _approve(self, p: Proposal, by: Actor, message_id: str = "") -> Proposal:
        """Record `by`'s yes (the caller holds the lock and checked the policy): below
        the quorum it is saved with an `approval` event and stays PENDING; the yes
        that reaches it confirms and runs it."""
        now = self.clock()
        p = p.approved_by(by, now)
        if not p.quorum_reached:
            await self.store.save_proposals([p], [approval_event(p, by, now)])
            return p
        if p.tier is Tier.T2 and message_id:
            metrics.child(metrics.WINDOW_HITS, p.tier.value, "success").inc()
        return await self._execute(
            await self._move(p, ProposalStatus.CONFIRMED, by=message_id, actor=by)
        )

    async def expire_due(self, now: float | None = None) -> list[Proposal]:
        """The sweeper: expire PENDING proposals whose window has passed."""
        now = self.clock() if now is None else now
        expired = []
        due = sorted(await self.store.due_proposals(now), key=_dependency_order)
        for p in due:
            if (
                p.status is ProposalStatus.PENDING
                and not window_open(p, now)
                and self._owns(p.tenant_id)
            ):
                async with self._lock(p.proposal_id):
                    cur = await self._get(p.tenant_id, p.proposal_id)
                    if cur.status is ProposalStatus.PENDING and not window_open(cur, now):
                        dead = self._end_unexecuted(cur, ProposalStatus.EXPIRED, "expired")
                        expired.append(await _decided("expire", cur, dead))
        return expired

    async def resume_confirmed(self, older_than_s: float = STUCK_AFTER_S) -> list[Proposal]:
        """Finish CONFIRMED proposals left behind (a crash, a store error after the
        side effect) through the same exactly-once path as a confirm: the ledger
        decides whether the tool runs, runs again or reports its first result."""
        cutoff = self.clock() - older_than_s
        done = []
        for p in sorted(await self.store.confirmed_proposals(cutoff), key=_dependency_order):
            if not self._owns(p.tenant_id):
                continue
            async with self._lock(p.proposal_id):
                cur = await self._get(p.tenant_id, p.proposal_id)
                if cur.status is ProposalStatus.CONFIRMED:
                    done.append(await self._execute(cur))
        return done

    async def sweep(self) -> None:
        """One pass of the sweeper: expire what is due, resume what is stuck."""
        await self.expire_due()
        await self.resume_confirmed()

    async def recover(self) -> list[Proposal]:
        """After a restart: finish every CONFIRMED proposal at once."""
        return await self.resume_confirmed(older_than_s=-1e9)

    async def run_sweeper(self, interval_s: float) -> None:
        """Recover, then sweep every `interval_s` until cancelled. A pass that fails
        (the store is down) is logged and the next one tries again."""
        first = True
        while True:
            try:
                if first:
                    await self.recover()
                    first = False
                await self.sweep()
            except Exception as exc:
                logs.event("sweep_failed", logging.WARNING, error=type(exc).__name__)
            await asyncio.sleep(interval_s)

    # -- internals ----------------------------------------------------------
    async def _end_unexecuted(
        self,
        p: Proposal,
        status: ProposalStatus,
        reason: str,
        message_id: str = "",
        actor: Actor | None = None,
    ) -> Proposal:
        """Move `p` to a terminal status without running it (`reason` labels the window
        metric: expired, rejected or superseded; `message_id` and `actor` say who
        decided) and fail what depends on it."""
        if p.tier is Tier.T2 and status in (ProposalStatus.EXPIRED, ProposalStatus.REJECTED):
            metrics.child(metrics.WINDOW_HITS, p.tier.value, reason).inc()
        kind = "superseded" if reason == "superseded" else ""
        error = None if status is not ProposalStatus.FAILED else reason
        p = await self._move(p, status, error=error, by=message_id, kind=kind, actor=actor)
        await self._fail_dependents(p)
        return p

    async def _fail_dependents(self, dead: Proposal) -> None:
        # A dependent's lock is awaited, not skipped: its holder may have read
        # `dead` just before it died and would leave it CONFIRMED for good.
        # Locks are only ever taken dependency -> dependent, so no deadlock.
        for d in await self.store.list_proposals(dead.tenant_id, dead.session_id):
            if dead.proposal_id in d.depends_on and d.status in (
                ProposalStatus.PENDING,
                ProposalStatus.CONFIRMED,
            ):
                async with self._lock(d.proposal_id):
                    cur = await self._get(d.tenant_id, d.proposal_id)
                    if cur.status not in (ProposalStatus.PENDING, ProposalStatus.CONFIRMED):
                        continue
                    reason = f"dependency {dead.proposal_id} is {dead.status.value}"
                    p = await self._move(cur, ProposalStatus.FAILED, error=reason)
                    await self._fail_dependents(p)

    async def _execute(self, p: Proposal) -> Proposal:
        known = {}
        for dep in p.depends_on:
            found = await self.store.get_proposal(p.tenant_id, dep)
            if found is not None:
                known[dep] = found
        verdict = dependency_verdict(p, known)
        if verdict is ProposalStatus.FAILED:
            failed = await self._move(
                p, ProposalStatus.FAILED, error="a dependency did not execute"
            )
            await self._fail_dependents(failed)
            return failed
        if verdict is None:
            return p  # waits, CONFIRMED, until its dependencies execute
        orch = self.catalog.get(p.agent, p.tenant_id)
        tool = orch.tools.get(p.tool)
        if tool is None:
            return await self._finish(
                p, DispatchResult(False, error=f"tool {p.tool} no longer exists")
            )
        name = await tenant_name(self.store, p.tenant_id)
        ctx = ToolContext(
            tenant_id=p.tenant_id,
            session_id=p.session_id,
            subject=p.subject,
            agent=p.agent,
            tenant_name=name,
            idempotency_key=p.proposal_id,
            data=StoreData(self.store, p.tenant_id),
        )
        timeout = orch.config.executor_timeout_ms / 1000
        if not telemetry.enabled():
            outcome, attempts, new = await dispatch(self.store, tool, ctx, p, timeout, self.clock)
            return await self._finish(p, outcome, attempts if new else None)
        with telemetry.span("proposal dispatch", _attributes(p, "dispatch")) as span:
            outcome, attempts, new = await dispatch(self.store, tool, ctx, p, timeout, self.clock)
            done = await self._finish(p, outcome, attempts if new else None)
            span.set_attribute(telemetry.PROPOSAL_STATUS, done.status.value)
            span.set_attribute(telemetry.OUTCOME, outcome.error_kind or done.status.value.lower())
            span.set_attribute("orchestra.dispatch.attempts", attempts)
            return done

    async def _finish(
        self, p: Proposal, outcome: DispatchResult, attempts: int | None = 1
    ) -> Proposal:
        """The final transition, journaled in the ledger in the same write (unless
        `attempts` is None: the outcome came from the ledger)."""
        at = self.clock()
        entry = None if attempts is None else outcome.entry(at, attempts)
        if outcome.executed:
            done = await self._move(p, ProposalStatus.EXECUTED, result=outcome.result, ledger=entry)
            await self._run_dependents(done)
            return done
        failed = await self._move(
            p, ProposalStatus.FAILED, error=outcome.error, kind=outcome.error_kind, ledger=entry
        )
        await self._fail_dependents(failed)
        return failed

    async def _run_dependents(self, done: Proposal) -> None:
        for d in await self.store.list_proposals(
            done.tenant_id, done.session_id, ProposalStatus.CONFIRMED
        ):
            if done.proposal_id in d.depends_on:  # awaited, not skipped (see above)
                async with self._lock(d.proposal_id):
                    cur = await self._get(d.tenant_id, d.proposal_id)
                    if cur.status is ProposalStatus.CONFIRMED:
                        await self._execute(cur)


def _attributes(p: Proposal, decision: str) -> dict[str, object]:
    return {
        telemetry.TENANT: p.tenant_id,
        telemetry.SESSION: p.session_id,
        telemetry.AGENT: p.agent,
        telemetry.TIER: p.tier.value,
        telemetry.TOOL_NAME: p.tool,
        telemetry.PROPOSAL_ID: p.proposal_id,
        "orchestra.proposal.decision": decision,
    }


async def _decided(decision: str, p: Proposal, work: Awaitable[Proposal]) -> Proposal:
    """`work` (a decision on `p`), inside a `proposal {decision}` span with tracing on."""
    if not telemetry.enabled():
        return await work
    with telemetry.span(f"proposal {decision}", _attributes(p, decision)) as span:
        done = await work
        span.set_attribute(telemetry.PROPOSAL_STATUS, done.status.value)
        span.set_attribute(telemetry.OUTCOME, done.status.value.lower())
        return done

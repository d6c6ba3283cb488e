"""Proposals: the write a tool asked for, waiting for the user.

    PENDING -> CONFIRMED | REJECTED | EXPIRED | FAILED
    CONFIRMED -> EXECUTED | FAILED
    REJECTED, EXPIRED, EXECUTED, FAILED are terminal.

`Proposal` is immutable; `transition()` is the one guarded way to change its
status and returns the new value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.approval import Approval, ApprovalPolicy, refusal
from runtime.audit import AuditEvent
from runtime.errors import BadRequest, InvalidTransition
from runtime.principals import SYSTEM, Actor
from runtime.tiers import Tier

if TYPE_CHECKING:
    from runtime.shapes import ProposalOut


class ProposalStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXECUTED = "EXECUTED"
    FAILED = "FAILED"


_ALLOWED: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.PENDING: frozenset(
        {
            ProposalStatus.CONFIRMED,
            ProposalStatus.REJECTED,
            ProposalStatus.EXPIRED,
            ProposalStatus.FAILED,
        }
    ),
    ProposalStatus.CONFIRMED: frozenset({ProposalStatus.EXECUTED, ProposalStatus.FAILED}),
    ProposalStatus.REJECTED: frozenset(),
    ProposalStatus.EXPIRED: frozenset(),
    ProposalStatus.EXECUTED: frozenset(),
    ProposalStatus.FAILED: frozenset(),
}

TERMINAL: frozenset[ProposalStatus] = frozenset(s for s, nxt in _ALLOWED.items() if not nxt)
DEAD_DEPENDENCY: frozenset[ProposalStatus] = frozenset(
    {ProposalStatus.REJECTED, ProposalStatus.EXPIRED, ProposalStatus.FAILED}
)


# What a client shows for each state (`Proposal.hint`): the rules stay here, so a
# client needs none of them.
T3_PENDING_HINT = "Needs your explicit confirmation: Confirm runs it, Reject drops it."
T2_PENDING_HINT = (
    "A clear yes in your next message confirms it, a no drops it; or use Confirm or Reject."
)
AWAITING_HINT = "Waiting for a clear yes or no. Confirm and Reject decide it now."
OUTCOME_UNKNOWN_HINT = "Outcome unknown: it may have run; check before retrying."
_HINTS: dict[ProposalStatus, str] = {
    ProposalStatus.CONFIRMED: "Confirmed: running now.",
    ProposalStatus.EXECUTED: "Done.",
    ProposalStatus.FAILED: "It did not run.",
    ProposalStatus.REJECTED: "Rejected: it will not run.",
    ProposalStatus.EXPIRED: "Expired: no reply came within the confirmation window.",
}


def can_transition(current: ProposalStatus, target: ProposalStatus) -> bool:
    return target in _ALLOWED[current]


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposal_id: str
    tenant_id: str
    session_id: str
    agent: str
    subject: str = ""
    tool: str
    tier: Tier
    args: dict[str, Any] = Field(default_factory=dict)
    status: ProposalStatus = ProposalStatus.PENDING
    preview: str = ""
    depends_on: tuple[str, ...] = ()
    created_at: float
    expires_at: float | None = None
    result: Any = None
    error: str | None = None
    error_kind: str = ""  # e.g. "outcome_unknown": a person must reconcile it
    updated_at: float = 0.0
    # When the reply that showed it was saved (wall-clock ns, a causal stamp, not
    # rule time): only a user message received after it may soft-confirm it.
    shown_ns: int = 0
    # When it reached the client (wall-clock ns, the gateway's stamp): the response
    # that carried it completed with the client connected, or a message named it in
    # `seen` (then: `shown_ns`). 0: not delivered, so no message may soft-confirm it.
    delivered_ns: int = 0
    # The user message that soft-confirmed, refused or expired it: a retry of that
    # message reports the same decision instead of deciding again.
    decided_by: str = ""
    # Who: the principal whose message made it, the policy it was made under, and
    # the yeses it has had so far (a quorum of them confirms it).
    requested_by: Actor | None = None
    policy: ApprovalPolicy = ApprovalPolicy()
    approvals: tuple[Approval, ...] = ()

    def refusal(self, who: Actor) -> tuple[str, str] | None:
        """Why `who` may not approve this now (code, message), or None."""
        return refusal(
            self.policy,
            who,
            subject=self.subject,
            requested_by=self.requested_by,
            approvals=self.approvals,
        )

    def hint(self) -> str:
        """The sentence a client shows for its state (the console's card says it)."""
        if self.status is ProposalStatus.PENDING:
            if self.tier is Tier.T3:
                return T3_PENDING_HINT
            return AWAITING_HINT if self.awaiting == "clear_answer" else T2_PENDING_HINT
        if self.status is ProposalStatus.FAILED and self.error_kind == "outcome_unknown":
            return OUTCOME_UNKNOWN_HINT
        return _HINTS.get(self.status, "")

    def approval_text(self) -> str:
        """The sentence a client shows about who: who requested it, who approved it, how
        many approvals it has of how many, and (while PENDING) who may still approve."""
        by = self.requested_by
        parts = [
            f"Requested by {by['principal']} ({by['role']})." if by else "Requested by unknown."
        ]
        if self.approvals:
            parts.append(f"Approved by {', '.join(f'{a.by} ({a.role})' for a in self.approvals)}.")
        if self.policy.quorum > 1 or self.approvals:
            parts.append(f"{len(self.approvals)} of {self.policy.quorum} approvals.")
        if self.status is ProposalStatus.PENDING:
            if self.approvals and not self.quorum_reached:
                parts.append("Waiting for more approvals.")
            others = "" if self.policy.self_approval else ", not the requester"
            parts.append(f"Who may approve: {', '.join(self.policy.approvers)}{others}.")
        return " ".join(parts)

    def can_approve(self, who: Actor | None) -> bool:
        return who is not None and self.status is ProposalStatus.PENDING and not self.refusal(who)

    def approved_by(self, who: Actor, at: float) -> Proposal:
        """The same proposal with `who`'s yes added (still PENDING): a yes is a clear
        answer, so it no longer awaits one."""
        yes = Approval(by=who["principal"], role=who["role"], at=at)
        return self.model_copy(
            update={"approvals": (*self.approvals, yes), "updated_at": at, "awaiting": ""}
        )

    @property
    def quorum_reached(self) -> bool:
        return len(self.approvals) >= self.policy.quorum

    # "clear_answer": a message did not answer it clearly (or it had not been
    # delivered), so it waits for a clear yes or no. Stored (the registry saves it), so
    # every view says so, until a yes is recorded or its status changes.
    awaiting: Literal["", "clear_answer"] = ""

    def transition(
        self,
        target: ProposalStatus,
        *,
        at: float,
        result: Any = None,
        error: str | None = None,
        decided_by: str = "",
        error_kind: str = "",
    ) -> Proposal:
        if not can_transition(self.status, target):
            raise InvalidTransition(self.status.value, target.value)
        update: dict[str, object] = {"status": target, "updated_at": at, "awaiting": ""}
        if result is not None:
            update["result"] = result
        if error is not None:
            update["error"] = error
        if decided_by:
            update["decided_by"] = decided_by
        if error_kind:
            update["error_kind"] = error_kind
        return self.model_copy(update=update)

    def _failure(self) -> dict[str, str]:
        failure = {"error": self.error or ""}
        if self.error_kind:
            failure["error_kind"] = self.error_kind
        return failure

    def seen_by(self, received_ns: int) -> bool:
        """Was a user message received at `received_ns` sent after this was shown?"""
        return self.shown_ns != 0 and received_ns > self.shown_ns

    def delivered_before(self, received_ns: int) -> bool:
        """Had this reached the client before a message received at `received_ns`?"""
        return self.delivered_ns != 0 and received_ns > self.delivered_ns

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def public(self, viewer: Actor | None = None) -> ProposalOut:
        """The API.md shape; `can_approve` says whether `viewer` may confirm it now."""
        out: ProposalOut = {
            "proposal_id": self.proposal_id,
            "session_id": self.session_id,
            "tool": self.tool,
            "tier": self.tier.value,
            "status": self.status,
            "preview": self.preview,
            "depends_on": list(self.depends_on),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "result": self.result if self.error is None else self._failure(),
            "requested_by": self.requested_by,
            "approvals": [{"by": a.by, "role": a.role, "at": a.at} for a in self.approvals],
            "needs": {
                "quorum": self.policy.quorum,
                "have": len(self.approvals),
                "approvers": list(self.policy.approvers),
                "self_approval": self.policy.self_approval,
            },
            "can_approve": self.can_approve(viewer),
            "hint": self.hint(),
            "approval_text": self.approval_text(),
            "final": self.status in TERMINAL,
        }
        if self.awaiting and self.status is ProposalStatus.PENDING:
            out["awaiting"] = self.awaiting
        return out


def proposal_event(
    p: Proposal, old: ProposalStatus | None, at: float, by: Actor | None = None
) -> AuditEvent:
    """The audit event of one transition (`old` None: the proposal was created) made
    by `by` (the system when no principal made it)."""
    event: AuditEvent = {
        "type": "proposal",
        "at": at,
        "tenant_id": p.tenant_id,
        "session_id": p.session_id,
        "proposal_id": p.proposal_id,
        "tool": p.tool,
        "tier": p.tier.value,
        "from": old.value if old else None,
        "to": p.status.value,
        "by": by or SYSTEM,
    }
    if old is not None and _failed(p):
        event["reason"] = p.error_kind or p.error or ""
    return event


def approval_event(p: Proposal, by: Actor, at: float) -> AuditEvent:
    """The audit event of one approval that did not (yet) reach the quorum."""
    return {
        "type": "approval",
        "at": at,
        "tenant_id": p.tenant_id,
        "session_id": p.session_id,
        "proposal_id": p.proposal_id,
        "tool": p.tool,
        "tier": p.tier.value,
        "have": len(p.approvals),
        "quorum": p.policy.quorum,
        "by": by,
    }


def _failed(p: Proposal) -> bool:
    """A FAILED proposal with a reason to tell (its error kind, else its short error)."""
    return bool(p.error_kind or (p.status is ProposalStatus.FAILED and p.error))


def window_open(proposal: Proposal, now: float) -> bool:
    return proposal.expires_at is None or now <= proposal.expires_at


def check_dependencies(
    tenant_id: str, session_id: str, depends_on: Iterable[str], known: Mapping[str, Proposal]
) -> None:
    """Dependencies must exist in the same tenant and session and be alive."""
    for dep_id in depends_on:
        dep = known.get(dep_id)
        if dep is None or dep.tenant_id != tenant_id or dep.session_id != session_id:
            raise BadRequest(f"unknown dependency {dep_id}")
        if dep.status in DEAD_DEPENDENCY:
            raise BadRequest(f"dependency {dep_id} is {dep.status.value}")


def dependency_verdict(proposal: Proposal, known: Mapping[str, Proposal]) -> ProposalStatus | None:
    """EXECUTED when all deps executed, FAILED when one is dead, None while waiting."""
    statuses = [
        known[d].status if d in known else ProposalStatus.FAILED for d in proposal.depends_on
    ]
    if any(s in DEAD_DEPENDENCY for s in statuses):
        return ProposalStatus.FAILED
    if all(s is ProposalStatus.EXECUTED for s in statuses):
        return ProposalStatus.EXECUTED
    return None

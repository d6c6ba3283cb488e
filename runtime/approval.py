"""Who may approve a proposal: policies, their defaults, and the one check.

A policy names the roles whose yes counts (`subject`: the end user the
session is for; `staff`; `owner`), how many distinct principals must say yes
(`quorum`; 2 is four eyes) and whether the principal whose message made the
proposal may be one of them (`self_approval`). A proposal carries the policy
it was made under, so its rule does not move under it.

Defaults (API.md): chatbot T3 subject/staff/owner; onboarding T2
subject/owner; admin T2 and T3 staff/owner; an agent with no preset T2
subject/staff/owner and T3 staff/owner; quorum 1, self_approval true. A tool's
own policy (`[tools.X.approval]`) wins over its agent's tier policy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .principals import Actor

Approver = Literal["subject", "staff", "owner"]
ALL_APPROVERS: tuple[Approver, ...] = ("subject", "staff", "owner")


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    approvers: tuple[Approver, ...] = ALL_APPROVERS
    quorum: int = Field(default=1, ge=1, le=10)
    self_approval: bool = True

    @field_validator("approvers")
    @classmethod
    def _some(cls, value: tuple[Approver, ...]) -> tuple[Approver, ...]:
        if not value:
            raise ValueError("at least one approver role")
        return tuple(dict.fromkeys(value))

    def who(self) -> str:
        """ "staff or owner": the roles that may approve, for messages."""
        names = list(self.approvers)
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class TierPolicies(BaseModel):
    """An agent's policy per write tier (`[agents.X.approval.T2]`, `.T3`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    T2: ApprovalPolicy = ApprovalPolicy()
    T3: ApprovalPolicy = ApprovalPolicy(approvers=("staff", "owner"))


class Approval(BaseModel):
    """One yes: who said it, as what, when."""

    model_config = ConfigDict(frozen=True)

    by: str
    role: str
    at: float


STAFF_OWNER = ApprovalPolicy(approvers=("staff", "owner"))
DEFAULT_POLICIES: dict[str, TierPolicies] = {
    "chatbot": TierPolicies(T2=ApprovalPolicy(), T3=ApprovalPolicy()),
    "onboarding": TierPolicies(
        T2=ApprovalPolicy(approvers=("subject", "owner")),
        T3=ApprovalPolicy(approvers=("subject", "owner")),
    ),
    "admin": TierPolicies(T2=STAFF_OWNER, T3=STAFF_OWNER),
}
NO_PRESET = TierPolicies()  # T2 subject/staff/owner, T3 staff/owner


def allows(policy: ApprovalPolicy, who: Actor, subject: str) -> bool:
    """Is `who`'s role one of the policy's approvers (a subject: the session's own)?"""
    role = who["role"]
    if role == "subject":
        return "subject" in policy.approvers and who["principal"] == subject
    return role in policy.approvers


def refusal(
    policy: ApprovalPolicy,
    who: Actor,
    *,
    subject: str,
    requested_by: Actor | None,
    approvals: tuple[Approval, ...] = (),
) -> tuple[str, str] | None:
    """Why `who` may not approve now: (error code, message), or None when it may.

    Codes: `forbidden` (its role is not an approver, or it is the requester and
    self-approval is off), `already_approved` (it said yes before)."""
    role = who["role"]
    if not allows(policy, who, subject):
        return "forbidden", f"needs approval by {policy.who()}"
    if any(a.by == who["principal"] and a.role == role for a in approvals):
        return "already_approved", f"{who['principal']} has already approved it"
    if (
        not policy.self_approval
        and requested_by is not None
        and requested_by["principal"] == who["principal"]
        and requested_by["role"] == role
    ):
        return "forbidden", f"needs approval by {policy.who()} other than the requester"
    return None


__all__ = [
    "ALL_APPROVERS",
    "DEFAULT_POLICIES",
    "NO_PRESET",
    "Approval",
    "ApprovalPolicy",
    "Approver",
    "TierPolicies",
    "allows",
    "refusal",
]

"""Proposals: the state machine, soft-confirm, dependencies, races and isolation."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pydantic
import pytest

from runtime.approval import Approval, ApprovalPolicy
from runtime.errors import BadRequest, InvalidTransition, NotFound, Unavailable
from runtime.inbound import Inbound
from runtime.models.base import ModelRequest, ModelResponse
from runtime.models.scripted import ScriptedModel
from runtime.principals import Actor
from runtime.proposals.consent import Verdict, classify
from runtime.proposals.model import (
    TERMINAL,
    Proposal,
    ProposalStatus,
    can_transition,
    check_dependencies,
    dependency_verdict,
    window_open,
)
from runtime.store.memory import MemoryStore
from runtime.testing import records_version
from runtime.tiers import Tier

from .conftest import (
    OTHER_TENANT,
    T0,
    TENANT,
    FakeClock,
    Harness,
    MakeHarness,
    YieldingStore,
    gather_outcomes,
)

S = ProposalStatus

# The documented machine (DESIGN.md), written out independently of the code.
DOCUMENTED = {
    (S.PENDING, S.CONFIRMED),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.EXPIRED),
    (S.PENDING, S.FAILED),
    (S.CONFIRMED, S.EXECUTED),
    (S.CONFIRMED, S.FAILED),
}


def proposal(status: S = S.PENDING, **kw: Any) -> Proposal:
    base: dict[str, Any] = {
        "proposal_id": "p1",
        "tenant_id": TENANT,
        "session_id": "s1",
        "agent": "lab",
        "tool": "create_record",
        "tier": Tier.T2,
        "status": status,
        "created_at": T0,
        "expires_at": T0 + 10,
    }
    return Proposal(**(base | kw))


def create(name: str, price: float = 1) -> str:
    return "create_record " + json.dumps({"name": name, "price": price})


async def propose(h: Harness, sid: str, *calls: str, tenant: str = TENANT) -> list[dict[str, Any]]:
    r = await h.send(sid, "!tools " + "; ".join(calls), tenant=tenant)
    assert all(c["status"] == "proposed" for c in r["tool_calls"]), r["tool_calls"]
    return list(r["proposals"])


# -- the state machine -------------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(S, S)))
def test_every_transition_against_the_documented_machine(src: S, dst: S) -> None:
    p = proposal(src)
    assert can_transition(src, dst) == ((src, dst) in DOCUMENTED)
    if (src, dst) in DOCUMENTED:
        moved = p.transition(dst, at=T0 + 1, result={"ok": 1}, error=None)
        assert moved.status is dst and moved.updated_at == T0 + 1 and moved.result == {"ok": 1}
        assert p.status is src  # the original is immutable
    else:
        with pytest.raises(InvalidTransition) as info:
            p.transition(dst, at=T0 + 1)
        assert (info.value.current, info.value.target) == (src.value, dst.value)


def test_terminal_states() -> None:
    assert {S.REJECTED, S.EXPIRED, S.EXECUTED, S.FAILED} == TERMINAL
    for status in S:
        assert proposal(status).terminal == (status in TERMINAL)
        if status in TERMINAL:
            assert not any(can_transition(status, t) for t in S)


def test_proposal_is_frozen_and_public_shape() -> None:
    p = proposal(depends_on=("p0",))
    with pytest.raises(pydantic.ValidationError):
        p.status = S.EXECUTED  # type: ignore[misc]
    assert p.public() == {
        "proposal_id": "p1",
        "session_id": "s1",
        "tool": "create_record",
        "tier": "T2",
        "status": "PENDING",
        "preview": "",
        "depends_on": ["p0"],
        "created_at": T0,
        "expires_at": T0 + 10,
        "result": None,
        "requested_by": None,
        "approvals": [],
        "needs": {
            "quorum": 1,
            "have": 0,
            "approvers": ["subject", "staff", "owner"],
            "self_approval": True,
        },
        "can_approve": False,
        "hint": (
            "A clear yes in your next message confirms it, a no drops it; or use Confirm or Reject."
        ),
        "approval_text": "Requested by unknown. Who may approve: subject, staff, owner.",
        "final": False,
    }
    failed = p.transition(S.FAILED, at=T0, error="boom")
    assert failed.public()["result"] == {"error": "boom"}
    assert failed.public()["final"] is True


# The sentence a card shows per state: the server says it, so no client copies the
# rules (which tier waits for a button, which failure may have acted).
HINTS = [
    ({"tier": Tier.T3}, "Needs your explicit confirmation: Confirm runs it, Reject drops it."),
    (
        {"tier": Tier.T2},
        "A clear yes in your next message confirms it, a no drops it; or use Confirm or Reject.",
    ),
    (
        {"tier": Tier.T2, "awaiting": "clear_answer"},
        "Waiting for a clear yes or no. Confirm and Reject decide it now.",
    ),
    ({"status": S.CONFIRMED}, "Confirmed: running now."),
    ({"status": S.EXECUTED}, "Done."),
    ({"status": S.REJECTED}, "Rejected: it will not run."),
    ({"status": S.EXPIRED}, "Expired: no reply came within the confirmation window."),
    ({"status": S.FAILED, "error": "declined", "error_kind": "tool_error"}, "It did not run."),
    (
        {"status": S.FAILED, "error": "cut short", "error_kind": "outcome_unknown"},
        "Outcome unknown: it may have run; check before retrying.",
    ),
]


@pytest.mark.parametrize(("fields", "hint"), HINTS)
def test_each_state_has_the_hint_a_card_shows(fields: dict[str, Any], hint: str) -> None:
    p = proposal(**fields)
    out = p.public()
    assert out["hint"] == hint
    assert out["final"] == (p.status in {S.REJECTED, S.EXPIRED, S.EXECUTED, S.FAILED})


# Who requested it, who approved it, how many of how many, who may still: the server
# words it (a client shows `approval_text`), from the policy the proposal carries.
FOUR_EYES = ApprovalPolicy(approvers=("staff",), quorum=2, self_approval=False)
ANN: Actor = {"principal": "ann", "role": "staff"}
APPROVAL_TEXTS = [
    ({}, "Requested by unknown. Who may approve: subject, staff, owner."),
    (
        {"requested_by": ANN, "policy": ApprovalPolicy(approvers=("staff", "owner"))},
        "Requested by ann (staff). Who may approve: staff, owner.",
    ),
    (
        {"requested_by": ANN, "policy": FOUR_EYES},
        "Requested by ann (staff). 0 of 2 approvals. Who may approve: staff, not the requester.",
    ),
    (
        {
            "requested_by": ANN,
            "policy": FOUR_EYES,
            "approvals": (Approval(by="bob", role="staff", at=T0),),
        },
        "Requested by ann (staff). Approved by bob (staff). 1 of 2 approvals. Waiting for more "
        "approvals. Who may approve: staff, not the requester.",
    ),
    (
        {
            "status": S.EXECUTED,
            "requested_by": ANN,
            "policy": FOUR_EYES,
            "approvals": (
                Approval(by="bob", role="staff", at=T0),
                Approval(by="cy", role="staff", at=T0),
            ),
        },
        "Requested by ann (staff). Approved by bob (staff), cy (staff). 2 of 2 approvals.",
    ),
    (
        {
            "status": S.EXECUTED,
            "requested_by": ANN,
            "approvals": (Approval(by="ann", role="staff", at=T0),),
        },
        "Requested by ann (staff). Approved by ann (staff). 1 of 1 approvals.",
    ),
]


@pytest.mark.parametrize(("fields", "text"), APPROVAL_TEXTS)
def test_the_server_words_who_requested_approved_and_may_approve(
    fields: dict[str, Any], text: str
) -> None:
    assert proposal(**fields).public()["approval_text"] == text


def test_awaiting_shows_while_pending_and_ends_with_a_yes_or_a_decision() -> None:
    held = proposal(awaiting="clear_answer")
    assert held.public()["awaiting"] == "clear_answer"
    assert held.approved_by(ANN, T0).awaiting == ""  # a yes is a clear answer
    assert "awaiting" not in held.transition(S.REJECTED, at=T0).public()
    assert held.transition(S.EXPIRED, at=T0).awaiting == ""


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "No thanks",
        "cancel that",
        "STOP",
        "wait a second",
        "don't",
        "Don\u2019t do it",
        "do not",
        "nevermind",
        "abort",
        "nope",
    ],
)
def test_refusals_and_pauses_never_consent(text: str) -> None:
    assert classify(text) is not Verdict.CONSENT


@pytest.mark.parametrize(
    "text", ["yes", "ok go ahead", "sounds good", "I know", "noon works", "nothing else", ""]
)
def test_not_refusals(text: str) -> None:
    assert not classify(text).rejects


def test_window_open() -> None:
    p = proposal(expires_at=T0 + 10)
    assert window_open(p, T0 + 10) and not window_open(p, T0 + 10.001)
    assert window_open(proposal(expires_at=None), T0 + 10**9)


def test_check_dependencies() -> None:
    dep = proposal(proposal_id="d1")
    known = {
        "d1": dep,
        "other-session": proposal(proposal_id="other-session", session_id="s2"),
        "other-tenant": proposal(proposal_id="other-tenant", tenant_id=OTHER_TENANT),
        "dead": proposal(S.REJECTED, proposal_id="dead"),
    }
    check_dependencies(TENANT, "s1", ["d1"], known)
    for bad in ("other-session", "other-tenant", "missing"):
        with pytest.raises(BadRequest, match=f"unknown dependency {bad}"):
            check_dependencies(TENANT, "s1", [bad], known)
    with pytest.raises(BadRequest, match="is REJECTED"):
        check_dependencies(TENANT, "s1", ["dead"], known)


@pytest.mark.parametrize(
    ("deps", "expected"),
    [
        ([S.EXECUTED, S.EXECUTED], S.EXECUTED),
        ([S.EXECUTED, S.PENDING], None),
        ([S.CONFIRMED], None),
        ([S.EXECUTED, S.EXPIRED], S.FAILED),
        ([S.REJECTED, S.PENDING], S.FAILED),
        ([S.FAILED], S.FAILED),
        ([], S.EXECUTED),
    ],
)
def test_dependency_verdict(deps: list[S], expected: S | None) -> None:
    known = {f"d{i}": proposal(s, proposal_id=f"d{i}") for i, s in enumerate(deps)}
    p = proposal(proposal_id="p", depends_on=tuple(known))
    assert dependency_verdict(p, known) is expected
    if deps:  # an unknown dependency counts as dead
        assert dependency_verdict(proposal(depends_on=("ghost",)), known) is S.FAILED


# -- races ----------------------------------------------------------------------------------


async def test_concurrent_confirms_one_winner(make_harness: MakeHarness) -> None:
    h = make_harness(store=YieldingStore())
    sid = await h.session()
    [p] = await propose(h, sid, 'slow_write {"name": "spa", "seconds": 0.05}')
    outcomes = await gather_outcomes([h.rt.confirm(TENANT, p["proposal_id"]) for _ in range(20)])
    wins = [o for o in outcomes if isinstance(o, dict)]
    assert len(wins) == 1 and wins[0]["status"] == "EXECUTED"
    assert all(isinstance(o, InvalidTransition) for o in outcomes if o not in wins)
    assert (await records_version(h.store, TENANT)) == 1  # the records change applied once
    assert list(h.store.applied) == [(TENANT, "records", p["proposal_id"])]
    assert (await h.records())["items"]["spa"]["price"] == 1.0


@pytest.mark.parametrize("confirm_first", [True, False])
async def test_concurrent_confirm_and_reject_one_winner(
    make_harness: MakeHarness, confirm_first: bool
) -> None:
    h = make_harness(store=YieldingStore())
    sid = await h.session()
    [p] = await propose(h, sid, 'delete_record {"name": "gamma"}')
    pid = p["proposal_id"]
    calls = [h.rt.confirm(TENANT, pid), h.rt.reject(TENANT, pid), h.rt.reject(TENANT, pid)]
    if not confirm_first:
        calls.reverse()
    outcomes = await gather_outcomes(calls)
    winners = [o for o in outcomes if isinstance(o, dict)]
    assert len(winners) == 1
    assert sum(isinstance(o, InvalidTransition) for o in outcomes) == 2
    final = (await h.proposal(pid)).status
    assert final.value == winners[0]["status"]
    assert final is (S.EXECUTED if confirm_first else S.REJECTED)
    assert ("gamma" in (await h.records())["items"]) is (not confirm_first)


async def test_concurrent_confirm_and_expire_one_winner(make_harness: MakeHarness) -> None:
    h = make_harness(store=YieldingStore())
    sid = await h.session()
    [p] = await propose(h, sid, create("spa"))
    h.clock.advance(121)  # past the lab's 120 s window
    outcomes = await gather_outcomes(
        [h.rt.confirm(TENANT, p["proposal_id"]), h.rt.book.expire_due()]
    )
    assert isinstance(outcomes[0], InvalidTransition)
    assert (await h.proposal(p["proposal_id"])).status is S.EXPIRED
    assert "spa" not in (await h.records())["items"]


# -- depends_on ---------------------------------------------------------------------------------


async def test_second_write_depends_on_the_first(h: Harness) -> None:
    sid = await h.session()
    first, second, third = await propose(h, sid, create("a"), create("b"), create("c"))
    assert first["depends_on"] == []
    assert second["depends_on"] == [first["proposal_id"]]
    assert third["depends_on"] == [first["proposal_id"], second["proposal_id"]]


async def test_dependent_waits_then_runs_after_its_dependency(h: Harness) -> None:
    sid = await h.session()
    first, second = await propose(h, sid, create("a"), create("b"))
    confirmed = await h.rt.confirm(TENANT, second["proposal_id"])
    assert confirmed["status"] == "CONFIRMED"  # waits for "a"
    assert "b" not in (await h.records())["items"]
    await h.rt.confirm(TENANT, first["proposal_id"])
    assert (await h.proposal(second["proposal_id"])).status is S.EXECUTED
    assert {"a", "b"} <= set((await h.records())["items"])


@pytest.mark.parametrize("how", ["reject", "refusal", "expire_message", "sweeper"])
async def test_dead_first_write_fails_the_dependents(h: Harness, how: str) -> None:
    sid = await h.session()
    first, second, third = await propose(h, sid, create("a"), create("b"), create("c"))
    if how == "reject":
        await h.rt.reject(TENANT, first["proposal_id"])
        expected = S.REJECTED
    elif how == "refusal":
        await h.send(sid, "no, cancel")
        expected = S.REJECTED
    elif how == "expire_message":
        h.clock.advance(121)
        await h.send(sid, "yes please")
        expected = S.EXPIRED
    else:
        h.clock.advance(121)
        expired = await h.rt.book.expire_due()
        assert expired[0].proposal_id == first["proposal_id"]
        expected = S.EXPIRED
    assert (await h.proposal(first["proposal_id"])).status is expected
    for dep in (second, third):
        p = await h.proposal(dep["proposal_id"])
        assert p.status is S.FAILED
        assert p.error is not None and "dependency" in p.error
    assert not {"a", "b", "c"} & set((await h.records())["items"])


class DependentsFirstStore(MemoryStore):
    """Lists proposals in the worst order: dependents before their dependencies."""

    async def list_proposals(self, *args: Any, **kw: Any) -> list[Proposal]:
        found = await super().list_proposals(*args, **kw)
        return sorted(found, key=lambda p: len(p.depends_on), reverse=True)

    async def open_proposals(self) -> list[Proposal]:
        found = await super().open_proposals()
        return sorted(found, key=lambda p: len(p.depends_on), reverse=True)


@pytest.mark.parametrize("how", ["message", "sweeper"])
async def test_expiry_fails_dependents_whatever_the_store_order(
    make_harness: MakeHarness, how: str
) -> None:
    h = make_harness(store=DependentsFirstStore())
    sid = await h.session()
    first, second = await propose(h, sid, create("a"), create("b"))
    h.clock.advance(121)
    if how == "message":
        await h.send(sid, "ok")
    else:
        await h.rt.book.expire_due()
    assert (await h.proposal(first["proposal_id"])).status is S.EXPIRED
    assert (await h.proposal(second["proposal_id"])).status is S.FAILED


async def test_soft_confirm_in_dependents_first_order(make_harness: MakeHarness) -> None:
    h = make_harness(store=DependentsFirstStore())
    sid = await h.session()
    await propose(h, sid, create("a"), create("b"))
    r = await h.send(sid, "great")
    assert [p["status"] for p in r["proposals"]] == ["EXECUTED", "EXECUTED"]


async def test_soft_confirm_report_is_final_for_dependent_writes(h: Harness) -> None:
    sid = await h.session()
    first, second = await propose(h, sid, create("a"), create("b"))
    r = await h.send(sid, "great")
    statuses = {p["proposal_id"]: p["status"] for p in r["proposals"]}
    assert statuses == {first["proposal_id"]: "EXECUTED", second["proposal_id"]: "EXECUTED"}


# -- soft-confirm -------------------------------------------------------------------------


async def test_next_message_inside_window_confirms_and_executes_t2(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, create("yoga", 40))
    h.clock.advance(119)
    r = await h.send(sid, "sounds good")
    [done] = [q for q in r["proposals"] if q["proposal_id"] == p["proposal_id"]]
    assert done["status"] == "EXECUTED"
    assert done["result"] == {"name": "yoga", "price": 40.0}
    assert (await h.records())["items"]["yoga"]["price"] == 40.0


@pytest.mark.parametrize("text", ["no", "cancel", "stop", "nope", "don't", "cancle", "nein"])
async def test_refusal_rejects(h: Harness, text: str) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, create("yoga"))
    r = await h.send(sid, text)
    assert [q["status"] for q in r["proposals"]] == ["REJECTED"]
    assert (await h.proposal(p["proposal_id"])).status is S.REJECTED
    assert "yoga" not in (await h.records())["items"]


async def test_message_after_window_finds_it_expired(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, create("yoga"))
    h.clock.advance(120.5)
    r = await h.send(sid, "yes do it")
    assert [q["status"] for q in r["proposals"]] == ["EXPIRED"]
    assert "yoga" not in (await h.records())["items"]
    with pytest.raises(InvalidTransition):
        await h.rt.confirm(TENANT, p["proposal_id"])


async def test_explicit_confirm_after_window_expires(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, create("yoga"))
    h.clock.advance(121)
    with pytest.raises(InvalidTransition) as info:
        await h.rt.confirm(TENANT, p["proposal_id"])
    assert info.value.current == "EXPIRED"
    assert (await h.proposal(p["proposal_id"])).status is S.EXPIRED


async def test_sweeper_expires_due_t2_but_never_t3(h: Harness) -> None:
    sid = await h.session()
    t2, t3 = await propose(h, sid, create("yoga"), 'delete_record {"name": "alpha"}')
    assert await h.rt.book.expire_due() == []
    h.clock.advance(10_000)
    expired = await h.rt.book.expire_due()
    assert [p.proposal_id for p in expired] == [t2["proposal_id"]]
    # the T3 depended on the expired T2, so it failed rather than expired
    assert (await h.proposal(t3["proposal_id"])).status is S.FAILED
    [lone] = await propose(h, sid, 'delete_record {"name": "gamma"}')
    h.clock.advance(10**6)
    assert await h.rt.book.expire_due() == []
    assert (await h.proposal(lone["proposal_id"])).status is S.PENDING


async def test_background_sweeper_runs(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.rt._sweep_interval = 0.01
    sid = await h.session()
    [p] = await propose(h, sid, create("yoga"))
    h.clock.advance(121)
    await h.rt.start()
    try:
        for _ in range(50):
            if (await h.proposal(p["proposal_id"])).status is S.EXPIRED:
                break
            await asyncio.sleep(0.01)
    finally:
        await h.rt.stop()
    assert (await h.proposal(p["proposal_id"])).status is S.EXPIRED
    await h.rt.stop()  # idempotent


async def test_t3_is_never_soft_confirmed(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, 'delete_record {"name": "alpha"}')
    for text in ["yes", "confirm", "yes, delete it, I confirm", "!tools echo"]:
        await h.send(sid, text)
    assert (await h.proposal(p["proposal_id"])).status is S.PENDING
    assert "alpha" in (await h.records())["items"]
    done = await h.rt.confirm(TENANT, p["proposal_id"])
    assert done["status"] == "EXECUTED" and done["result"] == {"deleted": "alpha"}
    assert "alpha" not in (await h.records())["items"]


async def test_t3_is_not_rejected_by_a_refusal_either(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, 'delete_record {"name": "alpha"}')
    await h.send(sid, "no")
    assert (await h.proposal(p["proposal_id"])).status is S.PENDING
    rejected = await h.rt.reject(TENANT, p["proposal_id"])
    assert rejected["status"] == "REJECTED"


async def test_the_model_cannot_confirm_anything(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, 'delete_record {"name": "alpha"}')
    pid = p["proposal_id"]
    attempt = json.dumps({"proposal_id": pid})
    r = await h.send(sid, f"!tools confirm {attempt}; confirm_proposal {attempt}")
    assert [c["status"] for c in r["tool_calls"]] == ["unknown", "unknown"]
    assert (await h.proposal(pid)).status is S.PENDING
    names = {t.name for t in h.model.chats()[-1].tools}
    assert not any("confirm" in n or "reject" in n for n in names)


async def test_proposals_of_one_session_are_not_confirmed_by_another(h: Harness) -> None:
    sid_a = await h.session(subject="alice")
    sid_b = await h.session(subject="bob")
    [p] = await propose(h, sid_a, create("yoga"))
    r = await h.send(sid_b, "yes, do it")
    assert r["proposals"] == []
    assert (await h.proposal(p["proposal_id"])).status is S.PENDING
    await h.send(sid_b, "no")
    assert (await h.proposal(p["proposal_id"])).status is S.PENDING
    await h.send(sid_a, "ok")
    assert (await h.proposal(p["proposal_id"])).status is S.EXECUTED


async def test_another_tenant_gets_not_found(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, create("yoga"))
    pid = p["proposal_id"]
    with pytest.raises(NotFound):
        await h.rt.get_proposal(OTHER_TENANT, pid)
    with pytest.raises(NotFound):
        await h.rt.confirm(OTHER_TENANT, pid)
    with pytest.raises(NotFound):
        await h.rt.reject(OTHER_TENANT, pid)
    assert await h.rt.list_proposals(OTHER_TENANT, None, None) == []
    assert (await h.rt.get_proposal(TENANT, pid))["status"] == "PENDING"


async def test_list_proposals_filters(h: Harness) -> None:
    sid = await h.session()
    other = await h.session(subject="user-2")
    a, _ = await propose(h, sid, create("a"), 'delete_record {"name": "alpha"}')
    h.clock.advance(1)
    [c] = await propose(h, other, create("c"))
    await h.rt.reject(TENANT, a["proposal_id"])
    everything = await h.rt.list_proposals(TENANT, None, None)
    assert everything[0]["proposal_id"] == c["proposal_id"]  # newest first
    assert len(everything) == 3
    assert len(await h.rt.list_proposals(TENANT, sid, None)) == 2
    rejected = await h.rt.list_proposals(TENANT, None, S.REJECTED)
    assert [p["proposal_id"] for p in rejected] == [a["proposal_id"]]


async def test_proposal_audit_events(h: Harness) -> None:
    sid = await h.session()
    [p] = await propose(h, sid, create("yoga"))
    await h.send(sid, "ok")
    events = [e for e in await h.rt.audit(TENANT, sid) if e["type"] == "proposal"]
    assert [(e["from"], e["to"]) for e in events] == [
        (None, "PENDING"),
        ("PENDING", "CONFIRMED"),
        ("CONFIRMED", "EXECUTED"),
    ]
    assert {e["proposal_id"] for e in events} == {p["proposal_id"]}


class SlowTurnModel(ScriptedModel):
    """Each model call takes `seconds` of the fake clock (a slow real model)."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self._clock, self._seconds = clock, seconds

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self._clock.advance(self._seconds)
        return await super().complete(request)


async def test_the_window_starts_when_the_reply_is_saved_not_when_the_turn_began(
    make_harness: MakeHarness, clock: FakeClock
) -> None:
    h = make_harness(inner=SlowTurnModel(clock, 100.0))  # the lab's window is 120 s
    sid = await h.session()
    began = clock()
    r = await h.send(sid, "!tools " + create("spa"))  # two model calls: 200 s
    [p] = r["proposals"]
    assert p["created_at"] == began
    assert p["expires_at"] == pytest.approx(clock() + 120, abs=1e-6)  # the window is whole
    await h.rt.book.expire_due(clock() + 1)
    assert (await h.proposal(p["proposal_id"])).status is S.PENDING
    h.model.inner = ScriptedModel()  # answer at once from here on
    assert [q["status"] for q in (await h.send(sid, "yes"))["proposals"]] == ["EXECUTED"]


# -- a write runs only when a user message answered it (issue 15) --------------------------
# (tests/salon/test_proposal_flows.py holds the same rules in the salon's journeys)

RENAME = '!tools rename {"name": "Evil Corp"}'
BLIND = "what is my setup progress?"  # neither a yes nor a no


class FailNextSave(MemoryStore):
    """A store blip: the next turn's save fails once."""

    fail = False

    async def save_turn(self, *args: Any, **kw: Any) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("store blip")
        await super().save_turn(*args, **kw)


class SlowSaves(MemoryStore):
    """A MemoryStore whose turn saves take a while (a store under load)."""

    def __init__(self) -> None:
        super().__init__()
        self.saving = asyncio.Event()

    async def save_turn(self, *args: Any, **kwargs: Any) -> None:
        self.saving.set()
        await asyncio.sleep(0.2)
        await super().save_turn(*args, **kwargs)


async def test_a_retried_turn_does_not_confirm_what_its_failed_attempt_proposed(
    make_harness: MakeHarness,
) -> None:
    store = FailNextSave()
    h = make_harness(store=store)
    sid = await h.session()
    await h.send(sid, '!tools rename {"name": "Ann\'s Nails"}')
    store.fail = True
    text, mid = "!tools " + create("massage", 50), "m-retried"
    with pytest.raises(Unavailable):
        await h.rt.send_message(Inbound(TENANT, sid, text, mid))
    r = await h.rt.send_message(Inbound(TENANT, sid, text, mid))  # the retry: the same turn
    statuses = {p["tool"]: p["status"] for p in r["proposals"]}
    assert statuses == {"rename": "EXECUTED", "create_record": "PENDING"}
    assert "massage" not in (await h.records())["items"]
    adds = [p for p in h.store.proposals.values() if p.tool == "create_record"]
    assert len(adds) == 1  # the failed attempt's proposal never existed
    assert (await h.records())["name"] == "Ann's Nails"


async def test_a_retried_t3_turn_leaves_one_pending_t3(make_harness: MakeHarness) -> None:
    store = FailNextSave()
    h = make_harness(store=store)
    sid = await h.session()
    store.fail = True
    text = '!tools delete_record {"name": "alpha"}'
    with pytest.raises(Unavailable):
        await h.rt.send_message(Inbound(TENANT, sid, text, "m-delete"))
    r = await h.rt.send_message(Inbound(TENANT, sid, text, "m-delete"))
    [t3] = r["proposals"]
    pending = await h.rt.list_proposals(TENANT, sid, S.PENDING)
    assert [p["proposal_id"] for p in pending] == [t3["proposal_id"]]


async def test_a_message_sent_before_the_proposal_existed_does_not_confirm_it(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(inner=ScriptedModel(latency_s=0.05))
    sid = await h.session()
    first, second = await asyncio.gather(
        h.send(sid, RENAME),
        h.send(sid, BLIND),  # queued behind the first, blind to it
    )
    [proposed] = first["proposals"]
    assert second["proposals"] == []
    assert (await h.proposal(proposed["proposal_id"])).status is S.PENDING
    assert (await h.records())["name"] != "Evil Corp"
    third = await h.send(sid, "sounds good")  # sent after the reply that showed it
    assert [p["status"] for p in third["proposals"]] == ["EXECUTED"]
    assert (await h.records())["name"] == "Evil Corp"


async def test_a_message_sent_while_the_proposing_turn_is_saved_does_not_confirm_it(
    make_harness: MakeHarness,
) -> None:
    store = SlowSaves()
    h = make_harness(store=store)
    sid = await h.session()
    first = asyncio.ensure_future(h.send(sid, RENAME))
    await store.saving.wait()  # the proposal is stamped; its reply has not left
    store.saving.clear()
    second = await h.send(sid, BLIND)  # sent blind to it
    [proposed] = (await first)["proposals"]
    assert second["proposals"] == []
    assert (await h.proposal(proposed["proposal_id"])).status is S.PENDING
    third = await h.send(sid, "sounds good")  # sent after the reply that showed it
    assert [p["status"] for p in third["proposals"]] == ["EXECUTED"]
    assert (await h.records())["name"] == "Evil Corp"


async def streamed_turn(h: Harness, sid: str, text: str) -> list[Any]:
    return [e async for e in await h.rt.stream_message(Inbound(TENANT, sid, text))]


async def test_a_proposal_event_shows_the_saved_proposal_and_only_that(
    make_harness: MakeHarness,
) -> None:
    store = FailNextSave()
    h = make_harness(store=store)
    sid = await h.session()
    store.fail = True  # the turn proposes, then its save fails: the draft is nobody's
    failed = await streamed_turn(h, sid, RENAME)
    assert [e.kind for e in failed if e.kind in ("proposal", "error")] == ["error"]
    events = await streamed_turn(h, sid, RENAME)
    [shown] = [e.data() for e in events if e.kind == "proposal"]
    [saved] = next(e for e in events if e.kind == "done").data()["proposals"]
    assert shown == saved  # with its window: it starts with the save
    assert shown["expires_at"] is not None and shown["status"] == "PENDING"
    kinds = [e.kind for e in events]
    assert kinds.index("proposal") > kinds.index("tool_call")  # after the tool's end

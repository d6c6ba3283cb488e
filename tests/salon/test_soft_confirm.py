"""The soft-confirm rule at work in a session (LocalBackend, ScriptedModel).

Unclear holds the proposal PENDING and asks again naming it; a correction
supersedes it and the agent proposes the corrected one; a proposal that was
not delivered is unclear for the next message, unless the message names it
in `seen`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from runtime import metrics
from runtime.inbound import Inbound
from runtime.proposals.model import ProposalStatus as S

from .conftest import TENANT, Harness

ADD = "add service massage for 50 dollars"


async def onboarding(h: Harness) -> tuple[str, dict[str, Any]]:
    sid = await h.session("onboarding")
    r = await h.send(sid, ADD)
    [p] = r["proposals"]
    assert p["status"] == "PENDING" and p["tool"] == "add_service"
    return sid, p


def hits(result: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "soft_confirm_window_hits", {"tier": "T2", "result": result}
    )
    return value or 0.0


@pytest.mark.parametrize(
    "text",
    [
        "give me a sec",
        "later",
        "idk",
        "?",
        "how much does it cost?",
        "yes... actually no",
        "ok wait",
        "sorry, my connection dropped - what did you say?",
        "espera",
        "아니요",
    ],
)
async def test_unclear_holds_the_proposal_and_asks_again(h: Harness, text: str) -> None:
    sid, p = await onboarding(h)
    expires = p["expires_at"]
    before = hits("unclear")
    h.clock.advance(30)
    r = await h.send(sid, text)
    [held] = [q for q in r["proposals"] if q["proposal_id"] == p["proposal_id"]]
    assert held["status"] == "PENDING" and held["awaiting"] == "clear_answer"
    assert held["expires_at"] == expires  # the window runs from when it was shown
    assert r["reply"].endswith(f"Shall I go ahead with {p['preview']}? Reply yes or no.")
    assert hits("unclear") == before + 1
    assert "massage" not in (await h.business())["services"]
    # asked again, a clear yes confirms it
    r = await h.send(sid, "yes")
    [done] = [q for q in r["proposals"] if q["proposal_id"] == p["proposal_id"]]
    assert done["status"] == "EXECUTED" and "awaiting" not in done
    assert (await h.business())["services"]["massage"]["price"] == 50.0


async def test_a_stored_proposal_awaits_a_clear_answer_until_it_gets_one(h: Harness) -> None:
    """Every view says it waits for a clear yes or no (a list's too), until it is decided."""
    sid, p = await onboarding(h)
    await h.send(sid, "hmm")
    assert (await h.proposal(p["proposal_id"])).awaiting == "clear_answer"
    stored = await h.rt.get_proposal(TENANT, p["proposal_id"])
    assert stored["awaiting"] == "clear_answer" and stored["hint"].startswith("Waiting for a clear")
    await h.send(sid, "yes")
    assert (await h.proposal(p["proposal_id"])).awaiting == ""
    assert "awaiting" not in (await h.rt.get_proposal(TENANT, p["proposal_id"]))


async def test_a_correction_supersedes_and_reproposes(h: Harness) -> None:
    sid, p = await onboarding(h)
    before = hits("superseded")
    r = await h.send(sid, "change it to 60 dollars")
    by_id = {q["proposal_id"]: q for q in r["proposals"]}
    assert by_id.pop(p["proposal_id"])["status"] == "REJECTED"
    [new] = by_id.values()
    assert new["tool"] == "add_service" and new["status"] == "PENDING"
    assert (await h.proposal(new["proposal_id"])).args["price"] == 60.0
    assert hits("superseded") == before + 1
    events = await h.rt.audit(TENANT, sid)
    assert {"reason": "superseded", "to": "REJECTED"}.items() <= next(
        e for e in events if e.get("proposal_id") == p["proposal_id"] and e["to"] == "REJECTED"
    ).items()
    await h.send(sid, "yes")
    assert (await h.business())["services"]["massage"]["price"] == 60.0
    assert (await h.proposal(p["proposal_id"])).status is S.REJECTED  # it never ran


@pytest.mark.parametrize("text", ["too expensive", "oops"])
async def test_corrections_without_a_new_value_reject(h: Harness, text: str) -> None:
    sid, p = await onboarding(h)
    r = await h.send(sid, text)
    [q] = [q for q in r["proposals"] if q["proposal_id"] == p["proposal_id"]]
    assert q["status"] == "REJECTED"
    assert "massage" not in (await h.business())["services"]


async def test_an_undelivered_proposal_is_unclear_then_shown_again(h: Harness) -> None:
    sid = await h.session("onboarding")
    r = await h.rt.send_message(Inbound(TENANT, sid, ADD, relay=True))  # the client never got it
    [p] = r["proposals"]
    r = await h.rt.send_message(Inbound(TENANT, sid, "yes", relay=True))
    [q] = [q for q in r["proposals"] if q["proposal_id"] == p["proposal_id"]]
    assert q["status"] == "PENDING" and q["awaiting"] == "clear_answer"
    assert "Shall I go ahead with" in r["reply"]
    assert "massage" not in (await h.business())["services"]
    # this time the reply reached the client: the next yes confirms
    await h.rt.mark_delivered(TENANT, sid, [p["proposal_id"]], time.time_ns())
    r = await h.rt.send_message(Inbound(TENANT, sid, "yes", relay=True))
    assert [q["status"] for q in r["proposals"]] == ["EXECUTED"]


async def test_seen_counts_as_delivered(h: Harness) -> None:
    sid = await h.session("onboarding")
    r = await h.rt.send_message(Inbound(TENANT, sid, ADD, relay=True))
    [p] = r["proposals"]
    r = await h.rt.send_message(Inbound(TENANT, sid, "yes", relay=True, seen=(p["proposal_id"],)))
    assert [q["status"] for q in r["proposals"]] == ["EXECUTED"]


async def test_seen_counts_for_its_message_only(h: Harness) -> None:
    sid = await h.session("onboarding")
    r = await h.rt.send_message(Inbound(TENANT, sid, ADD, relay=True))
    [p] = r["proposals"]
    r = await h.rt.send_message(Inbound(TENANT, sid, "hmm", relay=True, seen=(p["proposal_id"],)))
    assert [q["status"] for q in r["proposals"]] == ["PENDING"]  # seen, but unclear
    r = await h.rt.send_message(Inbound(TENANT, sid, "yes", relay=True))
    [q] = r["proposals"]
    assert q["status"] == "PENDING" and q["awaiting"] == "clear_answer"  # still not delivered
    assert (await h.proposal(p["proposal_id"])).delivered_ns == 0

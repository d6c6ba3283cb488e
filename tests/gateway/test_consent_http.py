"""The soft-confirm rule over real HTTP (LocalBackend and real Ray actors).

A representative part of the rule's table (tests/runtime/consent_cases.tsv,
every phrase of issue 24 among them) answers an onboarding T2 through the
whole path; one server, a fresh session per phrase. And "delivered, not
saved": an SSE client that drops before `done` never gets its proposal
soft-confirmed by a plain next message, only by one that names it in `seen`.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from .conftest import new_session, say

TABLE = Path(__file__).parents[1] / "runtime" / "consent_cases.tsv"
ISSUE = {
    "give me a sec",
    "gimme a minute",
    "later",
    "brb",
    "put it on hold",
    "ask me tomorrow",
    "I need to think",
    "perhaps",
    "idk",
    "?",
    "...",
    "what?",
    "how much does it cost?",
    "are you sure?",
    "what does that do?",
    "change it to 60 dollars",
    "too expensive",
    "oops",
    "cancle",
    "canel",
    "call it off",
    "pass",
    "na",
    "nein",
    "non",
    "nee",
    "não",
    "нет",
    "いいえ",
    "不要",
    "annulla",
    "espera",
    "attends",
    "warte",
    "sorry, my connection dropped - what did you say?",
    "yes, no problem",
    "sure, no worries",
    "no problem, go ahead",
    "go ahead, I don't mind",
    "yes... actually no",
    "ok wait",
}
OTHERS = {
    "yes",
    "ok",
    "sure",
    "go ahead",
    "👍",
    "sí",
    "oui",
    "ja",
    "sì",
    "sim",
    "doe maar",
    "да",
    "はい",
    "好的",
    "हाँ",
    "نعم",
    "no",
    "cancel",
    "stop",
    "no thanks",
    "отмена",
    "नहीं",
    "لا",
    "না",
    "نہیں",
    "hmm",
    "not sure",
    "hold on",
    "아니요",
    "open 9am to 5pm",
    "publish the site",
}


def cases() -> list[tuple[str, str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            phrase, verdict, _ = line.split("\t")
            if phrase in ISSUE | OTHERS:
                rows.append((phrase, verdict))
    return list(dict.fromkeys(rows))


EXPECTED = {"consent": "EXECUTED", "refusal": "REJECTED", "correction": "REJECTED"}


def test_table_through_http(api: httpx.Client) -> None:
    rows = cases()
    assert len({p for p, _ in rows}) >= len(ISSUE) + len(OTHERS) - 2
    wrong = []
    for phrase, verdict in rows:
        sid = new_session(api, "onboarding")["session_id"]
        [p] = say(api, sid, "add service massage for 50 dollars")["proposals"]  # type: ignore[misc]
        turn = say(api, sid, phrase)
        [q] = [q for q in turn["proposals"] if q["proposal_id"] == p["proposal_id"]]  # type: ignore[union-attr, index]
        stored = api.get(f"/v1/proposals/{p['proposal_id']}").json()["status"]
        if verdict == "unclear":
            ok = q["status"] == stored == "PENDING" and q.get("awaiting") == "clear_answer"
            ok = ok and str(turn["reply"]).endswith("Reply yes or no.")
        else:
            ok = q["status"] == stored == EXPECTED[verdict] and "awaiting" not in q
        if not ok:
            wrong.append((phrase, verdict, q["status"], stored))
    assert wrong == []


def test_every_view_says_a_clear_answer_is_awaited(api: httpx.Client) -> None:
    """`awaiting` and its hint in the turn, the proposal and the session's list alike,
    until a clear answer decides it."""
    sid = new_session(api, "onboarding")["session_id"]
    [p] = say(api, sid, "add service massage for 50 dollars")["proposals"]  # type: ignore[misc]
    pid = p["proposal_id"]
    assert "awaiting" not in p
    turn = say(api, sid, "hmm, how much does it cost?")
    [q] = [q for q in turn["proposals"] if q["proposal_id"] == pid]  # type: ignore[union-attr, index]
    one = api.get(f"/v1/proposals/{pid}").json()
    [listed] = api.get("/v1/proposals", params={"session_id": sid}).json()["proposals"]
    for view in (q, one, listed):
        assert view["status"] == "PENDING" and view["awaiting"] == "clear_answer"
        assert view["hint"] == "Waiting for a clear yes or no. Confirm and Reject decide it now."
    done = api.post(f"/v1/proposals/{pid}/confirm").json()
    [listed] = api.get("/v1/proposals", params={"session_id": sid}).json()["proposals"]
    for view in (done, listed):
        assert view["status"] == "EXECUTED" and "awaiting" not in view
        assert view["hint"] == "Done."


def test_a_correction_reproposes_over_http(api: httpx.Client) -> None:
    sid = new_session(api, "onboarding")["session_id"]
    [p] = say(api, sid, "add service massage for 50 dollars")["proposals"]  # type: ignore[misc]
    turn = say(api, sid, "change it to 60 dollars")
    new = [q for q in turn["proposals"] if q["proposal_id"] != p["proposal_id"]]  # type: ignore[union-attr]
    assert [(q["tool"], q["status"]) for q in new] == [("add_service", "PENDING")]
    assert "60" in new[0]["preview"]


def dropped_stream(api: httpx.Client, sid: object) -> str:
    """Send a proposing message over SSE and leave before `done`; the proposal's id."""
    name = f"yoga{uuid.uuid4().hex[:8]}"  # a service of its own: create fails on a name taken
    text = f'!tools create_service {{"name": "{name}", "price": 5}}; slow {{"seconds": 0.3}}'
    with api.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"text": text},
        headers={"Accept": "text/event-stream"},
    ) as r:
        assert r.status_code == 200
        events = []
        for line in r.iter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
            if line.startswith("data: ") and '"proposed"' in line:
                break  # the tool call was proposed; leave before `proposal` and `done`
        assert "done" not in events and "proposal" not in events
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the turn completes and is saved without us
        found = api.get("/v1/proposals", params={"session_id": sid}).json()["proposals"]
        if found:
            [p] = found
            assert p["status"] == "PENDING"
            return str(p["proposal_id"])
        time.sleep(0.02)
    raise AssertionError("the turn was not saved")


@pytest.mark.parametrize("text", ["yes", "sorry, my connection dropped - what did you say?"])
def test_a_proposal_that_was_not_delivered_is_not_confirmed(api: httpx.Client, text: str) -> None:
    sid = new_session(api, "lab")["session_id"]
    pid = dropped_stream(api, sid)
    turn = say(api, sid, text)
    [q] = [q for q in turn["proposals"] if q["proposal_id"] == pid]  # type: ignore[union-attr]
    assert q["status"] == "PENDING" and q["awaiting"] == "clear_answer"
    assert "Shall I go ahead with create_service" in str(turn["reply"])  # shown again
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "PENDING"
    # that reply reached the client: now a plain yes confirms it
    turn = say(api, sid, "yes")
    assert [q["status"] for q in turn["proposals"] if q["proposal_id"] == pid] == ["EXECUTED"]  # type: ignore[union-attr]


def test_seen_confirms_a_proposal_whose_stream_dropped(api: httpx.Client) -> None:
    sid = new_session(api, "lab")["session_id"]
    pid = dropped_stream(api, sid)
    r = api.post(f"/v1/sessions/{sid}/messages", json={"text": "yes", "seen": [pid]})
    assert r.status_code == 200, r.text
    [q] = [q for q in r.json()["proposals"] if q["proposal_id"] == pid]
    assert q["status"] == "EXECUTED"


def test_an_sse_stream_read_through_done_delivers(api: httpx.Client) -> None:
    sid = new_session(api, "onboarding")["session_id"]
    with api.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"text": "add service massage for 50 dollars"},
        headers={"Accept": "text/event-stream"},
    ) as r:
        body = "".join(r.iter_text())
    done = json.loads(body.split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    [p] = done["proposals"]
    turn = say(api, sid, "yes")
    assert [q["status"] for q in turn["proposals"] if q["proposal_id"] == p["proposal_id"]] == [
        "EXECUTED"
    ]


@pytest.mark.parametrize("seen", [["x"], ["p_" + "a" * 80], ["p_ok"] * 51, "p_abc", [1], ["p_a b"]])
def test_seen_is_validated(api: httpx.Client, seen: object) -> None:
    sid = new_session(api, "onboarding")["session_id"]
    r = api.post(f"/v1/sessions/{sid}/messages", json={"text": "hi", "seen": seen})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["type"]

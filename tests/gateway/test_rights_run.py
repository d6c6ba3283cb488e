"""A random run over owner, staff and end-user tokens: nobody reads or approves outside
their rights, and nothing answers 5xx.

In the style of the isolation tests, but with many callers of one tenant and a
seeded random sequence of operations (read, write, confirm, reject, list) on
every session and proposal of every caller. The oracle is the contract: a token
reaches its own (agent, subject)'s session only (404 elsewhere, lists
included); owner and staff reach every session; a confirm counts only from a
principal the proposal's policy allows.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from .conftest import LiveServer, subject
from .test_principals import _client, new_key, open_session, token

TEXTS = [
    "book a haircut tomorrow at 10",
    "what services do you have?",
    "yes",
    "no",
    "is there availability for a haircut wednesday?",
]
STEPS = 160


@dataclass
class Caller:
    label: str
    client: httpx.Client
    role: str
    subject: str = ""  # tokens: whose session they hold
    sid: str = ""


@dataclass
class Tally:
    outside: list[str] = field(default_factory=list)  # reads or approvals outside rights
    server_errors: list[str] = field(default_factory=list)
    codes: Counter[int] = field(default_factory=Counter)


def test_random_operations_respect_every_callers_rights(
    server: LiveServer, api: httpx.Client
) -> None:
    rng = random.Random(27)
    callers = [Caller("owner", api, "owner")]
    for i in range(2):
        callers.append(Caller(f"staff{i}", _client(server, new_key(api, "staff")["key"]), "staff"))
    for i in range(4):
        who = subject()
        c = Caller(f"user{i}", _client(server, token(api, "chatbot", who)), "subject", who)
        c.sid = open_session(c.client, "chatbot", who)
        callers.append(c)
    owner_of_sid = {c.sid: c.subject for c in callers if c.sid}
    staff_sid = open_session(callers[1].client, "chatbot", subject())  # a staff-made session
    owner_of_sid[staff_sid] = "?"
    tally = Tally()

    def sees(c: Caller, sid: str) -> bool:
        return c.role != "subject" or sid == c.sid

    def check(c: Caller, what: str, r: httpx.Response, allowed: bool) -> None:
        tally.codes[r.status_code] += 1
        if r.status_code >= 500:
            tally.server_errors.append(f"{c.label} {what}: {r.status_code} {r.text[:200]}")
        if not allowed and r.status_code != 404:
            tally.outside.append(f"{c.label} {what}: {r.status_code}")

    def proposals() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = api.get("/v1/proposals").json()["proposals"]
        return [p for p in found if p["session_id"] in owner_of_sid]

    try:
        for _ in range(STEPS):
            c = rng.choice(callers)
            sid = rng.choice(list(owner_of_sid))
            known = proposals()
            pid = rng.choice(known)["proposal_id"] if known else "p_none"
            psid = next((p["session_id"] for p in known if p["proposal_id"] == pid), "")
            op = rng.choice(
                [
                    "message",
                    "message",
                    "session",
                    "history",
                    "audit",
                    "proposal",
                    "confirm",
                    "confirm",
                    "reject",
                    "list",
                    "inbox",
                    "sessions",
                ]
            )
            if op == "message":
                r = c.client.post(f"/v1/sessions/{sid}/messages", json={"text": rng.choice(TEXTS)})
                check(c, f"message {sid}", r, sees(c, sid))
            elif op == "session":
                check(c, f"get {sid}", c.client.get(f"/v1/sessions/{sid}"), sees(c, sid))
            elif op == "history":
                r = c.client.get(f"/v1/sessions/{sid}/messages")
                check(c, f"history {sid}", r, sees(c, sid))
            elif op == "audit":
                r = c.client.get("/v1/audit", params={"session_id": sid})
                check(c, f"audit {sid}", r, sees(c, sid))
                if r.status_code == 200 and any(
                    e.get("session_id") != sid for e in r.json()["events"]
                ):
                    tally.outside.append(f"{c.label} audit {sid}: another session's events")
            elif op in ("proposal", "confirm", "reject"):
                path = f"/v1/proposals/{pid}" + ("" if op == "proposal" else f"/{op}")
                r = c.client.get(path) if op == "proposal" else c.client.post(path)
                check(c, f"{op} {pid}", r, bool(psid) and sees(c, psid))
            elif op == "list":
                params = {"session_id": sid} if rng.random() < 0.7 else {}
                r = c.client.get("/v1/proposals", params=params)
                mine = c.role != "subject" or params.get("session_id") == c.sid
                check(c, f"list {params}", r, mine)
                if r.status_code == 200 and c.role == "subject":
                    stray = [p for p in r.json()["proposals"] if p["session_id"] != c.sid]
                    if stray:
                        tally.outside.append(f"{c.label} list: {len(stray)} of others")
            elif op == "inbox":
                inbox = {"status": "PENDING", "can_approve": "me"}
                r = c.client.get("/v1/proposals", params=inbox)
                check(c, "inbox", r, c.role != "subject")
            else:
                check(c, "sessions", c.client.get("/v1/sessions"), c.role != "subject")
        # every approval on record is by a principal the policy allowed: a subject's
        # yes only on its own session's proposals (chatbot T3: subject, staff, owner)
        for p in proposals():
            for a in p["approvals"]:
                if a["role"] == "subject" and a["by"] != owner_of_sid[p["session_id"]]:
                    tally.outside.append(f"{p['proposal_id']} approved by {a['by']}")
                if a["role"] not in p["needs"]["approvers"]:
                    tally.outside.append(f"{p['proposal_id']} approved by a {a['role']}")
            if p["status"] == "EXECUTED" and len(p["approvals"]) < p["needs"]["quorum"]:
                tally.outside.append(f"{p['proposal_id']} executed below its quorum")
    finally:
        for c in callers[1:]:
            c.client.close()
    assert tally.server_errors == []
    assert tally.outside == []
    assert tally.codes[200] > STEPS // 4 and tally.codes[404] > STEPS // 10, tally.codes

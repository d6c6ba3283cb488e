"""Principals over HTTP: keys (owner, staff), session tokens, and who may approve.

Every test runs against both backends (in-process, and Ray with the store). The
"desk" agent of the suite carries a four-eyes policy on T3 (two distinct staff
members, not the requester); admin's T2 is staff/owner; chatbot's T3 admits the
session's own subject.
"""

from __future__ import annotations

import asyncio
import random
import string
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import LiveServer, subject


def _client(server: LiveServer, bearer: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30
    )


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _letters() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=10))


def new_key(api: httpx.Client, role: str, name: str | None = None) -> dict[str, Any]:
    r = api.post("/v1/keys", json={"name": name or _name(role), "role": role})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def token(api: httpx.Client, agent: str, who: str, ttl_s: int = 600) -> str:
    r = api.post("/v1/session-tokens", json={"agent": agent, "subject": who, "ttl_s": ttl_s})
    assert r.status_code == 201, r.text
    assert set(r.json()) >= {"token", "expires_at"}
    return str(r.json()["token"])


@pytest.fixture
def staff(server: LiveServer, api: httpx.Client) -> Iterator[list[httpx.Client]]:
    """Three staff members of tenant A, each with a key of their own."""
    clients = [_client(server, new_key(api, "staff")["key"]) for _ in range(3)]
    yield clients
    for c in clients:
        c.close()


def open_session(client: httpx.Client, agent: str, who: str) -> str:
    r = client.post("/v1/sessions", json={"agent": agent, "subject": who})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["session_id"])


def say(client: httpx.Client, sid: str, text: str) -> dict[str, Any]:
    r = client.post(f"/v1/sessions/{sid}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def add_service(api: httpx.Client) -> str:
    """A fresh service of tenant A (made and soft-confirmed by the owner)."""
    name = _letters()
    sid = open_session(api, "admin", subject())
    made = say(api, sid, f"create service {name} for $20")
    assert made["proposals"][0]["status"] == "PENDING"
    done = say(api, sid, "yes")
    assert done["proposals"][0]["status"] == "EXECUTED", done
    return name


def remove_service(api: httpx.Client, name: str) -> None:
    """Delete a service this module made (the owner, on admin): the suite's other tests
    share tenant A's service list."""
    sid = open_session(api, "admin", subject())
    pid = say(api, sid, f"delete service {name}")["proposals"][0]["proposal_id"]
    assert api.post(f"/v1/proposals/{pid}/confirm").json()["status"] == "EXECUTED"


def delete(name: str) -> str:
    """The desk agent's (the lab's) way to ask for its T3 delete_service."""
    return f'!tools delete_service {{"name": "{name}"}}'


def audit(api: httpx.Client, sid: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = api.get("/v1/audit", params={"session_id": sid}).json()["events"]
    return events


# -- keys -------------------------------------------------------------------------


def test_owner_manages_keys_staff_and_tokens_cannot(server: LiveServer, api: httpx.Client) -> None:
    made = new_key(api, "staff")
    assert set(made) == {"key_id", "name", "role", "key", "created_at", "last_used_at"}
    assert made["key"].startswith("orc_") and made["role"] == "staff"
    listed = api.get("/v1/keys").json()["keys"]
    assert made["key_id"] in {k["key_id"] for k in listed}
    assert any(k["role"] == "owner" for k in listed)  # the tenant's own key is an owner key
    assert all("key" not in k and "key_hash" not in k for k in listed)  # no secrets
    assert made["key"] not in api.get("/v1/keys").text
    with _client(server, made["key"]) as bob:
        assert bob.get("/v1/sessions").status_code == 200  # staff see the tenant's sessions
        for method, path in [
            ("GET", "/v1/keys"),
            ("POST", "/v1/keys"),
            ("DELETE", f"/v1/keys/{made['key_id']}"),
            ("POST", f"/v1/keys/{made['key_id']}/rotate"),
        ]:
            body = {"name": "x", "role": "owner"} if method == "POST" else None
            r = bob.request(method, path, json=body)
            assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden", path
        used = {k["key_id"]: k for k in api.get("/v1/keys").json()["keys"]}[made["key_id"]]
        assert used["last_used_at"] is not None
    r = api.post("/v1/keys", json={"name": made["name"], "role": "owner"})
    assert r.status_code == 409  # one principal, one role


def test_me_says_what_the_caller_may_reach(server: LiveServer, api: httpx.Client) -> None:
    """`GET /v1/me`'s `can` (a client lays itself out by it) is what the endpoints do."""
    staff = new_key(api, "staff")
    who = subject()
    inbox = {"status": "PENDING", "can_approve": "me"}
    with (
        _client(server, staff["key"]) as bob,
        _client(server, token(api, "chatbot", who)) as browser,
    ):
        for client, role, can in [
            (api, "owner", {"list_sessions": True, "list_inbox": True, "manage_keys": True}),
            (bob, "staff", {"list_sessions": True, "list_inbox": True, "manage_keys": False}),
            (
                browser,
                "subject",
                {"list_sessions": False, "list_inbox": False, "manage_keys": False},
            ),
        ]:
            me = client.get("/v1/me").json()
            assert me["role"] == role and me["can"] == can
            assert (client.get("/v1/sessions").status_code == 200) is can["list_sessions"]
            assert (client.get("/v1/proposals", params=inbox).status_code == 200) is can[
                "list_inbox"
            ]
            assert (client.get("/v1/keys").status_code == 200) is can["manage_keys"]
        assert browser.get("/v1/me").json()["subject"] == who


def test_revoke_and_rotate(server: LiveServer, api: httpx.Client, api_b: httpx.Client) -> None:
    made = new_key(api, "staff")
    assert api_b.delete(f"/v1/keys/{made['key_id']}").status_code == 404  # another tenant's
    with _client(server, made["key"]) as bob:
        assert bob.get("/v1/sessions").status_code == 200
        assert api.delete(f"/v1/keys/{made['key_id']}").json() == {"revoked": True}
        r = bob.get("/v1/sessions")  # this gateway forgets it at once
        assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
    assert api.delete(f"/v1/keys/{made['key_id']}").status_code == 404
    assert made["key_id"] not in {k["key_id"] for k in api.get("/v1/keys").json()["keys"]}

    carol = new_key(api, "staff")
    r = api.post(f"/v1/keys/{carol['key_id']}/rotate")
    assert r.status_code == 201
    rotated = r.json()
    assert rotated["name"] == carol["name"] and rotated["key"] != carol["key"]
    with _client(server, carol["key"]) as old, _client(server, rotated["key"]) as new:
        assert old.get("/v1/sessions").status_code == 401
        assert new.get("/v1/sessions").status_code == 200


# -- session tokens -------------------------------------------------------------------


def test_a_session_token_sees_only_its_session(
    server: LiveServer, api: httpx.Client, api_b: httpx.Client
) -> None:
    ann = subject()
    other_sid = open_session(api, "chatbot", subject())
    say(api, other_sid, "book a haircut tomorrow at 10")
    other_pid = api.get("/v1/proposals", params={"session_id": other_sid}).json()["proposals"][0][
        "proposal_id"
    ]
    admin_sid = open_session(api, "admin", ann)  # same subject, another agent
    b_sid = open_session(api_b, "chatbot", ann)
    with _client(server, token(api, "chatbot", ann)) as browser:
        assert (
            browser.post("/v1/sessions", json={"agent": "chatbot", "subject": "bob"}).status_code
            == 404
        )
        assert (
            browser.post("/v1/sessions", json={"agent": "admin", "subject": ann}).status_code == 404
        )
        sid = open_session(browser, "chatbot", ann)
        turn = say(browser, sid, "book a haircut tomorrow at 10")
        pid = turn["proposals"][0]["proposal_id"]
        assert turn["proposals"][0]["requested_by"] == {"principal": ann, "role": "subject"}
        assert turn["proposals"][0]["can_approve"] is True
        with browser.stream(
            "POST",
            f"/v1/sessions/{sid}/messages",
            json={"text": "what services do you have?"},
            headers={"Accept": "text/event-stream"},
        ) as r:
            assert r.status_code == 200 and "event: done" in r.read().decode()
        assert browser.get(f"/v1/sessions/{sid}").status_code == 200
        assert len(browser.get(f"/v1/sessions/{sid}/messages").json()["messages"]) == 4
        mine = browser.get("/v1/proposals", params={"session_id": sid}).json()["proposals"]
        assert [p["proposal_id"] for p in mine] == [pid]
        assert browser.get(f"/v1/proposals/{pid}").status_code == 200
        assert browser.get("/v1/audit", params={"session_id": sid}).status_code == 200
        assert browser.get(f"/v1/sessions/{sid}/turns").status_code == 200
        # everything else: 404, as for another tenant
        for path, params in [
            (f"/v1/sessions/{other_sid}", None),
            (f"/v1/sessions/{admin_sid}", None),
            (f"/v1/sessions/{b_sid}", None),
            (f"/v1/sessions/{other_sid}/messages", None),
            (f"/v1/sessions/{other_sid}/turns", None),
            (f"/v1/sessions/{other_sid}/turns/1", None),
            ("/v1/sessions", None),
            ("/v1/agents", None),
            ("/v1/proposals", None),
            ("/v1/proposals", {"session_id": other_sid}),
            ("/v1/proposals", {"status": "PENDING", "can_approve": "me"}),
            (f"/v1/proposals/{other_pid}", None),
            ("/v1/audit", None),
            ("/v1/audit", {"session_id": other_sid}),
            ("/v1/keys", None),
        ]:
            r = browser.get(path, params=params)
            assert r.status_code == 404 and r.json()["error"]["type"] == "not_found", path
        for path in [
            f"/v1/proposals/{other_pid}/confirm",
            f"/v1/proposals/{other_pid}/reject",
            "/v1/session-tokens",
        ]:
            assert browser.post(path, json={}).status_code in (404, 422), path
        r = browser.post(f"/v1/sessions/{other_sid}/messages", json={"text": "hi"})
        assert r.status_code == 404
        assert browser.delete(f"/v1/sessions/{other_sid}").status_code == 404
        # its own booking it may confirm (chatbot T3: subject, staff or owner)
        done = browser.post(f"/v1/proposals/{pid}/confirm")
        assert done.status_code == 200 and done.json()["status"] == "EXECUTED"
        assert done.json()["approvals"][0]["by"] == ann
    assert api.get(f"/v1/proposals/{other_pid}").json()["status"] == "PENDING"


def test_expired_and_revoked_tokens_are_401(server: LiveServer, api: httpx.Client) -> None:
    ann = subject()
    short = token(api, "chatbot", ann, ttl_s=1)
    with _client(server, short) as browser:
        sid = open_session(browser, "chatbot", ann)
        time.sleep(1.2)
        r = browser.get(f"/v1/sessions/{sid}")
        assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
    tok = token(api, "chatbot", ann)
    with _client(server, tok) as browser:
        assert browser.get(f"/v1/sessions/{sid}").status_code == 200
        assert api.post("/v1/session-tokens/revoke", json={"token": tok}).json() == {
            "revoked": True
        }
        assert browser.get(f"/v1/sessions/{sid}").status_code == 401
    r = api.post("/v1/session-tokens", json={"agent": "nope", "subject": ann, "ttl_s": 60})
    assert r.status_code == 400


# -- who may approve -------------------------------------------------------------------


def test_four_eyes_refund(server: LiveServer, api: httpx.Client, staff: list[httpx.Client]) -> None:
    """The first approval leaves it PENDING, the requester is refused, a second staff
    member executes it, once; the owner is not one of this policy's approvers."""
    name = add_service(api)
    requester, second, third = staff
    sid = open_session(requester, "desk", subject())
    turn = say(requester, sid, delete(name))
    p = turn["proposals"][0]
    pid = p["proposal_id"]
    assert p["status"] == "PENDING" and p["tier"] == "T3"
    assert p["needs"] == {"quorum": 2, "have": 0, "approvers": ["staff"], "self_approval": False}
    assert p["requested_by"]["role"] == "staff" and p["can_approve"] is False
    asker = p["requested_by"]["principal"]
    # the sentence a client shows about who: the server's, in every view of it
    wanted = (
        f"Requested by {asker} (staff). 0 of 2 approvals. "
        "Who may approve: staff, not the requester."
    )
    assert p["approval_text"] == wanted
    assert api.get(f"/v1/proposals/{pid}").json()["approval_text"] == wanted

    r = requester.post(f"/v1/proposals/{pid}/confirm")
    assert r.status_code == 403
    assert r.json()["error"] == {
        "type": "forbidden",
        "message": "needs approval by staff other than the requester",
    }
    r = api.post(f"/v1/proposals/{pid}/confirm")
    assert r.status_code == 403 and "needs approval by staff" in r.json()["error"]["message"]
    r = second.post(f"/v1/proposals/{pid}/confirm")
    assert r.status_code == 200
    one = r.json()
    assert one["status"] == "PENDING" and one["needs"]["have"] == 1
    assert [a["role"] for a in one["approvals"]] == ["staff"] and one["can_approve"] is False
    first = one["approvals"][0]["by"]
    wanted = (
        f"Requested by {asker} (staff). Approved by {first} (staff). 1 of 2 approvals. "
        "Waiting for more approvals. Who may approve: staff, not the requester."
    )
    assert one["approval_text"] == wanted
    listed = api.get("/v1/proposals", params={"session_id": sid}).json()["proposals"]
    assert [x["approval_text"] for x in listed if x["proposal_id"] == pid] == [wanted]
    r = second.post(f"/v1/proposals/{pid}/confirm")
    assert r.status_code == 409 and r.json()["error"]["type"] == "already_approved"
    inbox = third.get("/v1/proposals", params={"status": "PENDING", "can_approve": "me"})
    assert pid in {x["proposal_id"] for x in inbox.json()["proposals"]}
    assert pid not in {
        x["proposal_id"]
        for x in second.get(
            "/v1/proposals", params={"status": "PENDING", "can_approve": "me"}
        ).json()["proposals"]
    }
    r = third.post(f"/v1/proposals/{pid}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "EXECUTED"
    assert len(r.json()["approvals"]) == 2
    second_by = r.json()["approvals"][1]["by"]
    assert r.json()["approval_text"] == (
        f"Requested by {asker} (staff). Approved by {first} (staff), {second_by} (staff). "
        "2 of 2 approvals."
    )
    assert third.post(f"/v1/proposals/{pid}/confirm").status_code == 409

    events = [e for e in audit(api, sid) if e.get("proposal_id") == pid]
    assert [e.get("to") for e in events].count("EXECUTED") == 1
    assert all("by" in e for e in audit(api, sid))  # every event says who
    created = next(e for e in events if e["type"] == "proposal" and e["from"] is None)
    assert created["by"] == p["requested_by"]
    approval = next(e for e in events if e["type"] == "approval")
    confirmed = next(e for e in events if e.get("to") == "CONFIRMED")
    assert approval["by"] == {"principal": one["approvals"][0]["by"], "role": "staff"}
    assert confirmed["by"]["role"] == "staff" and confirmed["by"] != approval["by"]
    assert confirmed["by"] != created["by"]


async def test_racing_confirms_from_two_principals_execute_once(
    server: LiveServer, api: httpx.Client, staff: list[httpx.Client]
) -> None:
    name = add_service(api)
    requester, second, third = staff
    sid = open_session(requester, "desk", subject())
    pid = say(requester, sid, delete(name))["proposals"][0]["proposal_id"]
    keys = [str(c.headers["Authorization"]) for c in (second, third)]
    clients = [
        httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": k}, timeout=60)
        for k in keys
    ]
    try:
        replies = await asyncio.gather(
            *(clients[i % 2].post(f"/v1/proposals/{pid}/confirm") for i in range(10))
        )
    finally:
        for c in clients:
            await c.aclose()
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 200] + [409] * 8, [r.text for r in replies]
    assert sorted(r.json()["status"] for r in replies if r.status_code == 200) == [
        "EXECUTED",
        "PENDING",
    ]
    async with server.async_client("A") as owner:
        got = await owner.get("/v1/audit", params={"session_id": sid})
        events = [e for e in got.json()["events"] if e.get("proposal_id") == pid]
        assert [e.get("to") for e in events].count("EXECUTED") == 1
        assert (await owner.get(f"/v1/proposals/{pid}")).json()["status"] == "EXECUTED"


def test_a_soft_confirm_by_a_sender_who_may_not_approve_does_not_execute(
    server: LiveServer, api: httpx.Client, staff: list[httpx.Client]
) -> None:
    """admin T2 is staff/owner: the end user's "yes" leaves it PENDING; staff's runs it."""
    who = subject()
    name = _letters()
    with _client(server, token(api, "admin", who)) as browser:
        sid = open_session(browser, "admin", who)
        p = say(browser, sid, f"create service {name} for $20")["proposals"][0]
        assert p["status"] == "PENDING" and p["can_approve"] is False
        said = say(browser, sid, "yes")
        assert all(x["proposal_id"] != p["proposal_id"] for x in said["proposals"])
        assert browser.get(f"/v1/proposals/{p['proposal_id']}").json()["status"] == "PENDING"
        r = browser.post(f"/v1/proposals/{p['proposal_id']}/confirm")
        assert r.status_code == 403
        assert r.json()["error"] == {
            "type": "forbidden",
            "message": "needs approval by staff or owner",
        }
        assert browser.post(f"/v1/proposals/{p['proposal_id']}/reject").status_code == 403
        assert say(browser, sid, "no")["proposals"] == []  # not theirs to refuse either
    r = staff[0].post(f"/v1/proposals/{p['proposal_id']}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "EXECUTED"
    executed = [e for e in audit(api, sid) if e.get("to") == "EXECUTED"]
    assert len(executed) == 1
    remove_service(api, name)


def test_a_soft_confirm_counts_from_a_sender_who_may(
    api: httpx.Client, staff: list[httpx.Client]
) -> None:
    name = _letters()
    sid = open_session(staff[0], "admin", subject())
    p = say(staff[0], sid, f"create service {name} for $20")["proposals"][0]
    done = say(staff[0], sid, "yes")["proposals"][0]
    assert done["proposal_id"] == p["proposal_id"] and done["status"] == "EXECUTED"
    confirmed = next(e for e in audit(api, sid) if e.get("to") == "CONFIRMED")
    assert confirmed["by"]["role"] == "staff"
    assert any(e["type"] == "message" and e["by"]["role"] == "staff" for e in audit(api, sid))
    remove_service(api, name)


def test_the_sweeper_acts_as_system(api: httpx.Client) -> None:
    """An expiry nobody asked for is by `system` in the audit (the lab's window: 1.5 s)."""
    sid = open_session(api, "lab", subject())
    p = say(api, sid, '!tools slow_effect {"seconds": 0}')["proposals"][0]
    assert p["status"] == "PENDING" and p["tier"] == "T2"
    deadline = time.monotonic() + 10
    while api.get(f"/v1/proposals/{p['proposal_id']}").json()["status"] == "PENDING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    expired = next(e for e in audit(api, sid) if e.get("to") == "EXPIRED")
    assert expired["by"] == {"principal": "system", "role": "system"}
    created = next(e for e in audit(api, sid) if e.get("from") is None and e["type"] == "proposal")
    assert created["by"] == {"principal": "owner", "role": "owner"}

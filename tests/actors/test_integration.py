"""The roadmap's integration suite on real Ray actors and a real Redis-protocol store.

Every test runs once per placement (`hosted` session hosts, `dedicated`
actor per session) through `RayBackend`, the API the gateway uses.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from actors import RayBackend
from runtime.errors import InvalidTransition, NotFound, SessionClosed
from runtime.inbound import Inbound
from runtime.proposals.model import ProposalStatus
from runtime.store.tenants import add_tenant
from salon.testing import business

pytestmark = [pytest.mark.ray, pytest.mark.store]

Tenants = tuple[tuple[str, str], tuple[str, str]]


async def _session(b: RayBackend, tenant: str, agent: str = "lab", subject: str = "u") -> str:
    rec, _ = await b.create_session(tenant, agent, subject)
    return str(rec["session_id"])


# -- multi-tenant isolation (3) ---------------------------------------------------------


async def test_other_tenant_cannot_see_session_or_history(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), (b, _) = two_tenants
    sid = await _session(backend, a)
    await backend.send_message(Inbound(a, sid, "!tools echo"))
    for call in (
        backend.get_session(b, sid),
        backend.list_messages(b, sid),
        backend.send_message(Inbound(b, sid, "hello")),
        backend.close_session(b, sid),
        backend.audit(b, sid),
    ):
        with pytest.raises(NotFound):
            await call
    assert len(await backend.list_messages(a, sid)) == 2


async def test_other_tenant_cannot_touch_proposals(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), (b, _) = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(Inbound(a, sid, '!tools delete_service {"name": "haircut"}'))
    pid = r["proposals"][0]["proposal_id"]
    for call in (backend.get_proposal(b, pid), backend.confirm(b, pid), backend.reject(b, pid)):
        with pytest.raises(NotFound):
            await call
    assert await backend.list_proposals(b, None, None) == []
    assert (await backend.get_proposal(a, pid))["status"] == "PENDING"


async def test_soft_confirm_is_scoped_to_its_session(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    s1 = await _session(backend, a, subject="one")
    s2 = await _session(backend, a, subject="two")
    await backend.send_message(
        Inbound(a, s2, "!tools echo")
    )  # warm s2's actor (dedicated cold start)
    r = await backend.send_message(
        Inbound(a, s1, '!tools create_service {"name": "yoga", "price": 10}')
    )
    pid = r["proposals"][0]["proposal_id"]
    await backend.send_message(Inbound(a, s2, "sounds good"))  # another session's "yes"
    assert (await backend.get_proposal(a, pid))["status"] == "PENDING"
    listed = await backend.list_proposals(a, s2, None)
    assert listed == []
    await backend.send_message(Inbound(a, s1, "yes please"))
    assert (await backend.get_proposal(a, pid))["status"] == "EXECUTED"


# -- proposal lifecycle (3) -------------------------------------------------------------


async def test_t3_waits_for_explicit_confirm_then_executes_once(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a, agent="chatbot")
    r = await backend.send_message(Inbound(a, sid, "book a haircut tomorrow at 11"))
    [p] = r["proposals"]
    assert (p["tier"], p["status"]) == ("T3", "PENDING")
    await backend.send_message(Inbound(a, sid, "yes, go ahead"))  # a message never confirms a T3
    assert (await backend.get_proposal(a, p["proposal_id"]))["status"] == "PENDING"
    done = await backend.confirm(a, p["proposal_id"])
    assert done["status"] == "EXECUTED" and done["result"]["time"] == "11:00"
    with pytest.raises(InvalidTransition) as err:
        await backend.confirm(a, p["proposal_id"])
    assert err.value.current == "EXECUTED"
    doc = await business(backend.store, a)
    assert len(doc["appointments"]) == 1


async def test_reject_then_confirm_conflicts(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(Inbound(a, sid, '!tools delete_service {"name": "coloring"}'))
    pid = r["proposals"][0]["proposal_id"]
    assert (await backend.reject(a, pid))["status"] == "REJECTED"
    with pytest.raises(InvalidTransition):
        await backend.confirm(a, pid)
    assert "coloring" in (await business(backend.store, a))["services"]


async def test_dependent_write_fails_when_its_dependency_is_rejected(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(
        Inbound(
            a,
            sid,
            '!tools create_service {"name": "spa", "price": 50}; '
            'update_service {"name": "spa", "price": 60}',
        )
    )
    first, second = r["proposals"]
    assert second["depends_on"] == [first["proposal_id"]]
    changed = await backend.send_message(Inbound(a, sid, "no, cancel that"))
    statuses = {p["proposal_id"]: p["status"] for p in changed["proposals"]}
    assert statuses[first["proposal_id"]] == "REJECTED"
    assert (await backend.get_proposal(a, second["proposal_id"]))["status"] in (
        "REJECTED",
        "FAILED",
    )
    assert "spa" not in (await business(backend.store, a))["services"]


# -- session concurrency (2) + the concurrency cases ----------------------------


async def test_concurrent_creates_yield_one_session(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    results = await asyncio.gather(
        *(backend.create_session(a, "chatbot", "same") for _ in range(50))
    )
    assert len({r[0]["session_id"] for r in results}) == 1
    assert sum(1 for _, created in results if created) == 1


async def test_concurrent_messages_run_in_order(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    texts = [f"!tools echo #{i}" for i in range(20)]
    replies = await asyncio.gather(*(backend.send_message(Inbound(a, sid, t)) for t in texts))
    assert len(replies) == 20
    history = await backend.list_messages(a, sid)
    users = [m["content"] for m in history if m["role"] == "user"]
    assert users == texts  # arrival order, each exactly once
    roles = [m["role"] for m in history]
    assert roles == ["user", "assistant"] * 20  # no interleaved turns


async def test_fifty_concurrent_confirms_execute_once(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a, agent="chatbot", subject="confirmer")
    r = await backend.send_message(Inbound(a, sid, "book a manicure tomorrow at 14"))
    pid = r["proposals"][0]["proposal_id"]
    outcomes = await asyncio.gather(
        *(backend.confirm(a, pid) for _ in range(50)), return_exceptions=True
    )
    ok = [o for o in outcomes if isinstance(o, dict)]
    assert len(ok) == 1 and ok[0]["status"] == "EXECUTED"
    assert all(isinstance(o, InvalidTransition) for o in outcomes if not isinstance(o, dict))
    appts = (await business(backend.store, a))["appointments"]
    assert [x["time"] for x in appts] == ["14:00"]
    events = [e for e in await backend.audit(a, sid) if e.get("proposal_id") == pid]
    assert [e["to"] for e in events].count("EXECUTED") == 1


async def test_closed_session_rejects_messages(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a, subject="closer")
    assert await backend.close_session(a, sid) == {"status": "closed"}
    with pytest.raises(SessionClosed):
        await backend.send_message(Inbound(a, sid, "hello?"))
    new_sid = await _session(backend, a, subject="closer")
    assert new_sid != sid


# -- soft-confirm window (2) ---------------------------------------------------------------


async def test_reply_inside_window_confirms(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(
        Inbound(a, sid, '!tools create_service {"name": "massage", "price": 70}')
    )
    pid = r["proposals"][0]["proposal_id"]
    r2 = await backend.send_message(Inbound(a, sid, "great"))
    assert [(p["proposal_id"], p["status"]) for p in r2["proposals"]] == [(pid, "EXECUTED")]
    assert "massage" in (await business(backend.store, a))["services"]


async def test_reply_after_window_finds_it_expired(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(
        Inbound(a, sid, '!tools create_service {"name": "sauna", "price": 20}')
    )
    pid = r["proposals"][0]["proposal_id"]
    await asyncio.sleep(1.5 + 0.6)  # lab window 1.5 s; the sweeper runs every 0.2 s
    assert (await backend.get_proposal(a, pid))["status"] == "EXPIRED"
    await backend.send_message(Inbound(a, sid, "yes"))
    assert (await backend.get_proposal(a, pid))["status"] == "EXPIRED"
    assert "sauna" not in (await business(backend.store, a))["services"]


# -- recursion budgets (2) -----------------------------------------------------------------


async def test_t1_exhaustion_does_not_block_t2(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(
        Inbound(a, sid, '!tools echo*11; create_service {"name": "nails", "price": 5}')
    )
    assert r["usage"] == {"T1": 10, "T2": 1, "T3": 0}
    assert "I've exhausted my capability for T1 operations." in r["reply"]
    assert [p["tool"] for p in r["proposals"]] == ["create_service"]


async def test_t2_exhaustion_does_not_block_t3(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    writes = "; ".join(f'create_service {{"name": "s{i}", "price": 1}}' for i in range(4))
    r = await backend.send_message(
        Inbound(a, sid, f'!tools {writes}; delete_service {{"name": "haircut"}}')
    )
    assert r["usage"] == {"T1": 0, "T2": 3, "T3": 1}
    assert "I've exhausted my capability for T2 operations." in r["reply"]
    assert sorted(p["tier"] for p in r["proposals"]) == ["T2", "T2", "T2", "T3"]
    info = await backend.get_session(a, sid)
    assert info["usage"] == {"T1": 0, "T2": 3, "T3": 1}


# -- tool execution timeout (2) ------------------------------------------------------------


async def test_slow_tool_times_out_and_turn_still_answers(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    await backend.send_message(
        Inbound(a, sid, "!tools echo")
    )  # its actor is up: time the tool only
    t0 = time.monotonic()
    r = await backend.send_message(Inbound(a, sid, '!tools slow {"seconds": 5}'))
    assert time.monotonic() - t0 < 3.0  # executor timeout is 0.4 s
    assert r["tool_calls"] == [{"tool": "slow", "tier": "T1", "status": "timeout"}]
    assert "timed out" in r["reply"]


async def test_timed_out_write_fails_without_applying(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(
        Inbound(a, sid, '!tools slow_write {"name": "late", "seconds": 3}')
    )
    pid = r["proposals"][0]["proposal_id"]
    r2 = await backend.send_message(Inbound(a, sid, "ok"))
    [p] = [p for p in r2["proposals"] if p["proposal_id"] == pid]
    assert p["status"] == "FAILED" and "did not run" in p["result"]["error"]
    assert "late" not in (await business(backend.store, a))["services"]


# -- breaker and context cache (2 + 2) -------------------------------------------------------


async def test_breaker_opens_after_three_failures(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(Inbound(a, sid, "!tools fail*3"))
    assert [c["status"] for c in r["tool_calls"]] == ["error"] * 3
    assert (await backend.get_session(a, sid))["breaker"] == "open"
    r2 = await backend.send_message(Inbound(a, sid, "!tools echo"))
    assert r2["tool_calls"] == [{"tool": "echo", "tier": "T1", "status": "breaker_open"}]
    kinds = [e["to"] for e in await backend.audit(a, sid) if e["type"] == "breaker"]
    assert kinds == ["open"]


async def test_context_cache_sees_executed_write(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    chat = await _session(backend, a, agent="chatbot", subject="ctx")
    await backend.send_message(Inbound(a, chat, "what services do you have?"))  # warms the cache
    admin = await _session(backend, a, agent="admin", subject="ctx-admin")
    r = await backend.send_message(Inbound(a, admin, "delete haircut"))
    await backend.confirm(a, r["proposals"][0]["proposal_id"])
    r2 = await backend.send_message(Inbound(a, chat, "what services do you have?"))
    assert "haircut" not in r2["reply"] and "coloring" in r2["reply"]


async def test_session_state_survives_eviction(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a, subject="evicted")
    r = await backend.send_message(
        Inbound(a, sid, '!tools create_service {"name": "reiki", "price": 9}')
    )
    pid = r["proposals"][0]["proposal_id"]
    for h in backend.router.handles():
        await h.evict.remote(0.0)  # drop every idle session from memory
    r2 = await backend.send_message(Inbound(a, sid, "yes"))  # rehydrated from the store
    assert [p["status"] for p in r2["proposals"] if p["proposal_id"] == pid] == ["EXECUTED"]
    assert [m["role"] for m in await backend.list_messages(a, sid)] == ["user", "assistant"] * 2


# -- error recovery (2) -------------------------------------------------------------------------


async def test_unknown_tool_and_bad_args_are_reported_not_raised(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(Inbound(a, sid, '!tools nope; create_service {"name": ""}'))
    assert [c["status"] for c in r["tool_calls"]] == ["unknown", "invalid"]
    assert (await backend.get_session(a, sid))["breaker"] == "closed"


async def test_failed_execution_fails_dependents(backend: RayBackend, two_tenants: Tenants) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a)
    r = await backend.send_message(
        Inbound(
            a,
            sid,
            '!tools update_service {"name": "ghost", "price": 1}; '
            'create_service {"name": "after", "price": 2}',
        )
    )
    first, second = r["proposals"]
    r2 = await backend.send_message(Inbound(a, sid, "yes"))
    statuses = {p["proposal_id"]: p["status"] for p in r2["proposals"]}
    assert statuses[first["proposal_id"]] == "FAILED"
    assert (await backend.get_proposal(a, second["proposal_id"]))["status"] == "FAILED"
    assert "after" not in (await business(backend.store, a))["services"]


async def test_listing_filters_by_session_and_status(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    sid = await _session(backend, a, subject="lister")
    await backend.send_message(Inbound(a, sid, '!tools delete_service {"name": "haircut"}'))
    await backend.send_message(Inbound(a, sid, '!tools delete_service {"name": "manicure"}'))
    listed = await backend.list_proposals(a, sid, ProposalStatus.PENDING)
    assert [p["preview"].split("=")[1].rstrip(")") for p in listed] == ["manicure", "haircut"]
    assert await backend.list_proposals(a, sid, ProposalStatus.EXECUTED) == []


async def test_new_tenant_is_isolated_from_existing_business(backend: RayBackend) -> None:
    t, _ = await add_tenant(backend.store, "Fresh")
    doc = await business(backend.store, t.tenant_id)
    assert doc["appointments"] == [] and doc["name"] == "Demo Salon"


# -- pool gauges, scraped (1) -------------------------------------------------------------


async def _pool_gauges(b: RayBackend) -> tuple[float, float]:
    from prometheus_client.parser import text_string_to_metric_families

    live = depth = 0.0
    for text in await b.metrics_texts():
        for family in text_string_to_metric_families(text.decode()):
            for sample in family.samples:
                if sample.name == "orchestra_live_sessions":
                    live += sample.value
                elif sample.name == "orchestra_mailbox_depth":
                    depth += sample.value
    return live, depth


async def test_live_sessions_and_mailbox_depth_are_current_when_scraped(
    backend: RayBackend, two_tenants: Tenants
) -> None:
    (a, _), _ = two_tenants
    before, _ = await _pool_gauges(backend)
    sids = [await _session(backend, a, subject=f"g{i}") for i in range(3)]
    await asyncio.gather(*(backend.send_message(Inbound(a, sid, "!tools echo")) for sid in sids))
    live, depth = await _pool_gauges(backend)
    assert (live - before, depth) == (3, 0)

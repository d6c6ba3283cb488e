"""The `Store` contract, run against `MemoryStore` and `RedisStore` alike."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from actors.store.redis import EmbeddedValkey, RedisStore, connect_store
from runtime.errors import BadRequest, NotFound, NotOwner, ToolValidationError, Unavailable
from runtime.inbound import Inbound
from runtime.proposals.model import Proposal, ProposalStatus
from runtime.store.data import StoreData, TurnData
from runtime.store.payloads import TurnWrite
from runtime.store.protocol import (
    KeyRecord,
    LedgerEntry,
    LedgerState,
    SessionRecord,
    Store,
    TenantRecord,
    TokenRecord,
)
from runtime.tiers import Tier
from runtime.turnlog import KEEP_TURNS
from salon.testing import SALON_AGENTS, business, business_applied, business_version, business_write
from tests.conftest import StorePeers

PENDING, CONFIRMED = ProposalStatus.PENDING, ProposalStatus.CONFIRMED


def sess(sid: str, tenant: str = "t1", agent: str = "setup", subject: str = "u1") -> SessionRecord:
    return SessionRecord(
        session_id=sid, tenant_id=tenant, agent=agent, subject=subject, created_at=100.0
    )


def prop(
    pid: str,
    *,
    tenant: str = "t1",
    session: str = "s1",
    status: ProposalStatus = PENDING,
    created: float = 1.0,
    **extra: Any,
) -> Proposal:
    return Proposal(
        proposal_id=pid,
        tenant_id=tenant,
        session_id=session,
        agent="setup",
        tool="add_service",
        tier=Tier.T2,
        args={"name": "nails", "price": 12.5},
        status=status,
        created_at=created,
        **extra,
    )


def booking(time: str, day: str = "2030-01-07") -> dict[str, Any]:
    # "day" is what BookingArgs dumps; "date" kept for older apply_op versions
    return {"service": "haircut", "day": day, "date": day, "time": time, "customer": "ann"}


# -- tenants and sessions -----------------------------------------------------


async def test_tenants(store: Store) -> None:
    rec = TenantRecord(tenant_id="t1", name="Salon", key_hash="h1", created_at=5.0)
    await store.put_tenant(rec)
    assert await store.tenant_by_key_hash("h1") == rec
    assert await store.tenant_by_key_hash("nope") is None
    assert await store.ping() is True
    assert rec in await store.list_tenants()


async def test_keys_and_session_tokens(store: Store) -> None:
    k = KeyRecord(key_id="k1", tenant_id="t1", name="bob", role="staff", key_hash="kh1")
    await store.put_key(k)
    await store.put_key(k.model_copy(update={"key_id": "k2", "key_hash": "kh2", "created_at": 2}))
    await store.put_key(k.model_copy(update={"key_id": "k3", "tenant_id": "t2", "key_hash": "kh3"}))
    assert await store.key_by_hash("kh1") == k
    assert [x.key_id for x in await store.list_keys("t1")] == ["k1", "k2"]  # oldest first
    revoked = k.model_copy(update={"revoked_at": 9.0})
    await store.put_key(revoked)  # a revocation replaces the record, by hash and in the list
    assert await store.key_by_hash("kh1") == revoked
    assert (await store.list_keys("t1"))[0] == revoked
    await store.touch_key("t1", "k2", 7.5)
    assert await store.key_last_used("t1") == {"k2": 7.5}
    assert await store.key_last_used("t2") == {}
    tok = TokenRecord(
        token_hash="th", tenant_id="t1", agent="chatbot", subject="ann", expires_at=time.time() + 60
    )
    await store.put_token(tok)
    assert await store.token_by_hash("th") == tok
    assert await store.delete_token("th") is True
    assert await store.token_by_hash("th") is None
    assert await store.delete_token("th") is False
    short = tok.model_copy(update={"token_hash": "th2", "expires_at": time.time() + 0.05})
    await store.put_token(short)
    await asyncio.sleep(0.15)
    assert await store.token_by_hash("th2") is None  # forgotten once expired


async def test_create_session_returns_existing(store: Store) -> None:
    first, created = await store.create_session(sess("s1"))
    assert created and first == sess("s1")
    again, created = await store.create_session(sess("s2"))
    assert not created and again == first
    assert await store.get_session("t1", "s2") is None
    other, created = await store.create_session(sess("s3", subject="u2"))
    assert created and other.session_id == "s3"


async def test_create_session_concurrent_single_winner(
    store: Store, store_peers: StorePeers
) -> None:
    clients = await store_peers(5)
    results = await asyncio.gather(
        *(clients[i % 5].create_session(sess(f"s{i}")) for i in range(50))
    )
    assert sum(created for _, created in results) == 1
    assert {rec.session_id for rec, _ in results} == {results[0][0].session_id}
    stored = [await store.get_session("t1", f"s{i}") for i in range(50)]
    assert sum(r is not None for r in stored) == 1


async def test_close_then_create_again(store: Store) -> None:
    await store.create_session(sess("s1"))
    closed = await store.close_session("t1", "s1", at=200.0)
    assert closed is not None and closed.status == "closed" and closed.closed_at == 200.0
    assert await store.get_session("t1", "s1") == closed
    assert await store.close_session("t1", "s1", at=300.0) == closed  # idempotent
    assert await store.close_session("t1", "missing", at=1.0) is None
    rec, created = await store.create_session(sess("s2"))
    assert created and rec.session_id == "s2"


async def test_sessions_isolated_by_tenant(store: Store) -> None:
    await store.create_session(sess("s1", tenant="t1"))
    assert await store.get_session("t2", "s1") is None
    assert await store.close_session("t2", "s1", at=1.0) is None
    rec, created = await store.create_session(sess("s9", tenant="t2"))
    assert created and rec.tenant_id == "t2"
    assert (await store.get_session("t1", "s1")) is not None


async def test_ids_with_separators_do_not_collide(store: Store) -> None:
    _, created_a = await store.create_session(sess("x", tenant="t", agent="a:b", subject="c"))
    _, created_b = await store.create_session(sess("y", tenant="t", agent="a", subject="b:c"))
    assert created_a and created_b
    await store.save_turn(TurnWrite("t:1", "s", {}, [{"m": 1}]))
    await store.save_turn(TurnWrite("t", "1:s", {}, [{"m": 2}]))
    assert await store.list_messages("t:1", "s") == [{"m": 1}]
    await store.save_proposals([prop("p|1", tenant="t|x")], [])
    assert [p.proposal_id for p in await store.open_proposals()] == ["p|1"]


# -- listing sessions (newest first, filtered, paged) ----------------------------


def at(sid: str, created: float, **kw: str) -> SessionRecord:
    return sess(sid, subject=kw.pop("subject", sid), **kw).model_copy(
        update={"created_at": created}
    )


async def all_pages(store: Store, limit: int, **filters: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        found, cursor = await store.list_sessions("t1", limit=limit, cursor=cursor, **filters)
        pages.append([r.session_id for r in found])
        if cursor is None:
            return pages


async def test_list_sessions_newest_first_in_pages(store: Store) -> None:
    for i, created in enumerate([5.0, 1.0, 3.0, 4.0, 2.0]):
        await store.create_session(at(f"s{i}", created))
    found, cursor = await store.list_sessions("t1", limit=2)
    assert [r.session_id for r in found] == ["s0", "s3"]
    assert found[0] == at("s0", 5.0)  # whole records
    assert isinstance(cursor, str)
    assert await all_pages(store, 2) == [["s0", "s3"], ["s2", "s4"], ["s1"]]
    assert await all_pages(store, 5) == [["s0", "s3", "s2", "s4", "s1"]]  # no empty last page
    assert await all_pages(store, 100) == [["s0", "s3", "s2", "s4", "s1"]]
    assert await store.list_sessions("t2") == ([], None)


async def test_list_sessions_ties_break_by_id_across_pages(store: Store) -> None:
    for sid in ["b", "d", "a", "c"]:
        await store.create_session(at(sid, 7.0))
    await store.create_session(at("z", 6.0))
    assert await all_pages(store, 1) == [["d"], ["c"], ["b"], ["a"], ["z"]]
    assert await all_pages(store, 3) == [["d", "c", "b"], ["a", "z"]]


async def test_list_sessions_cursor_is_stable_under_new_sessions(store: Store) -> None:
    for i in range(4):
        await store.create_session(at(f"s{i}", float(i)))
    first, cursor = await store.list_sessions("t1", limit=2)
    await store.create_session(at("newer", 10.0))
    rest, end = await store.list_sessions("t1", limit=2, cursor=cursor)
    assert [r.session_id for r in first + rest] == ["s3", "s2", "s1", "s0"]
    assert end is None


async def test_list_sessions_filters_and_closing(store: Store) -> None:
    await store.create_session(at("c1", 1.0, agent="chatbot", subject="ann"))
    await store.create_session(at("o1", 2.0, agent="onboarding", subject="ann"))
    await store.create_session(at("c2", 3.0, agent="chatbot", subject="bob"))
    await store.create_session(sess("other", tenant="t2", agent="chatbot", subject="ann"))
    assert await all_pages(store, 10, agent="chatbot") == [["c2", "c1"]]
    assert await all_pages(store, 10, subject="ann") == [["o1", "c1"]]
    assert await all_pages(store, 10, agent="chatbot", subject="ann") == [["c1"]]
    assert await all_pages(store, 10, agent="admin") == [[]]

    await store.close_session("t1", "c1", at=9.0)
    assert await all_pages(store, 10, status="active") == [["c2", "o1"]]
    assert await all_pages(store, 1, status="closed") == [["c1"]]
    [closed], _ = await store.list_sessions("t1", status="closed")
    assert closed.status == "closed" and closed.closed_at == 9.0
    await store.create_session(at("c3", 4.0, agent="chatbot", subject="ann"))  # slot free again
    assert await all_pages(store, 10, subject="ann", agent="chatbot") == [["c3", "c1"]]


async def test_list_sessions_lists_only_stored_sessions(
    store: Store, store_peers: StorePeers
) -> None:
    """The losers of a concurrent create are in no index (record and index: one write)."""
    clients = await store_peers(5)
    await asyncio.gather(
        *(clients[i % 5].create_session(at(f"s{i}", float(i), subject="u1")) for i in range(30))
    )
    found, cursor = await store.list_sessions("t1", limit=100)
    assert len(found) == 1 and cursor is None
    assert await store.get_session("t1", found[0].session_id) == found[0]


async def test_list_sessions_finds_rare_matches_deep_in_the_index(store: Store) -> None:
    await store.create_session(at("rare-old", 0.5, agent="admin"))
    for i in range(450):
        await store.create_session(at(f"s{i:03}", 1.0 + i))
    await store.create_session(at("rare-new", 1000.0, agent="admin"))
    assert await all_pages(store, 1, agent="admin") == [["rare-new"], ["rare-old"]]
    pages = await all_pages(store, 100)
    assert [len(p) for p in pages] == [100, 100, 100, 100, 52]
    assert len({sid for p in pages for sid in p}) == 452


@pytest.mark.parametrize("cursor", ["", "!!", "bm90IGpzb24", "e30", "WyJ4IiwgInkiXQ"])
async def test_list_sessions_refuses_bad_cursors(store: Store, cursor: str) -> None:
    await store.create_session(at("s1", 1.0))
    with pytest.raises(BadRequest, match="cursor"):
        await store.list_sessions("t1", cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_list_sessions_refuses_bad_limits(store: Store, limit: int) -> None:
    with pytest.raises(BadRequest, match="limit"):
        await store.list_sessions("t1", limit=limit)


# -- history and audit --------------------------------------------------------


async def test_save_turn_and_load_session(store: Store) -> None:
    assert await store.load_session("t1", "s1", last=5) == (None, [])
    for turn in range(4):
        msgs = [{"role": "user", "n": 2 * turn}, {"role": "assistant", "n": 2 * turn + 1}]
        await store.save_turn(TurnWrite("t1", "s1", {"turn": turn, "x": [1.5, None]}, msgs))
    state, last3 = await store.load_session("t1", "s1", last=3)
    assert state == {"turn": 3, "x": [1.5, None]}
    assert [m["n"] for m in last3] == [5, 6, 7]
    assert len((await store.load_session("t1", "s1", last=100))[1]) == 8
    assert (await store.load_session("t1", "s1", last=0))[1] == []
    assert await store.load_session("t2", "s1", last=3) == (None, [])


async def test_list_messages_order(store: Store) -> None:
    await store.save_turn(TurnWrite("t1", "s1", {}, [{"n": 0}, {"n": 1}]))
    await store.save_turn(TurnWrite("t1", "s1", {"empty": True}, []))
    await store.save_turn(TurnWrite("t1", "s1", {}, [{"n": 2, "text": "héllo ✓"}]))
    assert await store.list_messages("t1", "s1") == [
        {"n": 0},
        {"n": 1},
        {"n": 2, "text": "héllo ✓"},
    ]
    assert await store.list_messages("t1", "other") == []


async def test_audit_append_and_filter(store: Store) -> None:
    await store.append_audit("t1", [{"e": 1, "session_id": "s1"}, {"e": 2}])
    await store.save_turn(TurnWrite("t1", "s2", {}, [], [{"e": 3, "session_id": "s2"}]))
    await store.save_proposals([], [{"e": 4, "tenant_id": "t1", "session_id": "s1"}])
    await store.append_audit("t2", [{"e": 5, "session_id": "s1"}])
    await store.append_audit("t1", [])
    assert [e["e"] for e in await store.list_audit("t1")] == [1, 2, 3, 4]
    assert [e["e"] for e in await store.list_audit("t1", "s1")] == [1, 4]
    assert [e["e"] for e in await store.list_audit("t1", "s2")] == [3]
    assert [e["e"] for e in await store.list_audit("t2")] == [5]
    assert await store.list_audit("t3") == []


# -- proposals and ledger -----------------------------------------------------


async def test_proposals_save_get_list(store: Store) -> None:
    full = prop("p1", depends_on=("p0",), expires_at=9.5, preview="add nails", updated_at=2.0)
    await store.save_proposals(
        [
            full,
            prop("p2", created=3.0, status=CONFIRMED),
            prop("p3", created=2.0, session="s2"),
            prop("p4", created=3.0),
            prop("q1", tenant="t2", created=5.0),
        ],
        [],
    )
    assert await store.get_proposal("t1", "p1") == full
    assert await store.get_proposal("t2", "p1") is None
    assert [p.proposal_id for p in await store.list_proposals("t1")] == ["p4", "p2", "p3", "p1"]
    assert [p.proposal_id for p in await store.list_proposals("t1", "s1")] == ["p4", "p2", "p1"]
    assert [p.proposal_id for p in await store.list_proposals("t1", status=CONFIRMED)] == ["p2"]
    assert [p.proposal_id for p in await store.list_proposals("t1", "s2", PENDING)] == ["p3"]
    assert await store.list_proposals("t1", "s2", CONFIRMED) == []
    assert [p.proposal_id for p in await store.list_proposals("t2")] == ["q1"]
    done = full.transition(ProposalStatus.REJECTED, at=4.0)
    await store.save_proposals([done], [])
    assert await store.get_proposal("t1", "p1") == done
    rejected = await store.list_proposals("t1", status=ProposalStatus.REJECTED)
    assert [p.proposal_id for p in rejected] == ["p1"]


async def test_open_proposals(store: Store) -> None:
    p1, p2 = prop("p1"), prop("p2", tenant="t2", created=2.0)
    await store.save_proposals([p1, p2, prop("p3", status=ProposalStatus.EXPIRED)], [])
    assert {(p.tenant_id, p.proposal_id) for p in await store.open_proposals()} == {
        ("t1", "p1"),
        ("t2", "p2"),
    }
    c1 = p1.transition(CONFIRMED, at=3.0)
    await store.save_proposals([c1], [])
    assert c1 in await store.open_proposals()
    await store.save_proposals(
        [
            c1.transition(ProposalStatus.EXECUTED, at=4.0, result={"ok": True}),
            p2.transition(ProposalStatus.FAILED, at=4.0, error="boom"),
        ],
        [],
    )
    assert await store.open_proposals() == []


async def test_ledger_claim_and_journal(store: Store) -> None:
    assert await store.ledger_claim("t1", "p1", at=1.0) is None
    first = await store.ledger_claim("t1", "p1", at=2.0)
    assert first is not None and (first.state, first.at) == (LedgerState.DISPATCHING, 1.0)
    assert await store.ledger_claim("t2", "p1", at=2.0) is None  # per tenant
    done = LedgerEntry(state=LedgerState.DONE, at=3.0, result={"refund": "r-1"})
    await store.ledger_put("t1", "p1", done)
    assert await store.ledger_claim("t1", "p1", at=4.0) == done  # the result is journaled


async def test_a_final_status_and_its_ledger_entry_are_one_write(store: Store) -> None:
    p = Proposal(
        proposal_id="p9",
        tenant_id="t1",
        session_id="s1",
        agent="a",
        tool="refund",
        tier=Tier.T3,
        created_at=1.0,
    ).transition(CONFIRMED, at=2.0)
    await store.ledger_claim("t1", "p9", at=2.0)
    done = p.transition(ProposalStatus.EXECUTED, at=3.0, result={"ok": True})
    entry = LedgerEntry(state=LedgerState.DONE, at=3.0, result={"ok": True})
    await store.save_proposals([done], [], {"p9": entry})
    assert await store.ledger_claim("t1", "p9", at=4.0) == entry
    assert (await store.get_proposal("t1", "p9")) == done


async def test_ledger_claim_concurrent(store: Store, store_peers: StorePeers) -> None:
    clients = await store_peers(4)
    got = await asyncio.gather(*(clients[i % 4].ledger_claim("t1", "p", 1.0) for i in range(20)))
    assert got.count(None) == 1
    assert {g if g is None else g.state for g in got} == {None, LedgerState.DISPATCHING}


# -- business document --------------------------------------------------------


async def test_business_write_once_per_key(store: Store) -> None:
    assert (await business(store, "t1"))["appointments"] == []
    assert not await business_applied(store, "t1", "k1")
    first = await business_write(store, "t1", "k1", "book_appointment", booking("10:00"))
    again = await business_write(store, "t1", "k1", "book_appointment", booking("11:00"))
    assert first == again and first["id"] == "appt-1" and first["time"] == "10:00"
    assert await business_applied(store, "t1", "k1")
    assert not await business_applied(store, "t2", "k1")
    assert len((await business(store, "t1"))["appointments"]) == 1
    assert (await business(store, "t2"))["appointments"] == []


async def test_business_write_concurrent_same_key(store: Store, store_peers: StorePeers) -> None:
    clients = await store_peers(5)
    results = await asyncio.gather(
        *(
            business_write(clients[i % 5], "t1", "same", "book_appointment", booking("09:00"))
            for i in range(20)
        )
    )
    assert all(r == results[0] for r in results)
    assert len((await business(store, "t1"))["appointments"]) == 1
    assert (await business_version(store, "t1")) == 1


async def test_business_write_different_keys(store: Store, store_peers: StorePeers) -> None:
    clients = await store_peers(4)
    times = [f"{h:02d}:00" for h in range(9, 17)]
    results = await asyncio.gather(
        *(
            business_write(clients[i % 4], "t1", f"k{i}", "book_appointment", booking(t))
            for i, t in enumerate(times)
        )
    )
    doc = await business(store, "t1")
    assert sorted(a["time"] for a in doc["appointments"]) == times
    assert sorted(r["id"] for r in results) == sorted(a["id"] for a in doc["appointments"])
    assert (await business_version(store, "t1")) == len(times)


async def test_business_write_bad_args_store_nothing(store: Store) -> None:
    await business_write(store, "t1", "k1", "book_appointment", booking("10:00"))
    with pytest.raises(ToolValidationError):
        await business_write(store, "t1", "k2", "book_appointment", booking("10:00"))  # taken
    with pytest.raises(ToolValidationError):
        await business_write(store, "t1", "k3", "drop_tables", {})
    with pytest.raises(ToolValidationError):
        await business_write(
            store, "t1", "k4", "create_service", {"name": "Haircut", "price": 1, "duration_min": 5}
        )
    assert not any([await business_applied(store, "t1", k) for k in ("k2", "k3", "k4")])
    assert len((await business(store, "t1"))["appointments"]) == 1
    assert (await business_version(store, "t1")) == 1


def add(n: int) -> Any:
    return lambda doc: ((doc or 0) + n, (doc or 0) + n)  # (new document, result)


async def test_tenant_data_versions_and_the_port(store: Store) -> None:
    assert [(await store.data_read(t, "counter")) for t in ("t1", "t2")] == [(0, None)] * 2
    port = StoreData(store, "t2")
    assert await port.update("counter", "a", add(5)) == 5
    assert await port.update("counter", "b", add(2)) == 7
    assert await port.update("counter", "b", add(100)) == 7  # a repeat of "b": no effect
    assert await port.read("counter") == (2, 7)
    assert await port.applied("counter", "b") and not await port.applied("counter", "c")
    assert await store.data_read("t1", "counter") == (0, None)  # per tenant
    assert await store.data_read("t2", "other") == (0, None)  # per document


async def test_a_turn_reads_a_document_once(store: Store) -> None:
    await store.data_update("t1", "doc", "k1", lambda doc: ({"n": 1}, None))
    turn = TurnData(store, "t1")
    assert await turn.read("doc") == (1, {"n": 1})
    await store.data_update("t1", "doc", "k2", lambda doc: ({"n": 2}, None))  # someone else
    assert await turn.read("doc") == (1, {"n": 1})  # the turn's snapshot
    await turn.update("doc", "k3", lambda doc: ({"n": 3}, None))
    assert await turn.read("doc") == (3, {"n": 3})  # its own change shows


# -- redis only ---------------------------------------------------------------


@pytest.mark.store
async def test_persistence_across_restart(tmp_path: Path) -> None:
    data = tmp_path / "valkey"
    server = EmbeddedValkey(data)
    url = await asyncio.to_thread(server.start)
    try:
        s = await connect_store(url)
        try:
            await s.create_session(sess("s1"))
            await s.save_turn(TurnWrite("t1", "s1", {"k": "v"}, [{"n": 1}], [{"session_id": "s1"}]))
            await s.save_proposals([prop("p1")], [])
            await business_write(s, "t1", "k1", "book_appointment", booking("12:00"))
        finally:
            await s.close()
    finally:
        await asyncio.to_thread(server.stop)
    assert (data / "valkey.log").exists()

    again = EmbeddedValkey(data)
    url = await asyncio.to_thread(again.start)
    try:
        s = await connect_store(url)
        try:
            assert (await s.get_session("t1", "s1")) == sess("s1")
            assert await s.load_session("t1", "s1", 5) == ({"k": "v"}, [{"n": 1}])
            assert [p.proposal_id for p in await s.open_proposals()] == ["p1"]
            assert await business_applied(s, "t1", "k1")
            assert (await business_version(s, "t1")) == 1
        finally:
            await s.close()
    finally:
        await asyncio.to_thread(again.stop)


@pytest.mark.store
def test_embedded_valkey_data_dir_is_exclusive(tmp_path: Path) -> None:
    with EmbeddedValkey(tmp_path) as first:
        assert first.url.startswith("redis://")
        with pytest.raises(Unavailable, match="in use"):
            EmbeddedValkey(tmp_path).start()
    second = EmbeddedValkey(tmp_path)
    second.start()
    second.stop()
    second.stop()  # idempotent


@pytest.mark.store
async def test_connect_store_unavailable() -> None:
    with pytest.raises(Unavailable, match="does not answer") as err:
        await connect_store("redis://:secret@127.0.0.1:1/0", wait=1.0)
    assert "secret" not in str(err.value)


@pytest.mark.store
async def test_redis_store_ping(store_redis_url: str) -> None:
    s: RedisStore = await connect_store(store_redis_url, prefix="orc-ping")
    assert await s.ping()
    await s.close()


def _connected() -> set[int]:
    gc.collect()
    return {id(c) for c in gc.get_objects() if isinstance(c, AbstractConnection) and c.is_connected}


@pytest.mark.store
async def test_close_disconnects_every_connection(store_redis_url: str) -> None:
    before = _connected()
    s = await connect_store(store_redis_url, prefix="orc-close")
    await asyncio.gather(*(business_write(s, "t", f"k{i}", "publish_site", {}) for i in range(8)))
    assert len(_connected() - before) > 1  # the burst used several pooled connections
    await s.close()
    assert _connected() - before == set()


async def test_due_proposals_are_pending_ones_past_their_window(store: Store) -> None:
    soon = prop("soon", expires_at=10.0)
    later = prop("later", tenant="t2", expires_at=20.0)
    never = prop("never")  # a T3-like proposal without a window
    await store.save_proposals([soon, later, never], [])
    assert await store.due_proposals(5.0) == []
    assert [p.proposal_id for p in await store.due_proposals(10.0)] == ["soon"]
    assert {p.proposal_id for p in await store.due_proposals(25.0)} == {"soon", "later"}
    await store.save_proposals([soon.transition(CONFIRMED, at=11.0)], [])
    assert [p.proposal_id for p in await store.due_proposals(25.0)] == ["later"]


async def test_confirmed_proposals_are_the_sweepers_stuck_confirms_of_every_tenant(
    store: Store,
) -> None:
    saved = prop("saved", status=CONFIRMED, updated_at=3.0)  # saved CONFIRMED outright
    moved = prop("moved", tenant="t|2").transition(CONFIRMED, at=5.0)  # PENDING, then confirmed
    fresh = prop("fresh", tenant="t2").transition(CONFIRMED, at=50.0)  # just confirmed
    await store.save_proposals([saved, prop("pending"), prop("moved", tenant="t|2")], [])
    await store.save_proposals([moved, fresh], [])

    def ids(found: list[Proposal]) -> set[tuple[str, str]]:
        return {(p.tenant_id, p.proposal_id) for p in found}

    assert await store.confirmed_proposals(2.0) == []  # none last changed that early
    assert ids(await store.confirmed_proposals(5.0)) == {("t1", "saved"), ("t|2", "moved")}
    assert saved in await store.confirmed_proposals(60.0)
    assert len(await store.confirmed_proposals(60.0)) == 3
    await store.save_proposals(
        [
            saved.transition(ProposalStatus.EXECUTED, at=6.0, result={"ok": True}),
            moved.transition(ProposalStatus.FAILED, at=6.0, error="boom"),
        ],
        [],
    )
    assert ids(await store.confirmed_proposals(60.0)) == {("t2", "fresh")}  # moved on: gone
    await store.save_proposals([fresh.transition(ProposalStatus.EXECUTED, at=51.0)], [])
    assert await store.confirmed_proposals(100.0) == []
    if isinstance(store, RedisStore):  # the index lets go too: every sweep reads it
        assert await store._r.zcard(f"{store._prefix}:confirmed") == 0


async def test_a_data_read_is_the_version_and_the_document_together(store: Store) -> None:
    assert await store.data_read("t1", "business") == (0, None)  # no document yet
    await business_write(store, "t1", "k1", "publish_site", {})
    version, doc = await store.data_read("t1", "business")
    assert version == 1 and doc["published"] is True


async def test_turn_records_are_saved_with_the_turn_and_bounded(store: Store) -> None:
    """The inspector's records ride in the turn's atomic save; the newest KEEP_TURNS stay,
    per session and tenant; a turn saved without one (a repeat) adds none."""
    for n in range(1, KEEP_TURNS + 3):
        await store.save_turn(
            TurnWrite("t1", "s1", {"turns": n}, [{"n": n}], [], turn={"n": n, "steps": []})
        )
    await store.save_turn(TurnWrite("t1", "s1", {}, [], []))
    kept = await store.list_turns("t1", "s1")
    assert [t["n"] for t in kept] == list(range(3, KEEP_TURNS + 3))
    assert await store.list_turns("t2", "s1") == []
    assert await store.list_turns("t1", "s2") == []
    # fencing: a host that lost the session writes no record either
    await store.claim_session("t1", "s3", "h1|a")
    with pytest.raises(NotOwner):
        await store.save_turn(TurnWrite("t1", "s3", {}, [], [], turn={"n": 1}), owner="h2|b")
    assert await store.list_turns("t1", "s3") == []


async def test_save_turn_large_and_multi_session_audit(store: Store) -> None:
    msgs = [{"n": i} for i in range(1234)]  # more items than one RPUSH chunk of the script
    audit = [{"e": 1, "session_id": "s1"}, {"e": 2}, {"e": 3, "session_id": "s9"}]
    await store.save_turn(TurnWrite("t1", "s1", {"big": True}, msgs, audit))
    assert await store.list_messages("t1", "s1") == msgs
    assert (await store.load_session("t1", "s1", 2)) == ({"big": True}, msgs[-2:])
    assert [e["e"] for e in await store.list_audit("t1")] == [1, 2, 3]
    assert [e["e"] for e in await store.list_audit("t1", "s1")] == [1]
    assert [e["e"] for e in await store.list_audit("t1", "s9")] == [3]


async def test_concurrent_turns_keep_each_session_intact(store: Store) -> None:
    async def session(sid: str) -> None:
        for turn in range(5):
            await store.save_turn(
                TurnWrite("t1", sid, {"turn": turn}, [{"sid": sid, "n": turn}], [])
            )
            assert (await business_version(store, "t1")) == 0

    await asyncio.gather(*(session(f"s{i}") for i in range(40)))
    for i in range(40):
        state, last = await store.load_session("t1", f"s{i}", 10)
        assert state == {"turn": 4}
        assert last == [{"sid": f"s{i}", "n": n} for n in range(5)]


@pytest.fixture
async def own_redis_store(store_redis_url: str) -> AsyncIterator[RedisStore]:
    """A RedisStore of its own (fresh prefix), for what only the Redis store has."""
    s = await connect_store(store_redis_url, prefix=f"orc-auto-{uuid.uuid4().hex[:8]}")
    yield s
    await s.close()


@pytest.mark.store
async def test_concurrent_turns_share_round_trips(own_redis_store: RedisStore) -> None:
    s = own_redis_store
    await asyncio.gather(
        *(s.save_turn(TurnWrite("t1", f"s{i}", {}, [{"n": i}], [])) for i in range(50)),
        *(s.data_read("t1", "business") for _ in range(50)),
    )
    assert s._auto.round_trips <= 3  # 100 commands queued in one iteration
    assert [await s.list_messages("t1", f"s{i}") for i in (0, 49)] == [[{"n": 0}], [{"n": 49}]]


@pytest.mark.store
async def test_one_failing_command_does_not_fail_its_neighbours(
    own_redis_store: RedisStore,
) -> None:
    s = own_redis_store
    await s._r.set(s._k("t1", "hist", "bad"), "not a list")  # RPUSH onto it fails
    results = await asyncio.gather(
        s.save_turn(TurnWrite("t1", "good", {"ok": 1}, [{"n": 1}], [])),
        s.save_turn(TurnWrite("t1", "bad", {"ok": 1}, [{"n": 1}], [])),
        s.data_read("t1", "business"),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] == (0, None)
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
    assert await s.load_session("t1", "good", 5) == ({"ok": 1}, [{"n": 1}])
    assert await s._r.get(s._k("t1", "state", "bad")) is None  # stopped before the state


@pytest.mark.store
async def test_save_turn_survives_a_script_cache_flush(own_redis_store: RedisStore) -> None:
    s = own_redis_store
    await s.save_turn(TurnWrite("t1", "s1", {}, [{"n": 1}], []))
    await s._r.script_flush()  # what a restarted server without the script looks like
    await s.save_turn(TurnWrite("t1", "s1", {}, [{"n": 2}], []))
    assert await s.list_messages("t1", "s1") == [{"n": 1}, {"n": 2}]


@pytest.mark.store
async def test_a_session_comes_to_life_in_one_round_trip(own_redis_store: RedisStore) -> None:
    """Loading a session (record, state, history) is one shared round trip, and the
    history loaded up to the longest agent bound is cut to the session's own."""
    from runtime.agents import AgentCatalog
    from runtime.backends.local import LocalBackend
    from runtime.models.scripted import ScriptedModel
    from runtime.sessions.session import settle

    s = own_redis_store
    catalog = AgentCatalog(ScriptedModel(), extra=SALON_AGENTS)
    rt = LocalBackend(s, catalog)
    info, _ = await rt.create_session("t1", "chatbot", "ann")
    sid = info["session_id"]
    for i in range(12):  # 24 messages; the chatbot keeps 10 (x2 loaded), onboarding 30
        await rt.send_message(Inbound("t1", sid, f"hello {i}"))
    assert catalog.max_history_messages() == 30
    await settle()  # the summaries made after the replies have landed and been saved
    window = len(rt.pool.cores[sid].state.history.messages)
    rt.pool.evict_idle(-1)
    before = s._auto.round_trips
    core = await rt.pool.core("t1", sid)
    assert s._auto.round_trips == before + 1
    assert 0 < len(core.state.history.messages) == window <= 20
    assert core.state.history.messages[-2].text == "hello 11"
    with pytest.raises(NotFound):
        await rt.pool.core("t1", "s_missing")


async def test_a_store_that_does_not_answer_is_unavailable_from_every_method() -> None:
    """No Redis exception leaves the store: callers (the gateway, the actors' codec)
    see `Unavailable`, a retryable 503, whatever the method."""
    from actors.store.redis import redis_client

    store = RedisStore(redis_client("redis://127.0.0.1:1", wait=0.5), "down")
    try:
        calls = [
            store.get_tenant("t1"),
            store.tenant_by_key_hash("h"),
            store.load_session("t1", "s1", 10),
            store.list_proposals("t1"),
            store.data_read("t1", "business"),
            store.append_audit("t1", [{"type": "message"}]),
        ]
        for call in calls:
            with pytest.raises(Unavailable):
                await call
        assert await store.ping() is False
    finally:
        await store.close()

"""depends_on under races: a dependent never stays CONFIRMED behind a settled dependency.

`InFlightStore` lets another writer act while one reader's reply is "in
flight" (the value was read, the caller has not seen it yet) — what a network
store allows and MemoryStore alone never shows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from runtime.proposals.model import Proposal, ProposalStatus
from runtime.store.memory import MemoryStore

from .conftest import TENANT, Harness, MakeHarness

S = ProposalStatus


class InFlightStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.hook: tuple[str, Callable[[], Awaitable[Any]]] | None = None
        self.side: asyncio.Task[Any] | None = None

    async def get_proposal(self, tenant_id: str, proposal_id: str) -> Proposal | None:
        value = await super().get_proposal(tenant_id, proposal_id)
        if self.hook is not None and self.hook[0] == proposal_id:
            _, action = self.hook
            self.hook = None
            self.side = asyncio.ensure_future(action())
            for _ in range(30):  # let the other writer run as far as it can
                await asyncio.sleep(0)
        return value


def create(name: str) -> str:
    return "create_record " + json.dumps({"name": name, "price": 1})


async def three_writes(h: Harness) -> list[str]:
    sid = await h.session()
    r = await h.send(sid, "!tools " + "; ".join(create(n) for n in "abc"))
    return [p["proposal_id"] for p in r["proposals"]]


async def test_dependency_dies_while_dependent_reads_it(make_harness: MakeHarness) -> None:
    store = InFlightStore()
    h = make_harness(store=store)
    p1, p2, p3 = await three_writes(h)
    # confirm(p3) reads p1 and p2 (alive); while the p2 reply is in flight p1 is
    # rejected, which fails p2 and must fail p3 too, not skip it as "busy".
    store.hook = (p2, lambda: h.rt.reject(TENANT, p1))
    await h.rt.confirm(TENANT, p3)
    assert store.side is not None
    await store.side
    assert [(await h.proposal(p)).status for p in (p1, p2, p3)] == [S.REJECTED, S.FAILED, S.FAILED]
    assert await h.store.open_proposals() == []


async def test_dependency_executes_while_dependent_reads_it(make_harness: MakeHarness) -> None:
    store = InFlightStore()
    h = make_harness(store=store)
    p1, p2, _ = await three_writes(h)
    # confirm(p2) reads p1 as PENDING; p1 is confirmed and executed meanwhile.
    # p2 must still run once p1 is EXECUTED.
    store.hook = (p1, lambda: h.rt.confirm(TENANT, p1))
    first = await h.rt.confirm(TENANT, p2)
    assert store.side is not None
    await store.side
    assert first["status"] in ("CONFIRMED", "EXECUTED")
    assert (await h.proposal(p1)).status is S.EXECUTED
    assert (await h.proposal(p2)).status is S.EXECUTED
    assert {"a", "b"} <= set((await h.records())["items"])


async def test_recovered_dependent_of_a_dead_dependency_fails(h: Harness) -> None:
    p1, p2, p3 = await three_writes(h)
    # a crash between rejecting p1 and failing its dependents
    first = await h.proposal(p1)
    second = await h.proposal(p2)
    await h.store.save_proposals(
        [
            first.transition(S.REJECTED, at=h.clock()),
            second.transition(S.CONFIRMED, at=h.clock()),
        ],
        [],
    )
    [failed] = await h.rt.book.recover()
    assert failed.proposal_id == p2 and failed.status is S.FAILED
    assert failed.error == "a dependency did not execute"
    assert (await h.proposal(p3)).status is S.FAILED  # the cascade goes on
    assert "b" not in (await h.records())["items"]

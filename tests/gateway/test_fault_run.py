"""A fault run over HTTP: a session host and the proposal registry are killed while
clients send messages and confirm bookings. Clients do what API.md tells them:
retry a 503 after Retry-After with the same `message_id`; a 409 on a confirm
means an earlier attempt got through.

Checked afterwards: no response was a 500, no connection dropped, every
acknowledged message is stored once (in order), and every proposal a client
confirmed, or a later message soft-confirmed, ended EXECUTED or FAILED exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import ray

from actors import kill_actors
from actors.common import host_name, registry_name
from tests.conftest import LAB_AGENT, Stack, make_stack
from tests.gateway.conftest import MAIN_SETTINGS, LiveServer, ray_factory

pytestmark = [pytest.mark.ray, pytest.mark.store]

CLIENTS = 12
RUN_S = 12.0
CONFIG = {"agents": {"lab": {"executor_timeout_ms": 10_000, "soft_confirm_window_ms": 60_000}}}


@pytest.fixture(scope="module")
def faulty(ray_session: None, store_redis_url: str) -> Iterator[tuple[LiveServer, Stack]]:
    stack = make_stack(store_redis_url, "hosted", config_data=CONFIG, extra_agents=LAB_AGENT)
    live = LiveServer(MAIN_SETTINGS, factory=ray_factory(stack)).start()
    yield live, stack
    live.stop()
    kill_actors(stack.settings.namespace)


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0
    acknowledged: dict[str, list[str]] = field(default_factory=dict)  # session -> texts
    confirmed: set[str] = field(default_factory=set)
    held: list[str] = field(default_factory=list)  # T3s kept back to confirm during a kill


async def call(
    api: httpx.AsyncClient, tally: Tally, method: str, url: str, body: object = None
) -> httpx.Response:
    """One request, retried on 503 (after Retry-After) until it is answered otherwise."""
    while True:
        try:
            r = await api.request(method, url, json=body)
        except httpx.TransportError:
            tally.dropped += 1
            await asyncio.sleep(0.2)
            continue
        tally.statuses[r.status_code] += 1
        if r.status_code != 503:
            return r
        await asyncio.sleep(min(1.0, float(r.headers.get("retry-after", "1"))) / 2)


async def client(api: httpx.AsyncClient, tally: Tally, n: int, until: float) -> None:
    lab = await call(api, tally, "POST", "/v1/sessions", {"agent": "lab", "subject": f"f{n}"})
    chat = await call(api, tally, "POST", "/v1/sessions", {"agent": "chatbot", "subject": f"c{n}"})
    lab_id, chat_id = lab.json()["session_id"], chat.json()["session_id"]
    k = 0
    while time.monotonic() < until:
        k += 1
        if k % 3 == 0:  # a booking, confirmed over the API
            day = f"2{random.randint(100, 999)}-0{random.randint(1, 9)}-1{random.randint(0, 9)}"
            text, sid = f"book a haircut on {day} at {9 + k % 8}", chat_id
        elif k % 3 == 1:  # a T2 write, soft-confirmed by this client's next lab message
            text, sid = f'!tools create_service {{"name": "s{n}-{k}", "price": 1}}', lab_id
        else:
            text, sid = f'!tools slow {{"seconds": 0.2}}; echo {{"n": "{n}-{k}"}}', lab_id
        body = {"text": text, "message_id": f"{sid}-{k}"}
        r = await call(api, tally, "POST", f"/v1/sessions/{sid}/messages", body)
        assert r.status_code == 200, r.text
        tally.acknowledged.setdefault(sid, []).append(text)
        for p in r.json()["proposals"]:
            if p["tier"] == "T3" and p["status"] == "PENDING":
                if n % 2:
                    tally.held.append(p["proposal_id"])
                else:
                    await confirm(api, tally, p["proposal_id"])


async def confirm(api: httpx.AsyncClient, tally: Tally, pid: str) -> None:
    c = await call(api, tally, "POST", f"/v1/proposals/{pid}/confirm")
    assert c.status_code in (200, 409), c.text
    tally.confirmed.add(pid)


async def run(live: LiveServer, stack: Stack) -> Tally:
    tally = Tally()
    ns = stack.settings.namespace
    limits = httpx.Limits(max_connections=CLIENTS * 2)
    headers = {"Authorization": f"Bearer {live.keys['A']}"}
    async with httpx.AsyncClient(
        base_url=live.base_url, headers=headers, timeout=60, limits=limits
    ) as api:
        until = time.monotonic() + RUN_S
        load = asyncio.gather(*(client(api, tally, n, until) for n in range(CLIENTS)))
        await asyncio.sleep(3.0)
        host = ray.get_actor(host_name(0), namespace=ns)
        os.kill((await host.stats.remote())["pid"], signal.SIGKILL)  # a host dies mid-turn
        await asyncio.sleep(3.0)
        ray.kill(ray.get_actor(registry_name(0), namespace=ns), no_restart=False)
        held, tally.held = tally.held, []
        await asyncio.gather(*(confirm(api, tally, pid) for pid in held))  # during the restart
        await load
        await asyncio.gather(*(confirm(api, tally, pid) for pid in tally.held))
    return tally


def test_host_and_registry_killed_under_http_load(faulty: tuple[LiveServer, Stack]) -> None:
    live, stack = faulty
    tally = asyncio.run(run(live, stack))
    assert tally.statuses[500] == 0 and tally.dropped == 0, tally
    with live.client("A") as api:
        for sid, texts in tally.acknowledged.items():
            history = api.get(f"/v1/sessions/{sid}/messages").json()["messages"]
            users = [m["content"] for m in history if m["role"] == "user"]
            assert users == texts  # every acknowledged message stored once, in order
        # Confirmed at some point: by a client over the API, or soft-confirmed by the
        # client's next message (the audit's CONFIRMED events; the turns are all done).
        confirmed = tally.confirmed | {
            e["proposal_id"]
            for e in api.get("/v1/audit").json()["events"]
            if e.get("to") == "CONFIRMED"
        }
        soft = confirmed - tally.confirmed
        deadline = time.monotonic() + 30  # the sweeper finishes what the kill interrupted
        pending = set(confirmed)
        while pending and time.monotonic() < deadline:
            for pid in list(pending):
                if api.get(f"/v1/proposals/{pid}").json()["status"] in ("EXECUTED", "FAILED"):
                    pending.discard(pid)
            time.sleep(0.5)
        assert not pending, pending
        events = api.get("/v1/audit").json()["events"]
        ends = Counter(e["proposal_id"] for e in events if e.get("to") in ("EXECUTED", "FAILED"))
        assert tally.confirmed and all(ends[p] == 1 for p in tally.confirmed), ends
        assert soft and all(ends[p] == 1 for p in soft), ends  # the soft-confirmed T2s too
        executed = Counter(e["proposal_id"] for e in events if e.get("to") == "EXECUTED")
        assert all(n == 1 for n in executed.values())

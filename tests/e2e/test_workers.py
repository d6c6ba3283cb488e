"""`orchestra serve --workers 2`: two gateway processes on one cluster and one store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from runtime.testing import Served
from runtime.testing import served as orchestra_serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with orchestra_serve(
        "--hosts", "1", "--workers", "2", home=tmp_path_factory.mktemp("home2")
    ) as s:
        yield s


def _worker_pids(served: Served) -> set[int]:
    """Gateway worker processes: uvicorn children running the app factory."""
    pids = set()
    for child in psutil.Process(served.proc.pid).children(recursive=True):
        try:
            if "multiprocessing" in " ".join(child.cmdline()) and child.name().startswith("python"):
                pids.add(child.pid)
        except psutil.Error:
            continue
    return pids


async def test_two_workers_keep_one_session_serialized_and_confirm_once(served2: Served) -> None:
    assert len(_worker_pids(served2)) >= 2
    headers = {"Authorization": f"Bearer {served2.key}"}
    # Separate connections spread over both worker processes (the kernel balances accepts).
    clients = [
        httpx.AsyncClient(
            base_url=served2.url,
            headers=headers,
            timeout=60,
            limits=httpx.Limits(max_connections=1),
        )
        for _ in range(10)
    ]
    try:
        sid = (
            await clients[0].post("/v1/sessions", json={"agent": "chatbot", "subject": "w"})
        ).json()["session_id"]
        texts = [f"what services do you have? #{i}" for i in range(30)]
        replies = await asyncio.gather(
            *(
                clients[i % 10].post(f"/v1/sessions/{sid}/messages", json={"text": t})
                for i, t in enumerate(texts)
            )
        )
        assert [r.status_code for r in replies] == [200] * 30
        msgs = (await clients[0].get(f"/v1/sessions/{sid}/messages")).json()["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant"] * 30  # one turn at a time
        assert sorted(m["content"] for m in msgs if m["role"] == "user") == sorted(texts)
        r = await clients[0].post(
            f"/v1/sessions/{sid}/messages", json={"text": "book a manicure tomorrow at 13"}
        )
        pid = r.json()["proposals"][0]["proposal_id"]
        confirms = await asyncio.gather(
            *(c.post(f"/v1/proposals/{pid}/confirm") for c in clients * 2)
        )
        codes = sorted(c.status_code for c in confirms)
        assert codes == [200] + [409] * 19
        audit = (await clients[0].get("/v1/audit", params={"session_id": sid})).json()["events"]
        assert [e.get("to") for e in audit if e.get("proposal_id") == pid].count("EXECUTED") == 1
    finally:
        for c in clients:
            await c.aclose()


def _chat(served: Served, lines: str) -> str:
    """Run `orchestra chat` with `lines` on its stdin; its output."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "chat",
            "--url",
            served.url,
            "--key",
            served.key,
            "--agent",
            "chatbot",
            "--subject",
            "terminal",
        ],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def test_terminal_chat_client(served2: Served) -> None:
    out = _chat(served2, "book a haircut tomorrow at 16\n/proposals\n/quit\n")
    assert "How can I help you today?" in out
    assert "[T3 PENDING] book_appointment(service=haircut" in out
    pid = out.split("id=")[1].split()[0]
    confirm = _chat(served2, f"/confirm {pid}\n/confirm {pid}\n")
    assert f"proposal {pid}: EXECUTED" in confirm
    assert "! the proposal is EXECUTED" in confirm


async def test_a_revoked_key_is_refused_by_both_workers_within_two_seconds(
    served2: Served,
) -> None:
    """Ten keep-alive connections spread over both gateway processes; each has used the
    staff key (so each process caches it) when the owner revokes it through one of
    them: within 2 s every connection gets 401."""
    async with httpx.AsyncClient(
        base_url=served2.url, headers={"Authorization": f"Bearer {served2.key}"}, timeout=30
    ) as owner:
        made = (await owner.post("/v1/keys", json={"name": "temp", "role": "staff"})).json()
        clients = [
            httpx.AsyncClient(
                base_url=served2.url,
                headers={"Authorization": f"Bearer {made['key']}"},
                timeout=30,
                limits=httpx.Limits(max_connections=1),
            )
            for _ in range(10)
        ]
        try:
            warm = await asyncio.gather(*(c.get("/v1/sessions") for c in clients * 3))
            assert {r.status_code for r in warm} == {200}
            assert (await owner.delete(f"/v1/keys/{made['key_id']}")).status_code == 200
            revoked_at = time.monotonic()
            refused: set[int] = set()
            while len(refused) < len(clients):
                assert time.monotonic() - revoked_at < 2.0, f"{len(refused)} of 10 refuse it"
                replies = await asyncio.gather(*(c.get("/v1/sessions") for c in clients))
                # 429: this client's allowance of unknown keys is spent (refused too)
                refused |= {i for i, r in enumerate(replies) if r.status_code in (401, 429)}
                await asyncio.sleep(0.05)
            # and it stays refused everywhere
            again = await asyncio.gather(*(c.get("/v1/sessions") for c in clients))
            assert {r.status_code for r in again} <= {401, 429}
        finally:
            for c in clients:
                await c.aclose()

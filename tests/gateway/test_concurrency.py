"""Concurrent clients: one session per subject, every message once and in order."""

from __future__ import annotations

import asyncio
import json

import httpx

from .conftest import LiveServer, new_session, subject


async def test_50_concurrent_creates_yield_one_session(server: LiveServer) -> None:
    body = {"agent": "chatbot", "subject": subject()}
    async with server.async_client("A") as c:
        results = await asyncio.gather(*(c.post("/v1/sessions", json=body) for _ in range(50)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 49 + [201]
    assert len({r.json()["session_id"] for r in results}) == 1


async def test_30_concurrent_messages_to_one_session(server: LiveServer, api: httpx.Client) -> None:
    sid = new_session(api, "lab")["session_id"]
    # each message sleeps a distinct, tiny time, so every reply is unique to its message
    texts = [f'!tools slow {{"seconds": {i / 1000:.3f}}}' for i in range(1, 31)]
    async with server.async_client("A") as c:
        results = await asyncio.gather(
            *(c.post(f"/v1/sessions/{sid}/messages", json={"text": t}) for t in texts)
        )
        messages = (await c.get(f"/v1/sessions/{sid}/messages")).json()["messages"]
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    reply_of = {t: r.json()["reply"] for t, r in zip(texts, results, strict=True)}
    assert len(set(reply_of.values())) == 30
    for t, reply in reply_of.items():
        slept = float(reply.removeprefix("Slow: slept ").removesuffix("."))  # "Slow: slept 0.004."
        assert json.loads(t.split(" ", 2)[2])["seconds"] == slept

    assert len(messages) == 60
    users = [m["content"] for m in messages[::2]]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 30
    assert sorted(users) == sorted(texts)  # every message exactly once
    for user, assistant in zip(messages[::2], messages[1::2], strict=True):
        assert assistant["content"] == reply_of[user["content"]]  # each reply right after its turn
    stamps = [m["at"] for m in messages]
    assert stamps == sorted(stamps)

"""Admission control: past a host's queue a message is answered 503 with Retry-After,
and nothing the host accepted is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from actors import kill_actors
from tests.conftest import Stack, make_stack

from .conftest import MAIN_SETTINGS, LiveServer, ray_factory

pytestmark = [pytest.mark.ray, pytest.mark.store]

RUNNING, QUEUED, SENT = 2, 2, 6
SLOW_LAB = {"agents": {"lab": {"executor_timeout_ms": 10_000}}}


@pytest.fixture(scope="module")
def small_host(ray_session: None, store_redis_url: str) -> Iterator[LiveServer]:
    stack: Stack = make_stack(
        store_redis_url,
        "hosted",
        hosts=1,
        config_data=SLOW_LAB,
        host_max_running=RUNNING,
        host_max_queued=QUEUED,
    )
    live = LiveServer(MAIN_SETTINGS, ray_factory(stack)).start()
    yield live
    live.stop()
    kill_actors(stack.settings.namespace)


async def test_past_the_queue_503_with_retry_after_and_nothing_accepted_is_lost(
    small_host: LiveServer,
) -> None:
    async with small_host.async_client("A") as api:
        sids = []
        for i in range(SENT):
            r = await api.post("/v1/sessions", json={"agent": "lab", "subject": f"adm-{i}"})
            assert r.status_code == 201, r.text
            sids.append(r.json()["session_id"])
        for sid in sids:  # loaded on the host: the burst below is turns only
            assert (await api.get(f"/v1/sessions/{sid}")).status_code == 200
        texts = {sid: f'!tools slow {{"seconds": {1.5 + i / 100}}}' for i, sid in enumerate(sids)}
        replies = await asyncio.gather(
            *(api.post(f"/v1/sessions/{sid}/messages", json={"text": texts[sid]}) for sid in sids)
        )
        codes = sorted(r.status_code for r in replies)
        assert codes == [200] * (RUNNING + QUEUED) + [503] * (SENT - RUNNING - QUEUED)
        for sid, r in zip(sids, replies, strict=True):
            history = await _messages(api, sid)
            if r.status_code == 503:
                assert r.headers["retry-after"] == "1"
                assert r.json()["error"]["type"] == "overloaded"
                assert texts[sid] not in history  # refused at the door: nothing of it ran
            else:
                assert history.count(texts[sid]) == 1  # accepted: answered and saved once
        # the host is free again: a refused message sent again is answered
        refused = next(s for s, r in zip(sids, replies, strict=True) if r.status_code == 503)
        again = await api.post(f"/v1/sessions/{refused}/messages", json={"text": "!tools echo"})
        assert again.status_code == 200, again.text


async def _messages(api: httpx.AsyncClient, sid: str) -> list[str]:
    r = await api.get(f"/v1/sessions/{sid}/messages")
    assert r.status_code == 200, r.text
    return [m["content"] for m in r.json()["messages"] if m["role"] == "user"]

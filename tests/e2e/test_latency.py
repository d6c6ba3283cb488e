"""Real-model latency through a real `orchestra serve` (one session host, Ray, HTTP).

A turn's reply leaves the host the moment the turn ends, whatever shared its
batch; SSE `token` events arrive while the model is still producing them; a
client that leaves mid-stream does not cancel the turn. The serve runs the lab
agent from its config file and a ScriptedModel that takes time and streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.testing import Served
from runtime.testing import served as orchestra_serve
from tests.gateway.test_sse import SSE, parse_sse

pytestmark = pytest.mark.e2e

TTFT_S = 0.4
TOKENS_PER_S = 20.0
CONFIG = f"""
[model]
ttft_ms = {TTFT_S * 1000:g}
tokens_per_s = {TOKENS_PER_S:g}

[agents.lab]
class = "runtime.testing.agents:LabOrchestrator"
executor_timeout_ms = 20000
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("latency")
    config = home / "orchestra.toml"
    config.write_text(CONFIG)
    with orchestra_serve(
        "--hosts", "1", "--config", str(config), home=home
    ) as s:  # one host: every session
        yield s


async def sessions(api: httpx.AsyncClient, agent: str, n: int) -> list[str]:
    made = [
        await api.post("/v1/sessions", json={"agent": agent, "subject": f"u{time.time_ns()}-{i}"})
        for i in range(n)
    ]
    return [str(r.json()["session_id"]) for r in made]


SLOW_S = 6.0


def test_a_slow_turn_holds_no_other_reply(served: Served) -> None:
    """One slow turn and many fast ones, posted at the same instant to sessions on
    the one host: the gateway batches what arrives while a call is on its way, so
    the slow message travels in one Ray call with fast ones. Each fast reply must
    come back long before the slow turn ends. (When a batch's replies came back
    together, `asyncio.gather` in `SessionHost.run`, the fast messages sharing the
    slow one's batch waited the slow turn's full time.)"""

    async def run() -> tuple[list[float], list[bool], float]:
        headers = {"Authorization": f"Bearer {served.key}"}
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(
            base_url=served.url, headers=headers, timeout=60, limits=limits
        ) as api:
            sids = await sessions(api, "lab", 31)
            middle = len(sids) // 2  # not the first to arrive: it shares a batch
            slow_done = asyncio.Event()
            t0 = time.monotonic()

            async def post(i: int, sid: str) -> tuple[float, bool]:
                text = f'!tools slow {{"seconds": {SLOW_S:g}}}' if i == middle else "!tools echo"
                r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": text})
                assert r.status_code == 200, r.text
                if i == middle:
                    slow_done.set()
                return time.monotonic() - t0, slow_done.is_set()

            done = await asyncio.gather(*(post(i, sid) for i, sid in enumerate(sids)))
            slow_s = done[middle][0]
            fast = [d for i, d in enumerate(done) if i != middle]
            return [t for t, _ in fast], [after for _, after in fast], slow_s

    fast_done, after_slow, slow_done = asyncio.run(run())
    assert slow_done >= SLOW_S
    assert not any(after_slow)  # every fast reply arrived while the slow turn still ran
    assert max(fast_done) < slow_done / 2, (max(fast_done), slow_done)


def test_tokens_arrive_as_the_model_makes_them(served: Served) -> None:
    with served.client() as api:
        sid = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "streamer"}).json()[
            "session_id"
        ]
        t0 = time.monotonic()
        arrivals: list[tuple[float, str]] = []
        with api.stream(
            "POST",
            f"/v1/sessions/{sid}/messages",
            json={"text": "hello, what can you do?"},
            headers=SSE,
        ) as r:
            assert r.status_code == 200
            buffer = ""
            for chunk in r.iter_text():
                buffer += chunk
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    [(name, _)] = parse_sse(frame + "\n\n") or [("comment", None)]
                    arrivals.append((time.monotonic() - t0, name))
    tokens = [t for t, n in arrivals if n == "token"]
    done = [t for t, n in arrivals if n == "done"]
    assert len(tokens) >= 8 and len(done) == 1
    assert tokens[0] >= TTFT_S  # the model's time to first token...
    assert done[0] - tokens[0] >= (len(tokens) - 1) / TOKENS_PER_S * 0.8  # ...then streaming
    assert tokens[-1] - tokens[0] >= (len(tokens) - 1) / TOKENS_PER_S * 0.8
    assert sorted(tokens) == tokens


def test_a_client_that_leaves_mid_stream_does_not_cancel_the_turn(served: Served) -> None:
    with served.client() as api:
        sid = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "leaver"}).json()[
            "session_id"
        ]
        url = f"/v1/sessions/{sid}/messages"
        body = {"text": "hello, what can you do?", "message_id": "leaving-1"}
        with api.stream("POST", url, json=body, headers=SSE) as r:
            for line in r.iter_lines():
                if line.startswith("event: token"):
                    break  # the first token, then the client is gone
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            history = api.get(f"{url}").json()["messages"]
            if [m["role"] for m in history] == ["user", "assistant"]:
                break
            time.sleep(0.2)
        assert [m["role"] for m in history] == ["user", "assistant"]  # finished and saved
        again = api.post(url, json=body).json()  # the saved result, not a second turn
        assert again["reply"] == history[1]["content"]
        assert len(api.get(url).json()["messages"]) == 2


def test_extra_agents_come_from_the_config_file(served: Served, tmp_path: Path) -> None:
    with served.client() as api:
        r = api.post("/v1/sessions", json={"agent": "lab", "subject": "cfg"})
        assert r.status_code == 201 and r.json()["greeting"] == "Lab ready."

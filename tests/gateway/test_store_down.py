"""A store that does not answer: every API call is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from actors.store.redis import RedisStore, redis_client
from runtime.agents import AgentCatalog
from runtime.backends.local import LocalBackend
from runtime.config.settings import Settings
from runtime.models.scripted import ScriptedModel

from .conftest import BackendBundle, LiveServer


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens here once the socket is closed


async def _down_factory(settings: Settings) -> BackendBundle:
    store = RedisStore(redis_client(f"redis://127.0.0.1:{_closed_port()}", wait=0.5))
    runtime = LocalBackend(store, AgentCatalog(ScriptedModel()))

    async def close() -> None:
        await store.close()

    return BackendBundle(runtime, {"A": "orc_some_key"}, on_shutdown=[close])


@pytest.fixture(scope="module")
def down() -> Iterator[LiveServer]:
    live = LiveServer(Settings(), factory=_down_factory).start()
    yield live
    live.stop()


def test_api_calls_get_503_with_retry_after(down: LiveServer) -> None:
    with down.client("A") as api:
        for r in (
            api.post("/v1/sessions", json={"agent": "chatbot", "subject": "x"}),
            api.get("/v1/proposals"),
            api.post("/v1/sessions/s_1/messages", json={"text": "hi"}),
        ):
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "1"
            assert r.json()["error"]["type"] == "unavailable"


def test_readyz_is_503_and_healthz_200(down: LiveServer) -> None:
    with httpx.Client(base_url=down.base_url) as anon:
        assert anon.get("/healthz").status_code == 200
        ready = anon.get("/readyz")
        assert ready.status_code == 503 and "retry-after" in ready.headers


def test_a_503_body_says_what_its_header_says(down: LiveServer) -> None:
    with down.client("A") as api:
        responses = [api.get("/v1/proposals"), api.get("/readyz")]
    for r in responses:
        assert r.status_code == 503, r.text
        seconds = r.json()["error"]["retry_after"]
        assert isinstance(seconds, int) and seconds == int(r.headers["retry-after"])
    assert [r.headers["retry-after"] for r in responses] == ["1", "2"]

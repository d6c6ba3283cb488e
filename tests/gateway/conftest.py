"""A real gateway over real HTTP: uvicorn in a background thread, httpx clients.

The suite runs twice: against the in-process `LocalBackend` and against
`RayBackend` on real Ray actors and the real Redis-protocol store (the
`server` fixture is parametrized). Tests only speak HTTP.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from actors import kill_actors
from gateway import create_app
from runtime.agents import AgentCatalog
from runtime.backends.local import LocalBackend
from runtime.backends.protocol import Backend
from runtime.config.presets import resolve_config
from runtime.config.settings import Settings
from runtime.models.scripted import ScriptedModel
from runtime.store.memory import MemoryStore
from runtime.store.tenants import add_tenant
from salon.testing import SALON_AGENTS
from tests.conftest import LAB_AGENT, LAB_CONFIG, Stack, make_stack

Hook = Callable[[], Awaitable[None]]


@dataclass
class BackendBundle:
    backend: Backend
    keys: dict[str, str]  # tenant label ("A", "B") -> API key
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)


async def backend_factory(settings: Settings) -> BackendBundle:
    """The backend under test, with tenants A and B. Runs in the server's event loop."""
    store = MemoryStore()
    runtime = LocalBackend(
        store,
        AgentCatalog(
            ScriptedModel(),
            configs={
                name: resolve_config(name, LAB_CONFIG, base="admin") for name in ("lab", "desk")
            },
            extra=SALON_AGENTS | LAB_AGENT,
        ),
        sweep_interval_s=settings.sweep_interval_s,
    )
    _, key_a = await add_tenant(store, "Tenant A")
    _, key_b = await add_tenant(store, "Tenant B")
    return BackendBundle(
        runtime, {"A": key_a, "B": key_b}, on_startup=[runtime.start], on_shutdown=[runtime.stop]
    )


Factory = Callable[[Settings], Awaitable[BackendBundle]]


def ray_factory(stack: Stack) -> Factory:
    """RayBackend on `stack`'s actors, with tenants A and B in its store."""

    async def make(settings: Settings) -> BackendBundle:
        backend = await stack.backend()
        _, key_a = await add_tenant(backend.store, "Tenant A")
        _, key_b = await add_tenant(backend.store, "Tenant B")
        return BackendBundle(backend, {"A": key_a, "B": key_b}, on_shutdown=[backend.close])

    return make


class LiveServer:
    """`create_app(...)` under uvicorn on a free 127.0.0.1 port, in its own thread and loop."""

    def __init__(self, settings: Settings, factory: Factory = backend_factory) -> None:
        self.settings = settings
        self.factory = factory
        self.keys: dict[str, str] = {}
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gateway-under-test", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc

    async def _main(self) -> None:
        bundle = await self.factory(self.settings)
        app = create_app(
            bundle.backend,
            self.settings,
            on_startup=bundle.on_startup,
            on_shutdown=bundle.on_shutdown,
        )
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so
        # (with proto 0 every response waits ~40 ms for a delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        self.keys = dict(bundle.keys)
        self.base_url = f"http://127.0.0.1:{port}"
        await self._server.serve(sockets=[sock])

    def start(self, timeout: float = 30.0) -> LiveServer:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.02)):
            if self._server is not None and self._server.started:
                return self
            if not self._thread.is_alive():
                break
            deadline.wait(0.02)
        raise RuntimeError(f"the gateway did not start: {self._error!r}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=15)
        if self._error is not None:
            raise self._error

    def client(self, tenant: str | None = "A", **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"} if tenant else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def async_client(self, tenant: str | None = "A") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"} if tenant else {}
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        return httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=60.0, limits=limits
        )


# Generous limits: the shared server must not rate-limit the suite itself.
MAIN_SETTINGS = Settings(
    rate_limit_per_s=100_000,
    rate_limit_burst=100_000,
    unknown_key_rate_per_s=100_000,
    unknown_key_burst=100_000,
    sweep_interval_s=0.2,
)


@pytest.fixture(scope="session", params=["local", pytest.param("ray", marks=pytest.mark.ray)])
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    if request.param == "local":
        live = LiveServer(MAIN_SETTINGS).start()
    else:
        request.getfixturevalue("ray_session")
        stack = make_stack(request.getfixturevalue("store_redis_url"), "hosted")
        live = LiveServer(MAIN_SETTINGS, factory=ray_factory(stack)).start()
    yield live
    live.stop()
    if request.param == "ray":
        kill_actors(stack.settings.namespace)


@pytest.fixture(scope="session")
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of tenant A."""
    with server.client("A") as c:
        yield c


@pytest.fixture(scope="session")
def api_b(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of tenant B."""
    with server.client("B") as c:
        yield c


@pytest.fixture(scope="session")
def anon(server: LiveServer) -> Iterator[httpx.Client]:
    """A client without credentials."""
    with server.client(None) as c:
        yield c


def subject() -> str:
    """A fresh end-user id, so tests sharing the server never share sessions."""
    return f"user-{uuid.uuid4().hex[:12]}"


def random_day() -> str:
    """A far-future ISO date, so bookings of different tests never share a slot."""
    return f"20{random.randint(40, 89)}-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"


def new_session(client: httpx.Client, agent: str = "chatbot") -> dict[str, object]:
    r = client.post("/v1/sessions", json={"agent": agent, "subject": subject()})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def say(client: httpx.Client, session_id: object, text: str) -> dict[str, object]:
    r = client.post(f"/v1/sessions/{session_id}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body

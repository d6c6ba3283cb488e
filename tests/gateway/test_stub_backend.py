"""The gateway against a stub Backend: failures of the backend and merged metrics.

These need a backend that misbehaves on purpose, so they do not use
`backend_factory`; they still go through real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.config.settings import Settings
from runtime.errors import ConfigError, InvalidTransition, Unavailable
from runtime.inbound import Inbound
from runtime.principals import Actor, Principal, owner_of
from runtime.proposals.model import ProposalStatus

from .conftest import BackendBundle, LiveServer

PROCESS_1 = b"""# HELP soft_confirm_window_hits Soft-confirm decisions.
# TYPE soft_confirm_window_hits gauge
soft_confirm_window_hits{tier="T2",result="success"} 1.0
soft_confirm_window_hits{tier="T2",result="expired"} 2.0
# HELP orchestra_messages_total User messages handled.
# TYPE orchestra_messages_total counter
orchestra_messages_total{agent="chatbot"} 3.0
# HELP orchestrator_chat_duration_ms Wall time.
# TYPE orchestrator_chat_duration_ms histogram
orchestrator_chat_duration_ms_bucket{agent="chatbot",le="10.0"} 1.0
orchestrator_chat_duration_ms_bucket{agent="chatbot",le="+Inf"} 2.0
orchestrator_chat_duration_ms_count{agent="chatbot"} 2.0
orchestrator_chat_duration_ms_sum{agent="chatbot"} 30.0
"""
PROCESS_2 = b"""# HELP soft_confirm_window_hits Soft-confirm decisions.
# TYPE soft_confirm_window_hits gauge
soft_confirm_window_hits{result="success",tier="T2"} 4.0
# HELP orchestra_messages_total User messages handled.
# TYPE orchestra_messages_total counter
orchestra_messages_total{agent="chatbot"} 5.0
orchestra_messages_total{agent="admin"} 1.0
# HELP orchestrator_chat_duration_ms Wall time.
# TYPE orchestrator_chat_duration_ms histogram
orchestrator_chat_duration_ms_bucket{agent="chatbot",le="10.0"} 3.0
orchestrator_chat_duration_ms_bucket{agent="chatbot",le="+Inf"} 4.0
orchestrator_chat_duration_ms_count{agent="chatbot"} 4.0
orchestrator_chat_duration_ms_sum{agent="chatbot"} 12.5
"""


class StubBackend:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.is_ready = True
        self.metrics_broken = False

    async def authenticate(self, api_key: str) -> Principal | None:
        self.events.append("auth")
        return owner_of("t-stub") if api_key == "stub-key" else None

    async def create_session(
        self, tenant_id: str, agent: str, subject: str
    ) -> tuple[dict[str, Any], bool]:
        raise RuntimeError("secret internal detail /etc/passwd")

    async def get_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        raise RuntimeError("secret internal detail")

    async def list_messages(self, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
        raise ConfigError("bad config: password=hunter2")

    async def close_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        raise Unavailable("store down", retry_after=2.5)

    async def send_message(self, msg: Inbound) -> dict[str, Any]:
        raise Unavailable("host restarting", retry_after=0.1)

    async def mark_delivered(
        self, tenant_id: str, session_id: str, proposal_ids: list[str], at_ns: int = 0
    ) -> None:
        raise Unavailable("registry restarting", retry_after=0.1)

    async def list_proposals(
        self,
        tenant_id: str,
        session_id: str | None,
        status: ProposalStatus | None,
        viewer: Actor | None = None,
        can_approve: bool = False,
    ) -> list[dict[str, Any]]:
        return []

    async def get_proposal(
        self, tenant_id: str, proposal_id: str, viewer: Actor | None = None
    ) -> dict[str, Any]:
        raise KeyError(proposal_id)

    async def confirm(
        self, tenant_id: str, proposal_id: str, by: Actor | None = None
    ) -> dict[str, Any]:
        raise InvalidTransition("EXPIRED", "CONFIRMED")

    async def reject(
        self, tenant_id: str, proposal_id: str, by: Actor | None = None
    ) -> dict[str, Any]:
        raise ValueError("boom")

    async def audit(self, tenant_id: str, session_id: str | None) -> list[dict[str, Any]]:
        return []

    async def ready(self) -> bool:
        if self.is_ready is None:
            raise ConnectionError("no route to store")
        return self.is_ready

    async def metrics_texts(self) -> list[bytes]:
        if self.metrics_broken:
            raise Unavailable("a host is down")
        return [PROCESS_1, PROCESS_2]


STUB = StubBackend()


async def _stub_factory(settings: Settings) -> BackendBundle:
    async def started() -> None:
        STUB.events.append("startup")

    async def stopped() -> None:
        STUB.events.append("shutdown")

    return BackendBundle(STUB, {"S": "stub-key"}, [started], [stopped])


@pytest.fixture(scope="module")
def stub_server() -> Iterator[LiveServer]:
    live = LiveServer(Settings(), factory=_stub_factory).start()
    assert STUB.events[:1] == ["startup"]
    yield live
    live.stop()
    assert STUB.events[-1] == "shutdown"


@pytest.fixture
def stub(stub_server: LiveServer) -> Iterator[httpx.Client]:
    with stub_server.client("S") as c:
        yield c


def _error(r: httpx.Response, status: int, type_: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == type_
    assert "Traceback" not in r.text
    return str(r.json()["error"]["message"])


def test_unexpected_exceptions_are_generic_500s(stub: httpx.Client) -> None:
    r = stub.get("/v1/sessions/s1", headers={"X-Request-ID": "trace-me"})
    message = _error(r, 500, "internal_error")
    assert "secret" not in r.text and "trace-me" in message
    assert r.headers["x-request-id"] == "trace-me"
    r = stub.post("/v1/sessions", json={"agent": "chatbot", "subject": "u"})
    assert "passwd" not in _error(r, 500, "internal_error")
    r = stub.get("/v1/proposals/p1")
    _error(r, 500, "internal_error")
    r = stub.post("/v1/proposals/p1/reject")
    _error(r, 500, "internal_error")
    r = stub.get("/v1/sessions/s1/messages")
    assert "hunter2" not in _error(r, 500, "internal_error")
    # the server is still fine afterwards
    assert stub.get("/healthz").status_code == 200


def test_unavailable_is_503_with_retry_after(stub: httpx.Client) -> None:
    r = stub.delete("/v1/sessions/s1")
    _error(r, 503, "unavailable")
    assert r.headers["retry-after"] == "3"
    r = stub.post("/v1/sessions/s1/messages", json={"text": "hi"})
    _error(r, 503, "unavailable")
    assert r.headers["retry-after"] == "1"


def test_invalid_transition_carries_status(stub: httpx.Client) -> None:
    r = stub.post("/v1/proposals/p1/confirm")
    _error(r, 409, "invalid_transition")
    assert r.json()["error"]["status"] == "EXPIRED"


def test_readyz_503_when_not_ready(stub: httpx.Client) -> None:
    try:
        STUB.is_ready = False
        r = stub.get("/readyz")
        _error(r, 503, "unavailable")
        assert int(r.headers["retry-after"]) >= 1
        STUB.is_ready = None  # type: ignore[assignment]  # ready() raises
        r = stub.get("/readyz")
        _error(r, 503, "unavailable")
    finally:
        STUB.is_ready = True
    assert stub.get("/readyz").json() == {"status": "ready"}


def test_auth_is_cached(stub: httpx.Client) -> None:
    before = STUB.events.count("auth")
    for _ in range(5):
        assert stub.get("/v1/proposals").status_code == 200
    assert STUB.events.count("auth") - before <= 1


def test_metrics_are_merged_across_processes(stub: httpx.Client) -> None:
    text = stub.get("/metrics").text
    lines = set(text.splitlines())
    assert 'soft_confirm_window_hits{result="success",tier="T2"} 5.0' in lines
    assert 'soft_confirm_window_hits{result="expired",tier="T2"} 2.0' in lines
    assert 'orchestra_messages_total{agent="chatbot"} 8.0' in lines
    assert 'orchestra_messages_total{agent="admin"} 1.0' in lines
    assert 'orchestrator_chat_duration_ms_bucket{agent="chatbot",le="10.0"} 4.0' in lines
    assert 'orchestrator_chat_duration_ms_bucket{agent="chatbot",le="+Inf"} 6.0' in lines
    assert 'orchestrator_chat_duration_ms_count{agent="chatbot"} 6.0' in lines
    assert 'orchestrator_chat_duration_ms_sum{agent="chatbot"} 42.5' in lines
    assert "# TYPE soft_confirm_window_hits gauge" in lines
    assert "# TYPE orchestra_messages_total counter" in lines
    assert "# TYPE orchestrator_chat_duration_ms histogram" in lines
    assert sum(line.startswith("# TYPE soft_confirm_window_hits ") for line in lines) == 1
    assert "# TYPE orchestra_http_requests_total counter" in lines


def test_metrics_survive_a_backend_failure(stub: httpx.Client) -> None:
    try:
        STUB.metrics_broken = True
        r = stub.get("/metrics")
        assert r.status_code == 200
        assert "orchestra_gateway_backend_metrics_up 0.0" in r.text.splitlines()
        assert "soft_confirm_window_hits{" not in r.text
    finally:
        STUB.metrics_broken = False
    assert "orchestra_gateway_backend_metrics_up 1.0" in stub.get("/metrics").text.splitlines()

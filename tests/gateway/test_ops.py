"""healthz, readyz, audit, /metrics, and the per-tenant rate limit."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.config.settings import Settings

from .conftest import LiveServer, new_session, say

WINDOW_SUCCESS = 'soft_confirm_window_hits{result="success",tier="T2"}'


def test_healthz_and_readyz(anon: httpx.Client) -> None:
    r = anon.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = anon.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_openapi_documents_the_contract(anon: httpx.Client) -> None:
    spec = anon.get("/openapi.json").json()
    paths = {p: set(ops) for p, ops in spec["paths"].items()}
    assert paths == {
        "/v1/sessions": {"get", "post"},
        "/v1/agents": {"get"},
        "/v1/sessions/{session_id}": {"get", "delete"},
        "/v1/sessions/{session_id}/messages": {"get", "post"},
        "/v1/sessions/{session_id}/turns": {"get"},
        "/v1/sessions/{session_id}/turns/{n}": {"get"},
        "/v1/proposals": {"get"},
        "/v1/proposals/{proposal_id}": {"get"},
        "/v1/proposals/{proposal_id}/confirm": {"post"},
        "/v1/proposals/{proposal_id}/reject": {"post"},
        "/v1/audit": {"get"},
        "/v1/keys": {"get", "post"},
        "/v1/keys/{key_id}": {"delete"},
        "/v1/keys/{key_id}/rotate": {"post"},
        "/v1/session-tokens": {"post"},
        "/v1/session-tokens/revoke": {"post"},
        "/v1/me": {"get"},
        "/healthz": {"get"},
        "/readyz": {"get"},
        "/metrics": {"get"},
    }  # the console (/, /ui...) is a page, not part of the API's schema
    schemas = spec["components"]["schemas"]
    assert {"ErrorBody", "SessionCreate", "MessageIn", "TurnOut", "ProposalOut"} <= set(schemas)
    assert schemas["MessageIn"]["properties"]["text"]["minLength"] == 1
    assert schemas["SessionCreate"]["properties"]["subject"]["maxLength"] == 200
    assert "bad_request" in schemas["SessionCreate"]["properties"]["agent"]["description"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "breaker_half_open_at" in schemas["SessionDetail"]["properties"]
    assert {"sessions", "next_cursor"} <= set(schemas["SessionList"]["properties"])
    post_message = spec["paths"]["/v1/sessions/{session_id}/messages"]["post"]
    assert "text/event-stream" in post_message["responses"]["200"]["content"]
    for status in ("401", "404", "409", "413", "422", "429"):
        assert status in post_message["responses"], status


def test_audit_shapes_and_order(api: httpx.Client) -> None:
    s = new_session(api)
    sid = s["session_id"]
    say(api, sid, "book a haircut on 2036-06-06 at 9")
    r = api.get("/v1/audit", params={"session_id": sid})
    assert r.status_code == 200
    events = r.json()["events"]
    assert events
    assert all(e["session_id"] == sid for e in events)
    types = [e["type"] for e in events]
    assert {"message", "tool_call", "proposal"} <= set(types)
    proposal_events = [e for e in events if e["type"] == "proposal"]
    assert proposal_events[0]["from"] is None and proposal_events[0]["to"] == "PENDING"
    everything = api.get("/v1/audit").json()["events"]
    assert len(everything) >= len(events)
    # append-only: asking again returns the same prefix
    assert api.get("/v1/audit", params={"session_id": sid}).json()["events"] == events


def metric_value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_after_a_journey(api: httpx.Client, anon: httpx.Client) -> None:
    before = anon.get("/metrics").text
    s = new_session(api, "admin")
    say(api, s["session_id"], "create service metricsvc 30 min $10")
    say(api, s["session_id"], "thanks")  # soft-confirms the T2 create
    r = anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    for name in (
        "orchestrator_chat_duration_ms",
        "tool_execution_duration_ms",
        "recursion_depth_used",
        "soft_confirm_window_hits",
    ):
        assert f"# TYPE {name} " in text, name
        assert re.search(rf"^{name}(_bucket|_count|_sum)?\{{", text, re.M), name
    assert metric_value(text, WINDOW_SUCCESS) - metric_value(before, WINDOW_SUCCESS) == 1.0
    for kind in ("input", "output"):  # the scripted model reports usage (words as tokens)
        tokens = f'orchestra_model_tokens_total{{kind="{kind}",model="scripted"}}'
        assert metric_value(text, tokens) > metric_value(before, tokens), kind

    # it parses, and the gateway's own metrics use route templates, never ids
    families = {f.name: f for f in text_string_to_metric_families(text)}
    http = families["orchestra_http_requests"]
    routes = {s.labels["route"] for s in http.samples}
    assert "/v1/sessions/{session_id}/messages" in routes
    assert not any("s_" in r or "p_" in r for r in routes)
    assert str(s["session_id"]) not in text


def test_exactly_one_window_hit_per_soft_confirm(api: httpx.Client, anon: httpx.Client) -> None:
    s = new_session(api, "admin")
    say(api, s["session_id"], "create service onehit 30 min $10")
    before = metric_value(anon.get("/metrics").text, WINDOW_SUCCESS)
    say(api, s["session_id"], "sounds good")
    after = metric_value(anon.get("/metrics").text, WINDOW_SUCCESS)
    assert after - before == 1.0


@pytest.fixture(scope="module")
def tight_server() -> Iterator[LiveServer]:
    tight = Settings(
        rate_limit_per_s=1, rate_limit_burst=2, unknown_key_rate_per_s=1, unknown_key_burst=5
    )
    live = LiveServer(tight).start()
    yield live
    live.stop()


def test_429_with_retry_after(tight_server: LiveServer) -> None:
    with tight_server.client("A") as a, tight_server.client("B") as b:
        codes = [a.get("/v1/proposals").status_code for _ in range(2)]
        assert codes == [200, 200]
        r = a.get("/v1/proposals")
        assert r.status_code == 429
        assert r.json()["error"]["type"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        # per tenant: B has its own bucket; unauthenticated ops are not limited
        assert b.get("/v1/proposals").status_code == 200
        assert a.get("/healthz").status_code == 200
        assert a.get("/metrics").status_code == 200


def test_guessing_keys_is_rate_limited_per_client(tight_server: LiveServer) -> None:
    time.sleep(2)  # the tenants' buckets (1/s, burst 2) refill from earlier tests
    with tight_server.client("B") as b:
        assert b.get("/v1/proposals").status_code == 200  # B's key is known here now
    with httpx.Client(base_url=tight_server.base_url, timeout=10) as guesser:
        codes = [
            guesser.get(
                "/v1/proposals", headers={"Authorization": f"Bearer orc_guess_{i}"}
            ).status_code
            for i in range(30)
        ]
        assert set(codes[:5]) == {401}  # a burst of honest mistakes is answered
        assert 429 in codes[5:20]  # the configured burst (5), not the default (20)
        r = guesser.get("/v1/proposals", headers={"Authorization": "Bearer orc_guess_x"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["type"] == "rate_limited"
    with tight_server.client("B") as b:  # a known key from the same address still works
        assert b.get("/v1/proposals").status_code == 200

"""The proposal registry gone (killed, restarting): the API answers 503 with
Retry-After at every call that needs it, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray

from actors import kill_actors
from actors.common import registry_name
from tests.conftest import Stack, make_stack
from tests.gateway.conftest import MAIN_SETTINGS, LiveServer, new_session, ray_factory, say

pytestmark = [pytest.mark.ray, pytest.mark.store]


@pytest.fixture(scope="module")
def orphaned(ray_session: None, store_redis_url: str) -> Iterator[tuple[LiveServer, Stack]]:
    stack = make_stack(store_redis_url, "hosted")
    live = LiveServer(MAIN_SETTINGS, factory=ray_factory(stack)).start()
    yield live, stack
    live.stop()
    kill_actors(stack.settings.namespace)


def test_calls_that_need_the_registry_get_503_when_it_is_gone(
    orphaned: tuple[LiveServer, Stack],
) -> None:
    live, stack = orphaned
    with live.client("A") as api:
        booking = new_session(api)
        r = say(api, booking["session_id"], "book a haircut tomorrow at 10")
        t3 = r["proposals"][0]["proposal_id"]  # type: ignore[index]
        admin = new_session(api, "admin")
        say(api, admin["session_id"], "create service gone 30 min $10")  # a pending T2
        registry = ray.get_actor(registry_name(0), namespace=stack.settings.namespace)
        ray.kill(registry, no_restart=True)
        for r in (
            api.post(f"/v1/proposals/{t3}/confirm"),
            api.post(f"/v1/proposals/{t3}/reject"),
            api.post(f"/v1/sessions/{admin['session_id']}/messages", json={"text": "ok"}),
        ):
            assert r.status_code == 503, r.text
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["error"]["type"] == "unavailable"
        assert api.get("/readyz").status_code == 503
        # what does not need the registry still works
        assert api.get(f"/v1/proposals/{t3}").json()["status"] == "PENDING"
        assert say(api, booking["session_id"], "what services do you have?")["reply"]

"""Orchestra on a multi-node Ray cluster (`ray.cluster_utils.Cluster`: a head + 2 workers).

The test session already owns a Ray, so the scenarios run in driver processes
of their own (tests/support/cluster_scenarios.py) and report what they observed;
these tests assert on that. The scenarios that leave the cluster as they found it
share one cluster (one driver, one after another); the one that kills a node and
the one with a single worker have their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

# (the first test waits for the shared scenarios: several scenarios' worth of time)
pytestmark = [pytest.mark.ray, pytest.mark.store, pytest.mark.cluster, pytest.mark.timeout(420)]


def scenario(url: str, name: str, workers: int = 2) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.support.cluster_scenarios", url, name, str(workers)],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


SHARED = ("core", "two_gateways", "ring_moves", "loopback")


@pytest.fixture(scope="module")
def shared(store_redis_url: str) -> dict[str, dict[str, Any]]:
    """The scenarios of SHARED, run in that order on one 3-node cluster."""
    return scenario(store_redis_url, "+".join(SHARED))


def test_core_cases_pass_and_hosts_spread_over_nodes(shared: dict[str, dict[str, Any]]) -> None:
    r = shared["core"]
    assert r["nodes"] == 3
    # 4 hosts placed round-robin (softly) over head + 2 workers, each where it was
    # meant to go (with no resource request Ray put them on random nodes)
    nodes = r["alive_nodes"]
    assert r["hosts"] == {f"orchestra-host-{i}": nodes[i % 3] for i in range(4)}
    assert r["session_ids"] == 1  # 50 concurrent creates
    assert r["user_messages"] == [f"!tools echo #{i}" for i in range(20)]
    assert r["roles"] == ["user", "assistant"] * 20
    assert (r["confirm_ok"], r["confirm_conflict"], r["appointments"]) == (1, 49, 1)


def test_removing_a_worker_node_mid_load_loses_nothing(store_redis_url: str) -> None:
    r = scenario(store_redis_url, "node_loss")
    assert r["victim_hosted"] >= 1 and r["nodes"] == 2
    assert r["victim"] not in r["hosts_after"].values()  # its host restarted elsewhere
    for i, sid in enumerate(r["sessions"]):
        expected = [
            f'!tools create_service {{"name": "svc{i}", "price": 1}}'
            if k == 2
            else f"!tools echo {i}-{k}"
            for k in range(8)
        ]
        assert r["users"][sid] == expected  # every message once, in order
    assert r["proposal_statuses"] == ["EXECUTED"] * 12
    assert r["executed_events"] == 12  # no proposal executed twice
    assert r["services"] == sorted(f"svc{i}" for i in range(12))


def test_two_gateway_processes_on_one_cluster(shared: dict[str, dict[str, Any]]) -> None:
    r = shared["two_gateways"]
    assert r["codes"] == [0, 0]
    assert r["roles"] == ["user", "assistant"] * 20  # one turn at a time
    users = [u.removeprefix("!tools echo ") for u in r["users"]]
    for tag in "ab":
        assert [u for u in users if u.startswith(tag)] == [f"{tag}-{i}" for i in range(10)]
    assert sum(c["ok"] for c in r["confirm_results"]) == 1
    assert sum(c["conflict"] for c in r["confirm_results"]) == 19
    assert r["appointments"] == 1


def test_every_node_and_its_traffic_stay_on_loopback(shared: dict[str, dict[str, Any]]) -> None:
    r = shared["loopback"]
    assert r["nodes"] == 3
    assert r["address"].startswith("127.0.0.1:") and r["gcs"] == r["address"]
    assert r["node_ips"] == ["127.0.0.1"] * 3
    assert r["worker_ips"] == ["127.0.0.1"] * 3  # a worker on each node
    sockets = r["listeners"]
    # What was seen: the GCS, the head's and both workers' raylets, the three workers.
    assert "gcs_server" in {s["process"] for s in sockets}
    assert len({s["pid"] for s in sockets if s["process"] == "raylet"}) == 3
    assert set(r["worker_pids"]) <= {s["pid"] for s in sockets}
    exposed = [s for s in sockets if not s["loopback"]]
    assert exposed == [], exposed


def test_one_owner_per_session_while_the_ring_moves(shared: dict[str, dict[str, Any]]) -> None:
    r = shared["ring_moves"]
    assert r["moved"] >= 1  # the two gateways disagreed about some sessions
    assert r["turns"] == [24] * 16  # every acknowledged message ran as one turn
    assert (r["missing"], r["duplicates"]) == (0, 0)  # stored once each, none lost
    assert r["overlaps"] == 0  # no two turns of one session ran at once


def test_hosts_scale_by_command_and_routers_follow_on_their_own(store_redis_url: str) -> None:
    r = scenario(store_redis_url, "hosts", workers=1)
    assert r["hosts_before"] == ["orchestra-host-0"]
    code, text = r["add"]
    assert code == 0 and "added orchestra-host-1" in text, text
    # the router re-read the host set by itself (no /metrics scrape, no refresh call)
    assert r["hosts_after_add"] == ["orchestra-host-0", "orchestra-host-1"]
    assert r["seen_after_s"] < 5.0
    assert r["sessions_on_new_host"] >= 1  # sessions were routed to it
    code, text = r["remove"]
    assert code == 0 and "removed orchestra-host-1" in text, text
    assert r["gone_after_s"] < 5.0 and r["hosts_after_remove"] == ["orchestra-host-0"]
    assert r["sessions_on_host0"] >= 1
    assert r["in_order"] == 12  # every session: each message stored once, in order
    assert r["sent"] >= 12 * 5

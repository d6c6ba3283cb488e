"""Multi-node scenarios on `ray.cluster_utils.Cluster` (a head + worker nodes on this machine).

Run as a separate driver process (the test session already owns a Ray):

    python -m tests.support.cluster_scenarios <redis-url> <scenario> [nodes]

Prints one JSON object of observations; tests/actors/test_multinode.py asserts on it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import ray
from ray.cluster_utils import Cluster
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors import RayBackend, ensure_actors, kill_actors, rendezvous
from actors.cluster import single_machine_ray
from actors.store.redis import connect_store
from runtime.config.settings import Settings
from runtime.errors import InvalidTransition, Unavailable
from runtime.inbound import Inbound
from runtime.store.tenants import add_tenant
from salon.testing import SALON_LAB as LAB_AGENT
from salon.testing import business
from tests.support.listeners import listeners_of, ray_processes

NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024}


def start_cluster(workers: int) -> Cluster:
    # Every node, this driver and the gateway processes it spawns on 127.0.0.1 only.
    single_machine_ray()
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    for _ in range(workers):
        cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    return cluster


def settings_for(url: str, hosts: int) -> Settings:
    ns = f"orc-cluster-{uuid.uuid4().hex[:8]}"
    return Settings(
        redis_url=url,
        namespace=ns,
        store_prefix=ns,
        hosts=hosts,
        extra_agents=LAB_AGENT,
        sweep_interval_s=0.2,
    )


async def host_nodes(b: RayBackend) -> dict[str, str]:
    out = {}
    for name in b.router.refresh_hosts():
        for _ in range(60):  # a host may be restarting on another node
            try:
                handle = ray.get_actor(name, namespace=b.settings.namespace)
                out[name] = (await handle.stats.remote())["node_id"]
                break
            except Exception:
                await asyncio.sleep(0.5)
    return out


async def core(b: RayBackend) -> dict[str, Any]:
    t, _ = await add_tenant(b.store, "Core")
    tid = t.tenant_id
    creates = await asyncio.gather(*(b.create_session(tid, "lab", "same") for _ in range(50)))
    sid = creates[0][0]["session_id"]
    texts = [f"!tools echo #{i}" for i in range(20)]
    await asyncio.gather(*(b.send_message(Inbound(tid, sid, x)) for x in texts))
    history = await b.list_messages(tid, sid)
    chat, _ = await b.create_session(tid, "chatbot", "booker")
    r = await b.send_message(Inbound(tid, chat["session_id"], "book a haircut tomorrow at 15"))
    pid = r["proposals"][0]["proposal_id"]
    outcomes = await asyncio.gather(
        *(b.confirm(tid, pid) for _ in range(50)), return_exceptions=True
    )
    return {
        "session_ids": len({c[0]["session_id"] for c in creates}),
        "user_messages": [m["content"] for m in history if m["role"] == "user"],
        "roles": [m["role"] for m in history],
        "confirm_ok": sum(isinstance(o, dict) for o in outcomes),
        "confirm_conflict": sum(isinstance(o, InvalidTransition) for o in outcomes),
        "appointments": len((await business(b.store, tid))["appointments"]),
        "hosts": await host_nodes(b),
        "alive_nodes": sorted(n["NodeID"] for n in ray.nodes() if n["Alive"]),
    }


async def send_until_done(b: RayBackend, tid: str, sid: str, text: str, mid: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            await b.send_message(Inbound(tid, sid, text, mid))
            return
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def node_loss(b: RayBackend, cluster: Cluster) -> dict[str, Any]:
    t, _ = await add_tenant(b.store, "Node Loss")
    tid = t.tenant_id
    sessions = [(await b.create_session(tid, "lab", f"u{i}"))[0]["session_id"] for i in range(12)]
    before = await host_nodes(b)
    head_id = ray.get_runtime_context().get_node_id()
    worker_nodes = [n for n in cluster.list_all_nodes() if n.node_id != head_id]
    victim = max(worker_nodes, key=lambda n: sum(v == n.node_id for v in before.values()))

    async def session_load(i: int, sid: str) -> None:
        for k in range(8):
            text = (
                f'!tools create_service {{"name": "svc{i}", "price": 1}}'
                if k == 2
                else f"!tools echo {i}-{k}"
            )
            await send_until_done(b, tid, sid, text, f"{sid}-{k}")

    load = asyncio.gather(*(session_load(i, s) for i, s in enumerate(sessions)))
    await asyncio.sleep(1.0)
    await asyncio.to_thread(cluster.remove_node, victim)
    await load
    histories = {s: await b.list_messages(tid, s) for s in sessions}
    proposals = await b.list_proposals(tid, None, None)
    audit = await b.audit(tid, None)
    doc = await business(b.store, tid)
    return {
        "victim_hosted": sum(v == victim.node_id for v in before.values()),
        "hosts_before": before,
        "hosts_after": await host_nodes(b),
        "victim": victim.node_id,
        "users": {
            s: [m["content"] for m in h if m["role"] == "user"] for s, h in histories.items()
        },
        "sessions": sessions,
        "proposal_statuses": sorted(p["status"] for p in proposals),
        "executed_events": sum(1 for e in audit if e.get("to") == "EXECUTED"),
        "services": sorted(k for k in doc["services"] if k.startswith("svc")),
    }


async def two_gateways(b: RayBackend, gcs: str) -> dict[str, Any]:
    t, _ = await add_tenant(b.store, "Two Gateways")
    tid = t.tenant_id
    sid = (await b.create_session(tid, "lab", "shared"))[0]["session_id"]
    raw = b.settings.model_dump_json()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.sender",
            gcs,
            raw,
            tid,
            sid,
            tag,
            "10",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for tag in ("a", "b")
    ]
    codes = [await p.wait() for p in procs]
    history = await b.list_messages(tid, sid)
    chat = (await b.create_session(tid, "chatbot", "c"))[0]["session_id"]
    r = await b.send_message(Inbound(tid, chat, "book a coloring tomorrow at 9"))
    pid = r["proposals"][0]["proposal_id"]
    confirmers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.confirmer",
            gcs,
            raw,
            tid,
            pid,
            "10",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [json.loads((await p.communicate())[0] or b"{}") for p in confirmers]
    return {
        "codes": codes,
        "roles": [m["role"] for m in history],
        "users": [m["content"] for m in history if m["role"] == "user"],
        "confirm_results": results,
        "appointments": len((await business(b.store, tid))["appointments"]),
    }


def turns_of(events: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(start, end) of each turn of one session, from its audit (user message at the
    start, assistant message at the end), in the order they started."""
    starts = [e["at"] for e in events if e["type"] == "message" and e.get("role") == "user"]
    ends = [e["at"] for e in events if e["type"] == "message" and e.get("role") == "assistant"]
    return sorted(zip(sorted(starts), sorted(ends), strict=False))


TURNS = 12  # per session and gateway


async def ring_moves(b: RayBackend) -> dict[str, Any]:
    """Two gateways with their own views of the host ring; a host is added (one
    gateway sees it at once, the other never does here), then one is killed, all
    under load. One owner per session means no two turns of a session overlap."""
    other = RayBackend(
        b.settings, await connect_store(b.settings.redis_url, b.settings.store_prefix)
    )
    other.router.watch_s = float("inf")  # its ring stays as it started (3 hosts) until one fails
    t, _ = await add_tenant(b.store, "Ring Moves")
    tid = t.tenant_id
    sessions = [(await b.create_session(tid, "lab", f"r{i}"))[0]["session_id"] for i in range(16)]
    sent: dict[str, list[str]] = {s: [] for s in sessions}

    async def gateway_load(backend: RayBackend, tag: str, sid: str) -> None:
        for k in range(TURNS):
            text = f'!tools slow {{"seconds": 0.2}}; echo {{"tag": "{tag}-{k}"}}'
            await send_until_done(backend, tid, sid, text, f"{sid}-{tag}-{k}")
            sent[sid].append(text)

    load = asyncio.gather(
        *(gateway_load(gw, tag, s) for s in sessions for gw, tag in ((b, "a"), (other, "b")))
    )
    await asyncio.sleep(0.5)
    grown = b.settings.model_copy(update={"hosts": 4})
    await asyncio.to_thread(ensure_actors, grown)  # host 3 joins
    await asyncio.to_thread(b.router.refresh_hosts)  # gateway a sees it, gateway b does not
    moved = sum(
        rendezvous(s, b.router.hosts) != rendezvous(s, other.router.hosts) for s in sessions
    )
    await asyncio.sleep(1.5)
    victim = ray.get_actor("orchestra-host-0", namespace=b.settings.namespace)
    ray.kill(victim, no_restart=True)  # host 0 leaves, for good
    await load
    out: dict[str, Any] = {"moved": moved, "overlaps": 0, "missing": 0, "duplicates": 0}
    for sid in sessions:
        history = [m["content"] for m in await b.list_messages(tid, sid) if m["role"] == "user"]
        out["missing"] += len(set(sent[sid]) - set(history))
        out["duplicates"] += len(history) - len(set(history))
        turns = turns_of(await b.audit(tid, sid))
        out["overlaps"] += sum(a[1] > c[0] for a, c in itertools.pairwise(turns))
        out.setdefault("turns", []).append(len(turns))
    await other.close()
    return out


async def hosts_command(gcs: str, namespace: str, *args: str) -> tuple[int, str]:
    """`orchestra hosts ARGS` as an operator runs it: another process joining the cluster."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "hosts",
        *args,
        "--ray-address",
        gcs,
        "--namespace",
        namespace,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def seconds_until(condition: Callable[[], bool], limit_s: float = 30.0) -> float:
    """How long until `condition` holds (checked every 50 ms; `limit_s` at most)."""
    started = time.monotonic()
    for _ in range(int(limit_s / 0.05)):
        if condition():
            break
        await asyncio.sleep(0.05)
    return round(time.monotonic() - started, 2)


async def hosts_by_command(b: RayBackend, gcs: str) -> dict[str, Any]:
    """One host under load; `orchestra hosts add` -> the router takes the new host in
    by itself and sessions go to it; `orchestra hosts remove` -> they come back, with
    every message stored once, in order."""
    ns = b.settings.namespace
    t, _ = await add_tenant(b.store, "Hosts")
    tid = t.tenant_id
    sessions = [(await b.create_session(tid, "lab", f"h{i}"))[0]["session_id"] for i in range(12)]
    sent: dict[str, list[str]] = {s: [] for s in sessions}
    stop = asyncio.Event()

    async def session_load(sid: str) -> None:
        k = 0
        while not stop.is_set():
            text = f"!tools echo {sid[-6:]}-{k}"
            await send_until_done(b, tid, sid, text, f"{sid}-{k}")
            sent[sid].append(text)
            k += 1
            await asyncio.sleep(0.2)

    load = asyncio.gather(*(session_load(s) for s in sessions))
    await asyncio.sleep(1.0)
    out: dict[str, Any] = {"hosts_before": list(b.router.hosts)}
    started = time.monotonic()
    out["add"] = await hosts_command(gcs, ns, "add")
    out["add_took_s"] = round(time.monotonic() - started, 2)
    # nobody scrapes /metrics or calls refresh_hosts here: the router sees it by itself
    out["seen_after_s"] = await seconds_until(lambda: "orchestra-host-1" in b.router.hosts)
    out["hosts_after_add"] = list(b.router.hosts)
    await asyncio.sleep(4.0)  # the load goes on over two hosts
    new_host = ray.get_actor("orchestra-host-1", namespace=ns)
    out["sessions_on_new_host"] = (await new_host.stats.remote())["sessions"]
    started = time.monotonic()
    out["remove"] = await hosts_command(gcs, ns, "remove")
    out["remove_took_s"] = round(time.monotonic() - started, 2)
    out["gone_after_s"] = await seconds_until(lambda: "orchestra-host-1" not in b.router.hosts)
    await asyncio.sleep(2.0)  # and goes on over the one left
    stop.set()
    await load
    out["hosts_after_remove"] = list(b.router.hosts)
    out["sent"] = sum(len(v) for v in sent.values())
    out["in_order"] = 0
    for sid in sessions:
        users = [m["content"] for m in await b.list_messages(tid, sid) if m["role"] == "user"]
        out["in_order"] += users == sent[sid]
    host0 = ray.get_actor("orchestra-host-0", namespace=ns)
    out["sessions_on_host0"] = (await host0.stats.remote())["sessions"]
    return out


@ray.remote(num_cpus=0)
class Probe:
    """A worker process pinned to one node (its gRPC server is one of the listeners)."""

    def where(self) -> tuple[str, int]:
        return ray.util.get_node_ip_address(), os.getpid()


async def loopback(cluster: Cluster) -> dict[str, Any]:
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    pinned = [NodeAffinitySchedulingStrategy(n, soft=False) for n in nodes]
    probes = [Probe.options(scheduling_strategy=s).remote() for s in pinned]  # type: ignore[attr-defined]
    try:
        workers = ray.get([p.where.remote() for p in probes], timeout=60)
        sockets = listeners_of(ray_processes(os.getpid()))
    finally:
        for p in probes:
            ray.kill(p)
    return {
        "address": cluster.address,
        "gcs": ray.get_runtime_context().gcs_address,
        "node_ips": sorted(n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]),
        "worker_ips": [ip for ip, _ in workers],
        "worker_pids": [pid for _, pid in workers],
        "listeners": [
            {
                "host": s.host,
                "port": s.port,
                "pid": s.pid,
                "process": s.process,
                "loopback": s.loopback,
            }
            for s in sockets
        ],
    }


async def throughput(b: RayBackend, messages: int = 2000) -> dict[str, Any]:
    t, _ = await add_tenant(b.store, "Bench")
    sids = [
        (await b.create_session(t.tenant_id, "chatbot", f"b{i}"))[0]["session_id"]
        for i in range(100)
    ]
    await asyncio.gather(*(b.send_message(Inbound(t.tenant_id, s, "hi")) for s in sids))
    t0 = time.perf_counter()
    it = iter(range(messages))

    async def worker() -> None:
        for i in it:
            await b.send_message(Inbound(t.tenant_id, sids[i % 100], "what services do you have?"))

    await asyncio.gather(*(worker() for _ in range(100)))
    return {"messages_per_s": messages / (time.perf_counter() - t0), "hosts": await host_nodes(b)}


async def run(url: str, scenario: str, cluster: Cluster, workers: int) -> dict[str, Any]:
    hosts = {"node_loss": 3, "throughput": max(1, workers + 1), "ring_moves": 3, "hosts": 1}.get(
        scenario, 4
    )
    settings = settings_for(url, hosts)
    ensure_actors(settings)
    b = RayBackend(settings, await connect_store(url, prefix=settings.store_prefix))
    try:
        if scenario == "core":
            return await core(b)
        if scenario == "node_loss":
            return await node_loss(b, cluster)
        if scenario == "two_gateways":
            return await two_gateways(b, cluster.address)
        if scenario == "throughput":
            return await throughput(b)
        if scenario == "loopback":
            return await loopback(cluster)
        if scenario == "ring_moves":
            return await ring_moves(b)
        if scenario == "hosts":
            return await hosts_by_command(b, cluster.address)
        raise SystemExit(f"unknown scenario {scenario}")
    finally:
        await b.close()
        kill_actors(settings.namespace)


def main() -> None:
    """`URL SCENARIO[+SCENARIO...] [WORKERS]`: the scenarios run one after another on
    one cluster (each with its own namespace, its actors killed after it), and the
    last line printed is the result: the one scenario's, or {name: result} for
    several. A scenario that kills a node (`node_loss`) must come last."""
    url, names = sys.argv[1], sys.argv[2].split("+")
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    cluster = start_cluster(workers)
    results: dict[str, dict[str, Any]] = {}
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        deadline = time.monotonic() + 60  # every node registered and schedulable
        while ray.cluster_resources().get("CPU", 0) < workers + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # let every raylet's view of the cluster catch up (placement)
        for name in names:
            result = asyncio.run(run(url, name, cluster, workers))
            result["nodes"] = len([n for n in ray.nodes() if n["Alive"]])
            results[name] = result
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(results[names[0]] if len(names) == 1 else results))


if __name__ == "__main__":
    main()

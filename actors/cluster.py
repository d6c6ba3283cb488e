"""Bring up (or join) the Ray side: registry shards and session hosts.

A Ray that `orchestra serve` starts for itself stays on 127.0.0.1: whoever
reaches a Ray port can run code on it. Ray gives each node one address, its
node IP, and binds from it: its gRPC servers (GCS, raylet and object manager,
every worker) listen on every interface unless that IP is loopback, and the
dashboard agent, runtime-env agent and metrics servers listen on that IP. On
Linux a local start never gets loopback: `ray.init(_node_ip_address=...)`,
`ray start --node-ip-address=...` and `ray.init(address="127.0.0.1:port")`
all pass the host through Ray's `resolve_ip_for_localhost`, which swaps
127.0.0.1 for the machine's routable address. Only Ray's single-machine mode
(`ray_constants.ENABLE_RAY_CLUSTER` false, its default on macOS and Windows,
and `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` anywhere) makes the node IP
127.0.0.1 and leaves 127.0.0.1 alone. Ray reads that variable when it is
imported, so `single_machine_ray()` sets it for the processes still to come
(Ray's daemons and workers, other drivers such as the gateway's uvicorn
processes) and the module constant for this one, which imported Ray already.
Joining a cluster (`address`, RAY_ADDRESS) changes nothing: a cluster that
spans machines binds their addresses (docs/DEPLOY.md says what to open).
"""

from __future__ import annotations

import os
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from runtime.config.settings import Settings
from runtime.errors import Unavailable

from .common import HOST_PREFIX, REGISTRY_PREFIX, SESSION_PREFIX, host_name, registry_name
from .host import SessionHost
from .registry import ProposalRegistry

LOOPBACK = "127.0.0.1"
SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def single_machine_ray() -> None:
    """Put this process and the ones it starts in Ray's single-machine mode (loopback only).

    Any Ray started from here on (`ray.init()`, `ray.cluster_utils.Cluster`,
    several raylets included) has node IP 127.0.0.1 and listens on it alone,
    and drivers reach it at 127.0.0.1. Ray sets its token mode the same way,
    process-wide through the environment (RAY_AUTH_MODE).
    """
    from ray._private import ray_constants

    os.environ[SINGLE_MACHINE_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def connect_ray(namespace: str, address: str | None = None, **local: object) -> str:
    """Join a cluster (`address`, or RAY_ADDRESS) or start a local Ray on 127.0.0.1.

    Returns the GCS address.
    """
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            ray.init(address=address, namespace=namespace, log_to_driver=False)
        else:
            options: dict[str, object] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "object_store_memory": 100 * 1024 * 1024,
            }
            options.update(local)
            single_machine_ray()
            # Ray starts its workers (the session hosts, the registry) at nice 15, so
            # under contention they yield to the gateway that feeds them and to every
            # other process: at 200 model-latency sessions that alone added 10-20 ms
            # to the p90 (docs/BENCHMARKS.md). Same priority as the gateway, unless
            # the operator says otherwise (Ray reads it when it starts its raylet).
            os.environ.setdefault("RAY_worker_niceness", "0")
            # "local": a Ray of our own. With no address, ray.init joins the cluster
            # named in /tmp/ray/ray_current_cluster (the latest `ray start` on this
            # machine, anyone's) and then fails on the local-only options above.
            ray.init(address="local", namespace=namespace, **options)
            host = ray.get_runtime_context().gcs_address.rpartition(":")[0]
            if host != LOOPBACK:  # a Ray that no longer honours the switch
                ray.shutdown()
                raise RuntimeError(
                    f"the local Ray came up on {host}, not {LOOPBACK}: it would be reachable "
                    "from the network; start Ray yourself and pass --ray-address"
                )
    gcs: str = ray.get_runtime_context().gcs_address
    return gcs


# A session host asks for a sliver of a CPU. With no resource request at all, Ray
# 2.60 places an actor on a random node whatever its soft node affinity says
# (ray-project/ray#25360 fixed only the hard case): measured, 4 hosts over 3 nodes
# landed where they were meant 7 times in 24, against 32 in 32 with this request.
# Registry shards ask for the same sliver, so neither ever lands on a node that
# offers no CPU (a gateway's own Ray node, `--num-cpus=0`, which goes away when
# the gateway is scaled down: deploy/k8s).
HOST_CPUS = 0.001


def actor_nodes() -> list[str]:
    """The alive nodes that can hold actors (they offer CPUs), sorted by id."""
    return sorted(
        n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) > 0
    )


def named_actor(actor_class: Any, name: str, settings: Settings, **options: object) -> Any:
    """`actor_class` with the detached, get-or-create options of a named actor."""
    return actor_class.options(
        name=name,
        namespace=settings.namespace,
        lifetime="detached",
        get_if_exists=True,
        **options,
    )


def ensure_actors(settings: Settings, timeout: float = 60.0) -> dict[str, list[Any]]:
    """Get-or-create the named registry shards and session hosts, and wait until they answer."""
    payload = settings.model_dump()
    registries = [
        # each shard its own tenants
        named_actor(ProposalRegistry, registry_name(i), settings, num_cpus=HOST_CPUS).remote(
            payload, i
        )
        for i in range(settings.registry_shards)
    ]
    ray.get([r.ping.remote() for r in registries], timeout=timeout)
    hosts = []
    if settings.placement == "hosted":
        # Round-robin over the alive nodes, softly: a host whose node dies restarts
        # on another one (max_restarts) and rehydrates its sessions from the store.
        nodes = actor_nodes()
        hosts = [
            named_actor(
                SessionHost,
                host_name(i),
                settings,
                scheduling_strategy=NodeAffinitySchedulingStrategy(
                    nodes[i % len(nodes)], soft=True
                ),
                num_cpus=HOST_CPUS,
            ).remote(payload, str(i))
            for i in range(settings.hosts)
        ]
        ray.get([h.stats.remote() for h in hosts], timeout=timeout)
    return {"registries": registries, "hosts": hosts}


def wait_for_registry(settings: Settings, timeout: float = 30.0) -> None:
    """Gateway replicas: wait until `orchestra serve` (or a head node) has created the actors."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ray.get_actor(registry_name(0), namespace=settings.namespace)
            return
        except ValueError:
            if time.monotonic() > deadline:
                raise Unavailable("no proposal registry in this Ray namespace") from None
            time.sleep(0.5)


def kill_actors(namespace: str) -> int:
    """Kill every Orchestra actor of `namespace` (shutdown, tests)."""
    killed = 0
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name, ns = (entry["name"], entry["namespace"]) if isinstance(entry, dict) else (entry, "")
        if ns != namespace or not name.startswith((HOST_PREFIX, REGISTRY_PREFIX, SESSION_PREFIX)):
            continue
        try:
            ray.kill(ray.get_actor(name, namespace=ns), no_restart=True)
            killed += 1
        except ValueError:
            pass
    return killed

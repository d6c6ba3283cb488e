"""Bring up (or join) the Ray side: registry shards and session hosts."""

from __future__ import annotations

import os
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from runtime.errors import Unavailable
from runtime.settings import Settings

from .common import HOST_PREFIX, REGISTRY_PREFIX, SESSION_PREFIX, host_name, registry_name
from .host import SessionHost
from .registry import ProposalRegistry


def connect_ray(namespace: str, address: str | None = None, **local: Any) -> str:
    """Join a cluster (`address`, or RAY_ADDRESS) or start a local Ray; returns the GCS address."""
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            ray.init(address=address, namespace=namespace, log_to_driver=False)
        else:
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "object_store_memory": 100 * 1024 * 1024,
            }
            options.update(local)
            ray.init(namespace=namespace, **options)
    gcs: str = ray.get_runtime_context().gcs_address
    return gcs


def ensure_actors(settings: Settings, timeout: float = 60.0) -> dict[str, list[Any]]:
    """Get-or-create the named registry shards and session hosts, and wait until they answer."""
    payload = settings.model_dump()
    registries = [
        ProposalRegistry.options(  # type: ignore[attr-defined]
            name=registry_name(i),
            namespace=settings.namespace,
            lifetime="detached",
            get_if_exists=True,
        ).remote(payload)
        for i in range(settings.registry_shards)
    ]
    ray.get([r.ping.remote() for r in registries], timeout=timeout)
    hosts = []
    if settings.placement == "hosted":
        # Round-robin over the alive nodes, softly: a host whose node dies restarts
        # on another one (max_restarts) and rehydrates its sessions from the store.
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        hosts = [
            SessionHost.options(  # type: ignore[attr-defined]
                name=host_name(i),
                namespace=settings.namespace,
                lifetime="detached",
                get_if_exists=True,
                scheduling_strategy=NodeAffinitySchedulingStrategy(
                    nodes[i % len(nodes)], soft=True
                ),
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

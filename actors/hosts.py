"""Session hosts on a running cluster, by command (`orchestra hosts add|remove|list`).

The live host set is Ray's named actors `orchestra-host-<i>` of the namespace:
routers and hosts re-read it every couple of seconds (actors/router.py,
actors/host.py), so adding or removing one here is all it takes.

- `add_hosts` creates hosts with the next free numbers and the settings of a
  host (or registry) already running, so every host of a deployment runs with
  the same settings; each goes to the alive node holding the fewest hosts
  (softly: it moves if that node dies).
- `remove_hosts` retires the highest-numbered hosts first (each leaves the
  ring, claims nothing more and hands its sessions over once their turns are
  done), then kills them for good. The last host is never removed.
"""

from __future__ import annotations

import collections
import time
from typing import Any, TypedDict

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from runtime.config.settings import Settings
from runtime.errors import ConfigError, Unavailable

from .cluster import HOST_CPUS, actor_nodes, named_actor
from .common import HOST_PREFIX, host_name, registry_name
from .host import SessionHost
from .ring import live_hosts

ANSWER_TIMEOUT_S = 60.0
RETIRE_TIMEOUT_S = 60.0


class HostInfo(TypedDict):
    name: str
    node_id: str
    sessions: int
    queued: int
    pid: int


def host_number(name: str) -> int:
    """`orchestra-host-7` -> 7 (-1 for a name that carries no number)."""
    tail = name.removeprefix(HOST_PREFIX)
    return int(tail) if tail.isdigit() else -1


def list_hosts(namespace: str, timeout: float = 10.0) -> list[HostInfo]:
    """Every live host with its node and load, in host order."""
    names = sorted(live_hosts(namespace), key=host_number)
    handles = [ray.get_actor(n, namespace=namespace) for n in names]
    stats: list[dict[str, Any]] = ray.get([h.stats.remote() for h in handles], timeout=timeout)
    return [
        {
            "name": str(s["name"]),
            "node_id": str(s["node_id"]),
            "sessions": int(s["sessions"]),
            "queued": int(s["queued"]),
            "pid": int(s["pid"]),
        }
        for s in stats
    ]


def deployment_settings(namespace: str) -> Settings:
    """The settings the running hosts (or, with none, the registry) were made with."""
    for name in sorted(live_hosts(namespace), key=host_number):
        handle = ray.get_actor(name, namespace=namespace)
        payload = ray.get(handle.settings_payload.remote(), timeout=ANSWER_TIMEOUT_S)
        return Settings.model_validate(payload)
    try:
        registry = ray.get_actor(registry_name(0), namespace=namespace)
    except ValueError:
        raise Unavailable(
            f"no Orchestra deployment in Ray namespace {namespace!r}: start `orchestra serve` first"
        ) from None
    return Settings.model_validate(ray.get(registry.settings_payload.remote()))


def add_hosts(namespace: str, count: int = 1) -> list[str]:
    """Create `count` more hosts and wait until each answers; their names."""
    settings = deployment_settings(namespace)
    if settings.placement != "hosted":
        raise ConfigError("placement is dedicated: there are no session hosts to add")
    current = list_hosts(namespace)
    per_node = collections.Counter(h["node_id"] for h in current)
    nodes = actor_nodes()
    first = max((host_number(h["name"]) for h in current), default=-1) + 1
    payload = settings.model_dump()
    made = []
    for i in range(first, first + count):
        node = min(nodes, key=lambda n: (per_node[n], n))
        per_node[node] += 1
        made.append(
            named_actor(
                SessionHost,
                host_name(i),
                settings,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
                num_cpus=HOST_CPUS,
            ).remote(payload, str(i))
        )
    ray.get([h.stats.remote() for h in made], timeout=ANSWER_TIMEOUT_S)
    return [host_name(i) for i in range(first, first + count)]


def remove_hosts(namespace: str, count: int = 1, names: list[str] | None = None) -> list[str]:
    """Retire, then kill for good, `names` (or the `count` highest-numbered hosts)."""
    current = sorted(live_hosts(namespace), key=host_number)
    victims = names or current[len(current) - count :][::-1]
    unknown = [n for n in victims if n not in current]
    if unknown:
        raise ConfigError(f"no such session host: {', '.join(unknown)}")
    if len(set(victims)) >= len(current):
        raise ConfigError("that would remove every session host: at least one must stay")
    for name in victims:
        handle = ray.get_actor(name, namespace=namespace)
        ray.get(handle.retire.remote(RETIRE_TIMEOUT_S), timeout=RETIRE_TIMEOUT_S + 10)
        ray.kill(handle, no_restart=True)
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while set(victims) & set(live_hosts(namespace)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return victims

"""Where a session belongs: rendezvous hashing over the live session hosts.

The ring is a *hint* (each process refreshes its own view from Ray's named
actors); who actually holds a session is its lease in the store
(`runtime.sessions.session.SessionPool`), so views that disagree for a while cost a
redirect, never a second owner.
"""

from __future__ import annotations

import hashlib

import ray

from .common import HOST_PREFIX


def rendezvous(key: str, nodes: list[str]) -> str:
    """Highest-random-weight choice: stable, and moves few keys when nodes change."""
    return max(nodes, key=lambda n: hashlib.blake2b(f"{n}|{key}".encode(), digest_size=8).digest())


def live_hosts(namespace: str) -> list[str]:
    """The session hosts registered in `namespace`, sorted."""
    return sorted(
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == namespace and a["name"].startswith(HOST_PREFIX)
    )


class Ring:
    """One process's view of the host ring. A host that is leaving (`leave`) is
    out of this view at once, whatever Ray still lists."""

    def __init__(self, namespace: str, default: str, hosts: list[str] | None = None) -> None:
        self.namespace = namespace
        self.hosts = hosts or [default]
        self.left: set[str] = set()

    def refresh(self) -> list[str]:
        found = [h for h in live_hosts(self.namespace) if h not in self.left]
        if found:
            self.hosts = found
        return self.hosts

    def leave(self, name: str) -> None:
        self.left.add(name)
        rest = [h for h in self.hosts if h != name]
        if rest:
            self.hosts = rest

    def owner_of(self, session_id: str) -> str:
        return rendezvous(session_id, self.hosts)

"""CPU accounting: the CPU time of every process of a server's tree, by role.

A snapshot before and after a measured run gives the server CPU per request by
role (gateway, session hosts, Valkey, Ray's own processes, the bare actor),
what the load generator used (this process and its finished children, e.g.
wrk) and how busy the whole machine was, so that other engineers' processes on
the same cores show up as `other_pct`.
"""

from __future__ import annotations

import collections
import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any


def role_of(proc: Any, root_pid: int) -> str:
    if proc.pid == root_pid:
        return "server process"
    try:
        text = " ".join(proc.cmdline()) or proc.name()
    except Exception:
        return "ray system"
    for needle, role in (
        ("SessionHost", "session hosts"),
        ("ProposalRegistry", "proposal registry"),
        ("Responder", "bare actor"),
        ("Sleeper", "bare actor"),
        ("valkey", "valkey"),
    ):
        if needle in text:
            return role
    return "ray system"  # raylet, GCS, dashboard agent, log monitor, idle workers


@dataclass
class CpuSnapshot:
    """CPU seconds of a server's process tree, the load generator and the machine."""

    at: float
    procs: dict[int, tuple[str, float]]
    children_cpu: float  # finished children of this process (wrk)
    self_cpu: float  # this process (the Python load generator) and running load generators
    machine_busy: float
    root_pid: int | None

    @classmethod
    def take(cls, root_pid: int | None, client_pids: tuple[int, ...] = ()) -> CpuSnapshot:
        import resource

        import psutil

        procs: dict[int, tuple[str, float]] = {}
        if root_pid is not None:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(root_pid)
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        t = p.cpu_times()
                        procs[p.pid] = (role_of(p, root_pid), t.user + t.system)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        clients = 0.0  # load generators still running (finished ones are in `kids`)
        for pid in client_pids:
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(pid).cpu_times()
                clients += t.user + t.system
        m = psutil.cpu_times()
        busy = m.user + m.system + m.nice + getattr(m, "irq", 0) + getattr(m, "softirq", 0)
        return cls(
            time.monotonic(),
            procs,
            kids.ru_utime + kids.ru_stime,
            me.ru_utime + me.ru_stime + clients,
            busy + getattr(m, "steal", 0.0),
            root_pid,
        )

    def since(self, before: CpuSnapshot, requests: int) -> dict[str, Any]:
        wall = max(1e-6, self.at - before.at)
        cores = os.cpu_count() or 1
        by_role: collections.Counter[str] = collections.Counter()
        for pid, (role, cpu) in self.procs.items():
            by_role[role] += cpu - before.procs.get(pid, (role, 0.0))[1]
        server = sum(by_role.values())
        client = (self.children_cpu - before.children_cpu) + (self.self_cpu - before.self_cpu)
        machine = self.machine_busy - before.machine_busy
        return {
            "cores": cores,
            "wall_s": wall,
            "server_ms_per_request": 1000 * server / requests,
            "ms_per_request_by_role": {
                k: round(1000 * v / requests, 3) for k, v in by_role.most_common()
            },
            "server_pct": 100 * server / wall,
            "client_pct": 100 * client / wall,
            "machine_busy_pct": 100 * machine / wall,  # like the other *_pct: 100 = one core
            "other_pct": max(0.0, 100 * (machine - server - client) / wall),
        }

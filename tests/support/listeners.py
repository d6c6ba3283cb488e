"""The TCP ports a set of processes listens on, read from `ss -ltnp`.

The loopback-only tests use it to check that nothing Orchestra or its local
Ray starts can be reached from another machine. Ray's daemons are found from
the process that started Ray: the session directory Ray creates for a new
head (/tmp/ray/session_<date>_<time>_<usec>_<pid>) ends with that process's
pid, and every daemon names it on its command line (gcs_server, raylet, the
monitor, the dashboard head, the log monitor); workers and agents, which
rename themselves (`ray::IDLE`, `ray::DashboardAgent`), are their children.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

USERS = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


@dataclass(frozen=True)
class Listener:
    """One listening socket and one process that holds it."""

    host: str  # as `ss` prints it: 127.0.0.1, ::ffff:127.0.0.1, ::1, 0.0.0.0, *, ...
    port: int
    pid: int
    process: str

    @property
    def loopback(self) -> bool:
        try:
            ip = ipaddress.ip_address(self.host.split("%")[0])
        except ValueError:  # `*`: every address
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return ip.ipv4_mapped.is_loopback
        return ip.is_loopback

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.process}, pid {self.pid})"


def listening() -> list[Listener]:
    """Every listening TCP socket on this machine with its owning processes."""
    out = subprocess.run(
        ["ss", "-ltnpH"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        host, _, port = fields[3].rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        for name, pid in USERS.findall(line):
            found.append(Listener(host, int(port), int(pid), name))
    return found


def listeners_of(pids: Iterable[int]) -> list[Listener]:
    wanted = set(pids)
    return [entry for entry in listening() if entry.pid in wanted]


def with_descendants(pids: Iterable[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            out |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            continue
    return out


def ray_processes(starter: int) -> set[int]:
    """The process that started a Ray (`ray.init()`, a Cluster head) and all of that Ray's."""
    session = re.compile(rf"session_\d{{4}}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_{starter}(?!\d)")
    named = set()
    for proc in psutil.process_iter(["cmdline"]):
        if session.search(" ".join(proc.info["cmdline"] or [])):
            named.add(proc.pid)
    return {starter} | with_descendants(named)

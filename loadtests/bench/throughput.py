"""The zero-latency throughput scenario: a, b, b1 and c under the same wrk load.

  a. bare ceiling   `loadtests/bare_app.py`: FastAPI + one call to one Ray actor;
  b. orchestra      `orchestra serve --hosts 2` (ScriptedModel with zero latency):
                    {"text": "what services do you have?"}, one T1 tool call
                    (list_services) per message;
  b1. orchestra     the same with `--hosts 1`;
  c. LangGraph      the peer, {"message": "..."}; its HTTP 500s count as errors.

Each is `--connections` connections for `--duration` seconds after a warm-up,
over `--sessions` sessions created beforehand; the CPU of the server's tree is
read around the measured run. A run with fewer than `STALL_OK_PER_S` successful
responses a second counts as stalled, and py-spy dumps of the server are saved.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Any

from .common import say
from .cpu import CpuSnapshot
from .load import run_load
from .populate import create_sessions, make_tenants, write_targets
from .procs import PROCS
from .profile import dump_stacks, profile_during_load
from .servers import ensure_peer_venv, start_bare, start_peer, start_serve


def measure(
    args: argparse.Namespace,
    label: str,
    url: str,
    targets: Path,
    field: str,
    root_pid: int | None = None,
) -> dict[str, Any]:
    if args.warmup > 0:
        run_load(args, url, targets, field, args.warmup)
    say(f"{label}: {args.connections} connections for {args.duration:g}s ...")
    before = CpuSnapshot.take(root_pid)
    result = run_load(args, url, targets, field, args.duration)
    result["cpu"] = CpuSnapshot.take(root_pid).since(before, max(1, result["requests"]))
    say(
        f"{label}: {result['rps']:.0f} req/s ({result['ok_rps']:.0f} ok/s), "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, errors {result['error_pct']:.2f} % {result['statuses']}"
    )
    if root_pid is not None and result["ok"] < STALL_OK_PER_S * args.duration:
        result["stalled"] = True
        result["stall_dumps"] = dump_stacks(root_pid, Path(targets).parent, label)
        say(
            f"WARNING {label}: only {result['ok']} successful responses in "
            f"{args.duration:g}s: the server stalled; py-spy dumps: {result['stall_dumps']}"
        )
    cpu = result["cpu"]
    say(
        f"{label}: server CPU per request {cpu['server_ms_per_request']:.2f} ms "
        f"{cpu['ms_per_request_by_role']}; CPU busy {cpu['machine_busy_pct']:.0f} % of "
        f"{100 * cpu['cores']} % (servers {cpu['server_pct']:.0f} %, load generator "
        f"{cpu['client_pct']:.0f} %, everything else {cpu['other_pct']:.0f} %)"
    )
    return result


STALL_OK_PER_S = 20  # below this many successful responses a second, a run counts as stalled


# -- phases -----------------------------------------------------------------------------


def phase_bare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    proc, url = start_bare(work)
    try:
        targets = write_targets(
            work / "bare-targets.txt", [(f"s{i}", "") for i in range(args.sessions)]
        )
        return measure(args, "a. bare ceiling", url, targets, "text", proc.popen.pid)
    finally:
        PROCS.stop(proc)


def phase_orchestra(args: argparse.Namespace, work: Path, hosts: int) -> dict[str, Any]:
    serve = start_serve(work, hosts, f"load{hosts}")
    try:
        keys = make_tenants(serve, args.tenants)
        targets = write_targets(
            work / f"orchestra{hosts}-targets.txt",
            create_sessions(serve.url, keys, args.sessions, prefix=f"load{hosts}"),
        )
        label = (
            f"b. orchestra (--hosts {hosts})" if hosts == 2 else f"b1. orchestra (--hosts {hosts})"
        )
        result = measure(args, label, serve.url, targets, "text", serve.gateway_pid())
        result["hosts"] = hosts
        result["tenants"] = args.tenants
        if args.profile and hosts == 2:
            result["profile"] = profile_during_load(args, work, serve, targets)
        return result
    finally:
        PROCS.stop(serve.proc)


def phase_peer(args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    python = ensure_peer_venv(Path(args.venv), Path(args.peer_dir))
    if python is None:
        return None
    proc, url = start_peer(work, python, Path(args.peer_dir))
    try:
        targets = write_targets(
            work / "peer-targets.txt", [(uuid.uuid4().hex, "") for _ in range(args.sessions)]
        )
        return measure(args, "c. LangGraph peer", url, targets, "message", proc.popen.pid)
    finally:
        PROCS.stop(proc)

"""`python -m loadtests.bench`: the options, the order of the phases, the output.

A full run: the peer's venv first (so pip never overlaps a measurement), then
`--rounds` rounds of the zero-latency throughput runs (a, b, c, b1), the
sessions phase (cold start, memory), and the latency scenarios (JSON added
latency at 200 and 1,000 users, bare yardstick, LangGraph, SSE streams).
`--latency` runs the latency scenarios alone; `--skip` drops phases.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import __doc__ as PACKAGE_DOC
from .burst import phase_burst
from .common import DEFAULT_PEER_DIR, DEFAULT_VENV, ROOT, TEXT, say
from .latency import phase_latency
from .plot import plot, render_plot
from .procs import PROCS
from .report import combine_rounds, machine, table, targets_status
from .servers import ensure_peer_venv
from .sessions import phase_sessions
from .throughput import phase_bare, phase_orchestra, phase_peer


def _levels(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m loadtests.bench", description=(PACKAGE_DOC or "").strip().splitlines()[0]
    )
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measured load run")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times the four load runs are repeated (medians are reported)",
    )
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before each run")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--sessions", type=int, default=100, help="session ids the load cycles over")
    p.add_argument("--tenants", type=int, default=25, help="tenants the sessions belong to")
    p.add_argument("--cold", type=int, default=200, help="new sessions for the cold start")
    p.add_argument(
        "--idle",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, 10000],
        help="idle-session counts for the memory figure (comma separated, ascending)",
    )
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument(
        "--skip",
        default="",
        help="phases to skip: bare,orchestra,hosts1,peer,sessions,latency,json,sse,model,burst "
        "(bare, orchestra and peer also leave those paths out of the latency scenarios)",
    )
    p.add_argument(
        "--latency", action="store_true", help="only the latency scenarios (no throughput rounds)"
    )
    p.add_argument(
        "--latency-users",
        type=_levels,
        default=[200, 1000],
        help="concurrent users of the latency runs (comma separated)",
    )
    p.add_argument(
        "--latency-peer-users", type=_levels, default=[200], help="the same, for LangGraph"
    )
    p.add_argument(
        "--latency-warmup", type=float, default=5.0, help="seconds of load before a latency run"
    )
    p.add_argument(
        "--latency-procs", type=int, default=1, help="load generator processes per latency run"
    )
    p.add_argument(
        "--burst", type=int, default=5000, help="first messages sent at once (burst scenario)"
    )
    p.add_argument("--burst-only", action="store_true", help="only the burst scenario")
    p.add_argument("--profile", action="store_true", help="py-spy the gateway and a host")
    p.add_argument("--profile-seconds", type=int, default=12)
    p.add_argument("--peer-dir", default=str(DEFAULT_PEER_DIR))
    p.add_argument("--venv", default=str(DEFAULT_VENV), help="the LangGraph peer's venv")
    p.add_argument("--out", default=str(ROOT / "docs" / "bench" / "latest.json"))
    p.add_argument("--png", default=str(ROOT / "docs" / "bench" / "latest.png"))
    p.add_argument("--workdir", help="keep logs, targets and profiles here (default: a temp dir)")
    p.add_argument("--plot-only", nargs=2, metavar=("JSON", "PNG"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.plot_only:
        data_path, png = (Path(x) for x in args.plot_only)
        plot(json.loads(data_path.read_text()), png)
        return 0
    if args.client == "auto":
        if shutil.which("wrk"):
            args.client = "wrk"
        else:
            say(
                "wrk is not installed (apt-get install -y wrk): falling back to the Python "
                "asyncio + httpx closed-loop client, which competes with the servers for the "
                "CPU, so absolute figures will be lower than with wrk"
            )
            args.client = "python"
    elif args.client == "wrk" and not shutil.which("wrk"):
        say("--client wrk but wrk is not installed: apt-get install -y wrk")
        return 2
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    throughput = not args.latency
    if args.workdir:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="orchestra-bench-"))
    say(f"logs and scratch files in {work}")
    signal.signal(signal.SIGTERM, _interrupt)
    # Also when started in the background (where the shell makes SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    atexit.register(PROCS.stop_all)
    started = time.time()
    data: dict[str, Any] = {
        "started_at": started,
        "machine": machine(),
        "config": {
            "client": args.client,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "sessions": args.sessions,
            "tenants": args.tenants,
            "message": TEXT,
            "model": "scripted, 0 ms latency, one T1 tool call (list_services) per message",
            "latency_users": args.latency_users,
            "latency_peer_users": args.latency_peer_users,
            "latency_procs": args.latency_procs,
        },
        "results": {},
    }
    code = 0
    try:
        peer_python = None
        if "peer" not in skip:  # install first, so that pip does not overlap a measurement
            peer_python = ensure_peer_venv(Path(args.venv), Path(args.peer_dir))
            if peer_python is None:
                skip.add("peer")
        data["rounds"] = []
        for n in range(1, (args.rounds if throughput and not args.burst_only else 0) + 1):
            if args.rounds > 1:
                say(f"-- round {n} of {args.rounds}")
            one: dict[str, Any] = {}
            data["rounds"].append(one)
            profile, args.profile = args.profile, args.profile and n == 1
            if "bare" not in skip:
                one["bare"] = phase_bare(args, work)
            if "orchestra" not in skip:
                one["orchestra"] = phase_orchestra(args, work, hosts=2)
            if "peer" not in skip:
                one["langgraph"] = phase_peer(args, work)
            if "hosts1" not in skip:
                one["orchestra_1host"] = phase_orchestra(args, work, hosts=1)
            args.profile = profile
        if "sessions" not in skip and throughput and not args.burst_only:
            data["sessions"] = phase_sessions(args, work)
        if "latency" not in skip and not args.burst_only:
            data["latency"] = phase_latency(args, work, skip)
        if "burst" not in skip:
            data["burst"] = phase_burst(args, work)
    except KeyboardInterrupt:
        say("interrupted: stopping every server this run started ...")
        code = 130
    finally:
        with no_interrupts():
            PROCS.stop_all()
    if code:
        return code
    data["finished_at"] = time.time()
    combine_rounds(data)
    data["targets"] = targets_status(data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print()
    print(table(data))
    print()
    say(f"wrote {out}")
    if render_plot(out, Path(args.png), Path(args.venv)):
        say(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

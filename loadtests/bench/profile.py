"""py-spy: stack dumps of a stalled server, and a profile of the full path under load.

`--profile` records the gateway and one SessionHost at `PYSPY_RATE` Hz during an
extra wrk run (not a measured one) and `summarise_profile` turns the raw output
into the top frames of the busiest (event-loop) thread.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import TEXT, WRK_SCRIPT, say
from .cpu import role_of

if TYPE_CHECKING:
    from .servers import Serve

PYSPY_RATE = 200


def dump_stacks(root_pid: int, work: Path, label: str) -> list[str]:
    """py-spy dumps (Python and native frames) of a server's Python processes."""
    import psutil

    if shutil.which("py-spy") is None:
        return []
    files = []
    tag = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(root_pid)
        for p in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                role = role_of(p, root_pid)
                if role in ("valkey", "ray system"):
                    continue
                out = work / f"stall-{tag}-{role.replace(' ', '-')}-{p.pid}.txt"
                dump = subprocess.run(
                    ["py-spy", "dump", "--native", "--pid", str(p.pid)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                out.write_text(dump.stdout + dump.stderr)
                files.append(str(out))
    return files


# -- profiling --------------------------------------------------------------------------


def profile_during_load(
    args: argparse.Namespace, work: Path, serve: Serve, targets: Path
) -> dict[str, Any]:
    if shutil.which("py-spy") is None or args.client != "wrk":
        say("profile skipped: needs py-spy and wrk")
        return {"skipped": True}
    hosts = serve.host_processes()
    pids = {"gateway": serve.gateway_pid()}
    if hosts:
        pids["session_host"] = hosts[0].pid
    secs = args.profile_seconds
    load = subprocess.Popen(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{secs + 6}s",
            "-s",
            str(WRK_SCRIPT),
            serve.url,
            "--",
            str(targets),
            "text",
            TEXT,
            str(args.threads),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    out: dict[str, Any] = {"seconds": secs}
    try:
        time.sleep(3)
        say(f"profiling {pids} with py-spy for {secs}s during a wrk run ...")
        spies = {
            name: subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(secs),
                    "--rate",
                    str(PYSPY_RATE),
                    "--threads",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "-o",
                    str(work / f"profile-{name}.raw"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in pids.items()
        }
        for name, spy in spies.items():
            spy.wait(secs + 60)
            raw = work / f"profile-{name}.raw"
            if raw.exists():
                out[name] = summarise_profile(raw, PYSPY_RATE, secs)
    finally:
        with contextlib.suppress(ProcessLookupError):
            load.terminate()
        load.wait(30)
    return out


def summarise_profile(raw: Path, rate: int, seconds: float, top: int = 15) -> dict[str, Any]:
    """Top costs of a py-spy raw profile recorded with --threads.

    Per thread: `busy_pct` = its non-idle samples / (rate x seconds), i.e. how
    much of the wall time that thread was running Python (or native code
    called from it). For the busiest thread (the event loop: "MainThread" in
    the gateway, "AsyncIO Thread: default" in a Ray async actor), the top
    frames by self time and by inclusive time, as % of that thread's wall time.
    """
    threads: dict[str, dict[str, collections.Counter[str]]] = {}
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = re.sub(r"^thread \(\d+\): ?", "", frames[0]) or "?"
        frames = frames[1:] or ["(native)"]
        t = threads.setdefault(
            thread, {"self": collections.Counter(), "inclusive": collections.Counter()}
        )
        totals[thread] += n
        t["self"][frames[-1] or "(native)"] += n
        for frame in set(frames):
            t["inclusive"][frame] += n
    wall = max(1.0, rate * seconds)
    out: dict[str, Any] = {
        "busy_pct_by_thread": {k: round(100.0 * v / wall, 1) for k, v in totals.most_common(8)},
    }
    if not totals:
        return out
    # The event loop's thread: a Ray async actor's "AsyncIO Thread: default", or the
    # gateway's MainThread (uvicorn's loop); otherwise whichever thread was busiest.
    loops = [t for t in totals if t.startswith("AsyncIO Thread")] or [
        t for t in totals if t == "MainThread" and "Worker.main_loop" not in str(threads[t])
    ]
    main = max(loops, key=lambda t: totals[t]) if loops else totals.most_common(1)[0][0]
    ours = re.compile(r"\((?:actors|runtime|gateway)/")

    def share(c: collections.Counter[str], k: int, keep: Any = None) -> list[list[Any]]:
        items = [(f, v) for f, v in c.most_common() if keep is None or keep(f)]
        return [[f, round(100.0 * v / wall, 1)] for f, v in items[:k]]

    out["thread"] = main
    out["top_self"] = share(threads[main]["self"], top)
    out["top_inclusive"] = share(threads[main]["inclusive"], top * 2)
    out["top_inclusive_project"] = share(
        threads[main]["inclusive"], top, lambda f: bool(ours.search(f))
    )
    return out

"""Sessions: cold start and memory per idle hosted session, over HTTP.

A separate `orchestra serve --hosts 2` measures
  * session cold start: latency of the first message of a new session
    (sequential, no other load), next to the second (warm) message, with one
    bare request at a time (HTTP + one Ray call) as the yardstick;
  * memory per idle hosted session: RSS growth of the SessionHost processes
    (children of the serve process whose command line names SessionHost) after
    1,000 and then 10,000 sessions, each created and sent one message.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path
from typing import Any

from .common import TEXT, say
from .populate import create_sessions, make_tenants
from .procs import PROCS
from .servers import start_bare, start_serve


def rss(procs: list[Any]) -> int:
    return sum(p.memory_info().rss for p in procs)


def live_sessions(url: str) -> int:
    import httpx

    text = httpx.get(url + "/metrics", timeout=30).text
    return int(
        sum(float(v) for v in re.findall(r"^orchestra_live_sessions\{[^}]*\} (\S+)$", text, re.M))
    )


def summary(xs: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(xs, n=100)
    return {"p50": statistics.median(xs), "p95": qs[94], "mean": statistics.fmean(xs)}


def bare_request_ms(work: Path, n: int) -> dict[str, float]:
    """The bare ceiling's latency for one request at a time: what HTTP plus one Ray
    call costs on this machine with no load (the cold start's yardstick)."""
    import httpx

    proc, url = start_bare(work)
    try:
        xs = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for i in range(n + 20):
                t0 = time.perf_counter()
                r = client.post(f"/v1/sessions/s{i % 10}/messages", json={"text": TEXT})
                if r.status_code != 200:
                    raise RuntimeError(f"bare request: {r.status_code} {r.text}")
                xs.append((time.perf_counter() - t0) * 1000)
        return summary(xs[20:])  # the first ones warm the connection and the actor
    finally:
        PROCS.stop(proc)


def phase_sessions(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Cold start and memory per idle hosted session, on a fresh `--hosts 2` serve."""
    import httpx

    out: dict[str, Any] = {"hosts": 2, "method": "HTTP (POST /v1/sessions + one message each)"}
    out["bare_request_ms"] = bare_request_ms(work, args.cold)
    say(f"reference: one bare request at a time, p50 {out['bare_request_ms']['p50']:.2f} ms")
    serve = start_serve(work, 2, "sessions")
    try:
        keys = make_tenants(serve, args.tenants)
        hosts = serve.host_processes()
        if not hosts:
            raise RuntimeError("no SessionHost process found under orchestra serve")
        out["host_pids"] = [h.pid for h in hosts]
        # Warm the hosts (imports, agent catalog, store connections) before measuring.
        create_sessions(serve.url, keys, 40, send=TEXT, prefix="warm")

        # Cold start: the first message of a new session vs its second message.
        cold, warm, create = [], [], []
        with httpx.Client(base_url=serve.url, timeout=60) as client:
            for i in range(args.cold):
                headers = {"Authorization": f"Bearer {keys[i % len(keys)]}"}
                t0 = time.perf_counter()
                r = client.post(
                    "/v1/sessions",
                    json={"agent": "chatbot", "subject": f"cold-{i}"},
                    headers=headers,
                )
                t1 = time.perf_counter()
                sid = r.json()["session_id"]
                m1 = client.post(
                    f"/v1/sessions/{sid}/messages", json={"text": TEXT}, headers=headers
                )
                t2 = time.perf_counter()
                m2 = client.post(
                    f"/v1/sessions/{sid}/messages", json={"text": TEXT}, headers=headers
                )
                t3 = time.perf_counter()
                if r.status_code != 201 or m1.status_code != 200 or m2.status_code != 200:
                    raise RuntimeError(
                        f"cold start: {r.status_code} {m1.status_code} {m2.status_code}"
                    )
                create.append((t1 - t0) * 1000)
                cold.append((t2 - t1) * 1000)
                warm.append((t3 - t2) * 1000)

        out["cold_start_ms"] = {
            "n": args.cold,
            "first_message": summary(cold),
            "second_message": summary(warm),
            "create_session": summary(create),
            "first_minus_second_p50": statistics.median(cold) - statistics.median(warm),
        }
        say(
            f"cold start: first message p50 {statistics.median(cold):.2f} ms "
            f"(second message {statistics.median(warm):.2f} ms, "
            f"create {statistics.median(create):.2f} ms)"
        )

        # Memory per idle hosted session.
        time.sleep(1.0)
        base_rss, base_live = rss(hosts), live_sessions(serve.url)
        steps = []
        made = 0
        for target in args.idle:
            n = target - made
            t0 = time.perf_counter()
            create_sessions(serve.url, keys, n, send=TEXT, prefix=f"idle{target}", concurrency=48)
            took = time.perf_counter() - t0
            made = target
            time.sleep(1.0)
            now_rss, now_live = rss(hosts), live_sessions(serve.url)
            added = now_live - base_live
            step = {
                "sessions": target,
                "live_sessions_added": added,
                "host_rss_mb": now_rss / 2**20,
                "rss_growth_mb": (now_rss - base_rss) / 2**20,
                "bytes_per_session": (now_rss - base_rss) / max(1, added),
                "created_per_s": n / took,
            }
            steps.append(step)
            say(
                f"memory: {target} idle sessions ({added} live added): host RSS "
                f"+{step['rss_growth_mb']:.1f} MB = "
                f"{step['bytes_per_session'] / 1024:.1f} KB/session"
            )
        out["memory"] = {
            "baseline_host_rss_mb": base_rss / 2**20,
            "baseline_live_sessions": base_live,
            "steps": steps,
        }
        return out
    finally:
        PROCS.stop(serve.proc)

"""The zero-latency load: wrk (or, without it, a Python closed-loop client).

wrk (`loadtests/wrk/messages.lua`) keeps `--connections` connections busy for
`--duration` seconds, cycling over the sessions of a targets file (one line per
session: id and bearer key), and prints one `WRK_JSON` line with the counts,
latency percentiles and HTTP statuses. Without wrk, an asyncio + httpx client
does the same closed loop from this process (it competes with the servers for
the CPU: expect lower figures).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from .common import TEXT, WRK_SCRIPT


def run_load(
    args: argparse.Namespace, url: str, targets: Path, field: str, duration: float
) -> dict[str, Any]:
    if args.client == "wrk":
        return run_wrk(args, url, targets, field, duration)
    return run_python_client(args, url, targets, field, duration)


def run_wrk(
    args: argparse.Namespace, url: str, targets: Path, field: str, duration: float
) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(targets),
        field,
        TEXT,
        str(args.threads),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    m = re.search(r"^WRK_JSON (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    raw = json.loads(m.group(1))
    secs = raw["duration_us"] / 1e6
    statuses = {int(k): v for k, v in raw["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    lat = raw["latency_us"]
    e = raw["errors"]
    socket_errors = e["connect"] + e["read"] + e["write"] + e["timeout"]
    failed = raw["requests"] - ok + e["timeout"] + e["connect"]
    return {
        "client": "wrk",
        "duration_s": secs,
        "requests": raw["requests"],
        "ok": ok,
        "rps": raw["requests"] / secs,
        "ok_rps": ok / secs,
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p95_ms": lat["p95"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000,
        "mean_ms": lat["mean"] / 1000,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": e,
        "error_pct": 100.0 * failed / max(1, raw["requests"] + e["timeout"] + e["connect"]),
        "socket_error_count": socket_errors,
    }


def run_python_client(
    args: argparse.Namespace, url: str, targets: Path, field: str, duration: float
) -> dict[str, Any]:
    """Closed loop: `connections` workers, each posts, waits for the answer, posts again."""
    import asyncio

    import httpx

    pairs = [line.split() for line in targets.read_text().splitlines() if line.strip()]
    lat: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    errors = 0
    seq = itertools.count()

    async def worker(client: httpx.AsyncClient, stop_at: float) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            sid, key = pairs[next(seq) % len(pairs)]
            headers = {"Authorization": f"Bearer {key}"} if key != "-" else {}
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    f"/v1/sessions/{sid}/messages", json={field: TEXT}, headers=headers
                )
            except httpx.HTTPError:
                errors += 1
                continue
            lat.append((time.perf_counter() - t0) * 1000)
            statuses[r.status_code] += 1

    async def go() -> float:
        limits = httpx.Limits(
            max_connections=args.connections, max_keepalive_connections=args.connections
        )
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            t0 = time.perf_counter()
            stop_at = t0 + duration
            await asyncio.gather(*(worker(client, stop_at) for _ in range(args.connections)))
            return time.perf_counter() - t0

    secs = asyncio.run(go())
    requests = sum(statuses.values())
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    qs = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {
        "client": "python-httpx",
        "duration_s": secs,
        "requests": requests,
        "ok": ok,
        "rps": requests / secs,
        "ok_rps": ok / secs,
        "p50_ms": qs[49],
        "p90_ms": qs[89],
        "p95_ms": qs[94],
        "p99_ms": qs[98],
        "max_ms": max(lat, default=0.0),
        "mean_ms": statistics.fmean(lat) if lat else 0.0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": {"client": errors},
        "error_pct": 100.0 * (requests - ok + errors) / max(1, requests + errors),
        "socket_error_count": errors,
    }

"""Burst: N first messages at once over HTTP (issue 23, "Load never becomes an outage").

`orchestra serve --hosts 2` with rate limits above the burst; `--tenants` tenants,
N chatbot sessions created beforehand (not loaded on any host yet). Then every
session's first message is sent at the same moment, one connection each. Reported:
the time until the last is answered, how many were answered 200, how many were
refused 503 with a `retry_after` (admission control: a correct answer under
overload), and anything else (errors: none expected). Afterwards each host is
asked how many sessions it still holds: a host that fenced itself holds none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .common import say
from .loadgen import Conn
from .populate import create_sessions, make_tenants
from .procs import PROCS
from .servers import start_serve

TEXT = "hello, do you have anything free this week?"
LIMITS = {"ORCHESTRA_RATE_LIMIT_PER_S": "1000000", "ORCHESTRA_RATE_LIMIT_BURST": "1000000"}


async def _burst(url: str, targets: list[tuple[str, str]], timeout_s: float) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps({"text": TEXT}).encode()
    outcomes: dict[str, int] = {}
    last = 0.0
    t0 = time.perf_counter()

    async def one(sid: str, key: str) -> None:
        nonlocal last
        conn = Conn(host, port)
        data = (
            f"POST /v1/sessions/{sid}/messages HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            async with asyncio.timeout(timeout_s):
                status, reply = await conn.request(data)
            if status == 200 and b'"reply"' in reply:
                kind = "answered"
            elif status == 503 and b'"retry_after"' in reply:
                kind = "503 retry-after"
            else:
                kind = f"http {status}"
        except TimeoutError:
            kind = "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            kind = f"connection ({type(exc).__name__})"
        finally:
            conn.close()
        outcomes[kind] = outcomes.get(kind, 0) + 1
        last = max(last, time.perf_counter() - t0)

    await asyncio.gather(*(one(sid, key) for sid, key in targets))
    return {"outcomes": outcomes, "last_answered_s": last}


def _held(url: str) -> float:
    """The sessions the hosts hold now (`orchestra_live_sessions`, summed over hosts)."""
    text = httpx.get(f"{url}/metrics", timeout=30.0).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("orchestra_live_sessions{")
    )


def phase_burst(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    serve = start_serve(work, 2, "burst", env=LIMITS)
    try:
        keys = make_tenants(serve, args.tenants)
        targets = create_sessions(serve.url, keys, args.burst, agent="chatbot", prefix="burst")
        say(f"burst: {len(targets)} first messages at once ...")
        result = asyncio.run(_burst(serve.url, targets, timeout_s=120.0))
        result.update(messages=len(targets), tenants=args.tenants, hosts=2)
        result["sessions_held_after"] = _held(serve.url)
        say(f"burst: {result}")
        return result
    finally:
        PROCS.stop(serve.proc)

"""The latency scenarios' load generator: closed-loop virtual users over raw HTTP/1.1.

    python -m loadtests.bench.loadgen SPEC.json OUT.json

Run as its own process (or a few, each with a slice of the users) by
`loadtests.bench.latency`. Each virtual user owns one session and one
keep-alive connection: it sends a message, waits for the whole reply, and sends
the next one at once (closed loop). Two kinds of message:

* `json`: a turn whose only scheduled time is a sleep of X seconds, drawn by the
  client from a seeded lognormal (each user its own stream of draws, the same
  for every server), so the latency a server adds is exactly observed - X.
  Orchestra gets `!tools slow {"seconds": X}` (the lab agent's T1 tool), the
  bare yardstick `{"seconds": X}` on its sleep endpoint (X inside one Ray
  actor call), the LangGraph peer `!slow X`.
* `sse`: `Accept: text/event-stream`; the arrival time of every `token` event
  is recorded. Token i is due at send + ttft + i / tokens_per_s (the model's
  schedule, sigma 0): the first token's lateness is the TTFT overhead, and
  each token's lateness is its delay from model to client.

Users start spread evenly over `stagger_s` (the SSE turns take a fixed time,
so users started together would stay in lockstep, each wave of messages
arriving in the same millisecond). Only requests sent inside the measured
window (after the warm-up, until `duration_s` later; all processes share one
wall-clock schedule) are counted; the ones in flight at its end are awaited.
The client is asyncio on uvloop with hand-written HTTP/1.1 (httpx costs
several times more CPU per request), and it measures itself: its CPU time in
the window and its event loop's lag (how late a 5 ms sleep wakes up), which
bounds what the client adds.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LAG_TICK_S = 0.005


def draw_sleeps(seed: int, user: int, median: float, sigma: float, cap: float) -> Any:
    """User `user`'s endless, reproducible stream of sleep times (seconds, 0.1 ms grain)."""
    rng = random.Random(seed * 1_000_003 + user)
    while True:
        yield round(min(cap, median * math.exp(rng.gauss(0.0, sigma))), 4)


def message(kind: str, x: float, text: str, plain: bool = False) -> tuple[str, bytes]:
    """(path suffix, JSON body) of one request (`plain`: `text`, whatever `x` is)."""
    if kind == "orchestra":
        slow = x >= 0 and not plain
        body = {"text": f'!tools slow {{"seconds": {x}}}'} if slow else {"text": text}
        return "/messages", json.dumps(body).encode()
    if kind == "bare":
        return "/sleep", json.dumps({"seconds": x}).encode()
    if kind == "peer":
        return "/messages", json.dumps({"message": f"!slow {x}"}).encode()
    raise ValueError(f"unknown kind {kind!r}")


EXPECT = {"orchestra": b'"status":"ok"', "bare": b"slept", "peer": b"Here are your services"}


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, data: bytes, on_chunk: Any = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        assert reader is not None
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.lower()
        body = b""
        if b"transfer-encoding: chunked" in headers:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunk = (await reader.readexactly(size + 2))[:-2]
                if on_chunk is not None:
                    on_chunk(chunk, time.perf_counter())
                else:
                    parts.append(chunk)
            body = b"".join(parts)
        else:
            i = headers.find(b"content-length:")
            if i >= 0:
                n = int(headers[i + 15 : headers.index(b"\r\n", i)])
                body = await reader.readexactly(n)
        if b"connection: close" in headers:
            self.close()
        return status, body


@dataclass
class Results:
    latency_ms: list[float] = field(default_factory=list)
    added_ms: list[float] = field(default_factory=list)
    ttft_overhead_ms: list[float] = field(default_factory=list)
    token_delay_ms: list[float] = field(default_factory=list)
    tokens_per_stream: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lag_ms: list[float] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class SseReader:
    """Token arrival times of one SSE response, frame by frame as chunks arrive."""

    def __init__(self) -> None:
        self.buffer = b""
        self.tokens: list[float] = []
        self.done = False
        self.failed = False

    def feed(self, chunk: bytes, at: float) -> None:
        self.buffer += chunk
        *frames, self.buffer = self.buffer.split(b"\n\n")
        for frame in frames:
            if b"event: token\n" in frame:
                self.tokens.append(at)
            elif b"event: done\n" in frame:
                self.done = True
            elif b"event: error\n" in frame:
                self.failed = True


async def user(spec: dict[str, Any], index: int, window: tuple[float, float], out: Results) -> None:
    """One virtual user: its session, its connection, its closed loop."""
    sid, key = spec["targets"][index]
    target = urlsplit(spec["url"])
    host, port = target.hostname or "127.0.0.1", target.port or 80
    conn = Conn(host, port)
    kind, mode = spec["kind"], spec["mode"]
    sleeps = spec.get("sleep")
    draws = (
        draw_sleeps(sleeps["seed"], index, sleeps["median"], sleeps["sigma"], sleeps["cap"])
        if sleeps
        else None
    )
    auth = f"Authorization: Bearer {key}\r\n" if key and key != "-" else ""
    accept = "Accept: text/event-stream\r\n" if mode == "sse" else ""
    ttft, rate = float(spec.get("ttft_s", 0.0)), float(spec.get("tokens_per_s", 0.0))
    start, stop = window
    timeout = float(spec.get("timeout_s", 60.0))
    # the wall-clock schedule, in this process's perf_counter time
    offset = time.perf_counter() - time.time()
    start, stop = start + offset, stop + offset
    # Users start spread over `stagger_s`: fixed turn times would otherwise keep
    # them in lockstep, every user's message arriving in the same millisecond.
    await asyncio.sleep(float(spec.get("stagger_s", 0.0)) * index / len(spec["targets"]))
    fixed = spec.get("fixed_s")  # a plain message whose turn takes this long (the model)
    while True:
        x = float(fixed) if fixed is not None else next(draws) if draws is not None else -1.0
        suffix, body = message(kind, x, spec.get("text", ""), plain=fixed is not None)
        data = (
            f"POST /v1/sessions/{sid}{suffix} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}{accept}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        sse = SseReader() if mode == "sse" else None
        sent = time.perf_counter()
        if sent >= stop:
            break
        counted = sent >= start
        try:
            async with asyncio.timeout(timeout):
                status, reply = await conn.request(data, sse.feed if sse else None)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            conn.close()
            if counted:
                out.error("connection")
            await asyncio.sleep(0.1)
            continue
        except TimeoutError:
            conn.close()
            if counted:
                out.error("timeout")
            continue
        ended = time.perf_counter()
        if not counted:
            continue
        if status != 200:
            out.error(f"http {status}")
            await asyncio.sleep(0.05)  # a 429 or 503: do not spin
            continue
        if sse is not None:
            if sse.failed or not sse.done or not sse.tokens:
                out.error("stream without done" if not sse.failed else "stream error")
                continue
            out.tokens_per_stream[len(sse.tokens)] = (
                out.tokens_per_stream.get(len(sse.tokens), 0) + 1
            )
            out.ttft_overhead_ms.append((sse.tokens[0] - sent - ttft) * 1000)
            gap = 1.0 / rate if rate > 0 else 0.0
            due = sent + ttft
            out.token_delay_ms.extend((t - due - i * gap) * 1000 for i, t in enumerate(sse.tokens))
        elif (b'"reply"' if fixed is not None else EXPECT[kind]) not in reply:
            out.error("unexpected reply")
            continue
        out.latency_ms.append((ended - sent) * 1000)
        if x >= 0:
            out.added_ms.append((ended - sent - x) * 1000)
    conn.close()


async def lag_probe(window: tuple[float, float], out: Results) -> None:
    """How late this process's event loop wakes up a 5 ms sleep, during the window."""
    await asyncio.sleep(max(0.0, window[0] - time.time()))
    while time.time() < window[1]:
        t0 = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        out.lag_ms.append((time.perf_counter() - t0 - LAG_TICK_S) * 1000)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    window = (
        spec["start_at"] + spec["warmup_s"],
        spec["start_at"] + spec["warmup_s"] + spec["duration_s"],
    )
    out = Results()
    lo, hi = spec.get("slice") or (0, len(spec["targets"]))
    await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
    users = [asyncio.ensure_future(user(spec, i, window, out)) for i in range(lo, hi)]
    probe = asyncio.ensure_future(lag_probe(window, out))
    await asyncio.sleep(max(0.0, window[0] - time.time()))
    cpu0, wall0 = cpu_s(), time.perf_counter()
    await asyncio.sleep(max(0.0, window[1] - time.time()))
    cpu1, wall1 = cpu_s(), time.perf_counter()
    await asyncio.gather(*users, probe)
    return {
        **out.__dict__,
        "users": hi - lo,
        "client_cpu_s": cpu1 - cpu0,
        "window_s": wall1 - wall0,
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        result = runner.run(run(spec))
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
